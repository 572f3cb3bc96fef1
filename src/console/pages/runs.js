// Runs: the recent runs, and one run: what each source did at each stage, its attempts and errors, schema
// drift, a sample of what it quarantined and why, and how it compares with the baseline of its sources'
// recent runs; with its link into the Temporal Web UI.
import { get } from '../api.js';
import { badge, failure, fill, fmt, h, section, table, temporalLink } from '../dom.js';
import { anomalyList } from './overview.js';

const QUARANTINE_SAMPLE = 10;

export async function renderList(page) {
  const runs = await get('/runs', { limit: 30 });
  fill(
    page,
    h('h1', {}, 'Runs'),
    h('p', { class: 'muted' }, `The latest ${runs.data.length} of ${fmt.int(runs.total)} runs.`),
    table(
      [
        ['Run', (r) => h('a', { href: `#/runs/${r.id}` }, `#${r.id}`)],
        ['Status', (r) => badge(r.status)],
        ['Started', (r) => fmt.time(r.started_at)],
        ['Duration', (r) => fmt.ms(r.duration_ms)],
        ['Sources', (r) => r.sources.map((s) => h('span', { class: `chip ${s.status}`, title: s.status }, s.source))],
        [
          'Kind',
          (r) =>
            r.reprocess_of
              ? `reprocess of #${r.reprocess_of}${r.dry_run ? ' (dry run)' : ''}`
              : r.workflow_id.replace(/-[^-]*$/, ''),
        ],
        ['Temporal', (r) => temporalLink(r.ui_url, 'open')],
      ],
      runs.data,
      { className: 'runs', empty: 'No runs yet.' },
    ),
  );
}

export async function render(page, { id }) {
  const [detail, drift, quarantine, baseline, latest] = await Promise.all([
    get(`/runs/${id}`),
    get('/drift-events', { run_id: id, limit: 50 }),
    get('/quarantine', { run_id: id, limit: QUARANTINE_SAMPLE }),
    // the comparison is a costly request: a busy API answers 503, and the rest of the page still shows
    get('/runs/anomalies', { run_id: id }).catch((error) => ({ error })),
    get('/runs', { limit: 1 }),
  ]);
  const newest = latest.data[0]?.id ?? id;
  const run = detail.data;
  fill(
    page,
    h(
      'div',
      { class: 'run-nav' },
      id > 1 ? h('a', { href: `#/runs/${id - 1}` }, `← run ${id - 1}`) : null,
      id < newest ? h('a', { href: `#/runs/${id + 1}` }, `run ${id + 1} →`) : null,
    ),
    h('h1', {}, `Run ${run.id} `, badge(run.status)),
    h(
      'p',
      { class: 'facts' },
      `started ${fmt.time(run.started_at)} (${fmt.relative(run.started_at)}) · `,
      run.finished_at ? `took ${fmt.ms(run.duration_ms)}` : 'running',
      ' · workflow ',
      h('code', {}, run.workflow_id),
      ' · ',
      temporalLink(run.ui_url, 'open in the Temporal Web UI'),
      run.reprocess_of
        ? [' · reprocess of ', h('a', { href: `#/runs/${run.reprocess_of}` }, `run ${run.reprocess_of}`)]
        : null,
      run.dry_run ? ' · dry run: it changed nothing' : null,
    ),
    detail.errors.length
      ? section(
          'Errors',
          h(
            'ul',
            { class: 'errors' },
            detail.errors.map((e) => h('li', {}, e.source ? h('strong', {}, `${e.source}: `) : null, e.message)),
          ),
        )
      : null,
    detail.progress ? section('In progress', progressTable(detail.progress)) : null,
    section('Counts by stage', countsTable(run.sources)),
    section('Attempts and retries', attemptsTable(run.sources)),
    section('Against the baseline', baselineSection(baseline)),
    section('Anomalies stored with the run', anomalyList(detail.anomalies, { empty: 'None.' })),
    section(
      'Schema drift',
      table(
        [
          ['Source', (d) => d.source],
          ['Field', (d) => h('code', {}, d.field)],
          ['Change', (d) => (d.previous_field ? `${d.change} from ${d.previous_field}` : d.change)],
          ['Types', (d) => `${d.previous_type ?? '–'} → ${d.current_type ?? '–'}`],
          ['Action', (d) => d.action],
        ],
        drift.data,
        { empty: 'No drift in this run.' },
      ),
    ),
    section(
      'Quarantine sample',
      quarantineTable(quarantine.data),
      quarantine.next_cursor || quarantine.data.length
        ? h('p', {}, h('a', { href: `#/quarantine?run_id=${id}` }, 'All quarantined records of this run →'))
        : null,
    ),
  );
}

/** One row per source: the stages left to right, fetch to entity linking. */
function countsTable(sources) {
  const n = (field) => (s) => h('span', { class: s[field] ? undefined : 'muted' }, fmt.int(s[field]));
  return table(
    [
      ['Source', (s) => h('strong', {}, s.source)],
      ['Outcome', (s) => badge(s.status)],
      ['Fetched', (s) => `${fmt.int(s.fetched_pages)} pages, ${fmt.bytes(s.fetched_bytes)}`],
      ['Parsed', n('parsed')],
      ['Staged', n('staged')],
      ['Quarantined', (s) => h('span', { class: s.quarantined ? 'warn' : 'muted' }, fmt.int(s.quarantined))],
      ['Duplicates', n('duplicates')],
      ['Inserted', n('inserted')],
      ['Updated', n('updated')],
      ['Unchanged', n('unchanged')],
      ['Soft-deleted', n('soft_deleted')],
      ['Linked', n('entities_linked')],
      ['New entities', n('entities_created')],
      ['Quotes', n('quotes_appended')],
      ['Duration', (s) => fmt.ms(s.duration_ms)],
    ],
    sources,
    { className: 'counts', empty: 'No source has started yet.' },
  );
}

function attemptsTable(sources) {
  return table(
    [
      ['Source', (s) => h('strong', {}, s.source)],
      [
        'Attempts per stage',
        (s) =>
          Object.entries(s.attempts).map(([stage, count]) =>
            h('span', { class: count > 1 ? 'chip retried' : 'chip' }, `${stage} ${count}`),
          ),
      ],
      [
        'Failed attempts',
        (s) =>
          s.attempt_errors.length
            ? h(
                'ul',
                {},
                s.attempt_errors.map((e) => h('li', {}, `${e.stage} #${e.attempt}: ${e.error}`)),
              )
            : h('span', { class: 'muted' }, 'none'),
      ],
      [
        'Warnings',
        (s) =>
          s.warnings.length
            ? h(
                'ul',
                {},
                s.warnings.map((w) => h('li', {}, w)),
              )
            : h('span', { class: 'muted' }, 'none'),
      ],
    ],
    sources,
    { empty: 'No source has started yet.' },
  );
}

function baselineSection(baseline) {
  if (baseline.error) return failure(baseline.error);
  const pair = (field, format) => (s) =>
    h('span', {}, format(s.current[field]), h('span', { class: 'muted' }, ` vs ${format(s.baseline[field])}`));
  return [
    h(
      'p',
      { class: 'muted' },
      `Each source against the median of its last ${baseline.window} succeeded runs before this one.`,
    ),
    table(
      [
        ['Source', (s) => h('strong', {}, s.source)],
        ['Baseline runs', (s) => fmt.int(s.baseline.runs)],
        ['Records', pair('records', fmt.int)],
        ['Quarantined', pair('quarantine_share', (v) => fmt.pct(v))],
        ['Duration', pair('duration_ms', fmt.ms)],
        [
          'Anomalies',
          (s) =>
            s.anomalies.length
              ? s.anomalies.map((a) => h('div', { class: 'warn' }, a.message))
              : h('span', { class: 'muted' }, 'none'),
        ],
      ],
      baseline.sources,
      { className: 'baseline' },
    ),
  ];
}

function progressTable(progress) {
  return table(
    [
      ['Source', (p) => p.source],
      ['Stage', (p) => p.stage],
      ['So far', (p) => fmt.int(p.records)],
      ['Attempt', (p) => fmt.int(p.attempt)],
    ],
    progress,
  );
}

/** Quarantined rows: why, and the fields as the source sent them. */
export function quarantineTable(rows) {
  return table(
    [
      ['Run', (q) => h('a', { href: `#/runs/${q.run_id}` }, `#${q.run_id}`)],
      ['Source', (q) => q.source],
      ['Key', (q) => (q.source_key === null ? h('span', { class: 'muted' }, 'none') : h('code', {}, q.source_key))],
      ['Reason', (q) => h('span', { class: 'reason' }, q.reason)],
      ['Raw fields', (q) => rawFields(q.fields)],
      ['Where', (q) => h('span', { class: 'muted' }, `payload ${q.raw_payload_id} #${q.raw_position}`)],
    ],
    rows,
    { className: 'quarantine', empty: 'Nothing quarantined.' },
  );
}

function rawFields(fields) {
  if (fields === null || typeof fields !== 'object') return h('code', {}, JSON.stringify(fields));
  return h(
    'dl',
    { class: 'fields' },
    Object.entries(fields).map(([k, v]) => [
      h('dt', {}, k),
      h('dd', {}, v === null ? '∅' : typeof v === 'string' ? v : JSON.stringify(v)),
    ]),
  );
}
