// Overview: is the pipeline healthy? Each source's last outcome, live records, quarantined share and
// duration with its last 30 runs as a sparkline; the latest run's anomalies; the schedule; Temporal links.
import { get } from '../api.js';
import { sparkline } from '../charts.js';
import { badge, fill, fmt, h, section, table, temporalLink } from '../dom.js';

const TREND_RUNS = 30;

export async function render(page) {
  // the latest run's details follow its id in the same round as the other reads, not after all of them
  const latestRun = get('/runs', { limit: 1 }).then(async ({ data: [run] }) => ({
    run,
    anomalies: run ? (await get(`/runs/${run.id}`)).anomalies : [],
  }));
  const [sources, trends, health, links, { run: lastRun, anomalies }] = await Promise.all([
    get('/sources'),
    get('/sources/trends', { runs: TREND_RUNS }),
    get('/health'),
    get('/temporal-links'),
    latestRun,
  ]);
  const runsOf = new Map(trends.data.map((t) => [t.source, t.runs]));

  fill(
    page,
    h('h1', {}, 'Overview'),
    h(
      'div',
      { class: 'cards' },
      scheduleCard(health.schedule, links),
      lastRunCard(lastRun),
      h(
        'div',
        { class: 'card' },
        h('h3', {}, 'Temporal Web UI'),
        h('p', {}, temporalLink(links.workflows_url, 'Workflows')),
        h('p', {}, temporalLink(links.schedule_url, `Schedule ${health.schedule?.id ?? ''}`)),
      ),
    ),
    section(
      'Sources',
      table(
        [
          ['Source', (s) => h('span', {}, h('strong', {}, s.id), h('span', { class: 'muted' }, ` ${s.kind}`))],
          ['Last outcome', (s) => (s.last_run ? outcome(s.last_run) : h('span', { class: 'muted' }, 'never run'))],
          ['Live records', (s) => fmt.int(runsOf.get(s.id)?.find((r) => r.live_records !== null)?.live_records)],
          ['Parsed', (s) => fmt.int(s.last_run?.parsed)],
          ['Quarantined', (s) => quarantined(s.last_run)],
          ['Duration', (s) => fmt.ms(duration(s.last_run))],
          [`Last ${TREND_RUNS} runs (duration, status)`, (s) => trend(runsOf.get(s.id) ?? [])],
        ],
        sources.data,
        { className: 'sources', empty: 'No sources configured.' },
      ),
    ),
    section(
      lastRun ? `Open anomalies (run ${lastRun.id})` : 'Open anomalies',
      anomalyList(anomalies, { empty: lastRun ? 'None: the latest run looks like its baseline.' : 'No run yet.' }),
    ),
  );
}

function scheduleCard(schedule, links) {
  if (!schedule)
    return h('div', { class: 'card' }, h('h3', {}, 'Schedule'), h('p', { class: 'error' }, 'Temporal is unreachable'));
  if (!schedule.found)
    return h(
      'div',
      { class: 'card' },
      h('h3', {}, 'Schedule'),
      h('p', { class: 'error' }, `${schedule.id} does not exist`),
    );
  const next = schedule.next_action_times[0];
  return h(
    'div',
    { class: 'card', 'data-schedule': schedule.paused ? 'paused' : 'active' },
    h('h3', {}, 'Schedule ', temporalLink(links.schedule_url, schedule.id)),
    h(
      'p',
      {},
      schedule.paused ? badge('paused') : badge('active'),
      schedule.note ? h('span', { class: 'muted' }, ` ${schedule.note}`) : null,
    ),
    h(
      'p',
      {},
      schedule.paused
        ? 'No runs while paused'
        : next
          ? `Next run ${fmt.relative(next)} (${fmt.time(next)})`
          : 'No next run',
    ),
  );
}

function lastRunCard(run) {
  if (!run) return h('div', { class: 'card' }, h('h3', {}, 'Latest run'), h('p', { class: 'muted' }, 'none yet'));
  return h(
    'div',
    { class: 'card' },
    h('h3', {}, 'Latest run ', h('a', { href: `#/runs/${run.id}` }, `#${run.id}`)),
    h('p', {}, badge(run.status), ` ${fmt.relative(run.started_at)}, ${fmt.ms(run.duration_ms)}`),
    h('p', {}, temporalLink(run.ui_url)),
  );
}

const outcome = (last) =>
  h(
    'span',
    {},
    badge(last.status),
    ' ',
    h('a', { href: `#/runs/${last.run_id}` }, `run ${last.run_id}`),
    h('span', { class: 'muted' }, ` ${fmt.relative(last.started_at)}`),
  );

const duration = (last) =>
  last?.finished_at ? Math.max(0, Date.parse(last.finished_at) - Date.parse(last.started_at)) : null;

function quarantined(last) {
  if (!last) return '–';
  const share = last.parsed > 0 ? last.quarantined / last.parsed : null;
  return h(
    'span',
    { class: share > 0.05 ? 'warn' : undefined },
    `${fmt.pct(share)} `,
    h('span', { class: 'muted' }, `(${fmt.int(last.quarantined)})`),
  );
}

/** The source's runs oldest first: a sparkline of durations and one square per run coloured by its outcome. */
function trend(runs) {
  const oldestFirst = [...runs].reverse();
  const spark = h('div', { class: 'spark' });
  sparkline(
    spark,
    oldestFirst.map((r) => r.duration_ms),
  );
  return h(
    'div',
    { class: 'trend', 'data-runs': oldestFirst.length },
    spark,
    h(
      'div',
      { class: 'strip' },
      oldestFirst.map((r) =>
        h('a', {
          href: `#/runs/${r.run_id}`,
          class: `tick ${r.status}`,
          title: `run ${r.run_id}: ${r.status}, ${fmt.ms(r.duration_ms)}, ${fmt.int(r.parsed)} parsed, ${fmt.pct(r.quarantine_share)} quarantined`,
        }),
      ),
    ),
  );
}

/** Anomalies as a list: each says what it is; a divergence links to its entity. */
export function anomalyList(anomalies, { empty = 'None.' } = {}) {
  if (!anomalies.length) return h('p', { class: 'empty' }, empty);
  return h(
    'ul',
    { class: 'anomalies' },
    anomalies.map((a) =>
      h(
        'li',
        {},
        h('span', { class: `rule ${a.rule}` }, a.rule.replaceAll('_', ' ')),
        ' ',
        a.source ? h('strong', {}, `${a.source}: `) : null,
        a.message,
        a.entity_id ? [' ', h('a', { href: `#/entities/${a.entity_id}` }, 'chart')] : null,
      ),
    ),
  );
}
