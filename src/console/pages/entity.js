// Entities: find an asset or article by symbol or name; then one entity's sources with the evidence of
// each link, and its price over time per source (server-side buckets of 1 h, 1 d or 1 w) with the
// cross-source spread, volume below and the price divergences marked.
import { get } from '../api.js';
import { bucketColumns, priceChart, volumeChart } from '../charts.js';
import { fill, fmt, h, section, table } from '../dom.js';
import { anomalyList } from './overview.js';

const INTERVALS = { '1h': 3600, '1d': 86_400, '1w': 604_800 };
const DEFAULT_INTERVAL = '1d';

function searchForm(q = '') {
  const input = h('input', {
    type: 'search',
    name: 'q',
    value: q,
    placeholder: 'BTC, bitcoin, …',
    'aria-label': 'symbol or name',
  });
  return h(
    'form',
    {
      class: 'search',
      onsubmit: (event) => {
        event.preventDefault();
        const value = input.value.trim();
        window.location.hash = value ? `#/entities?q=${encodeURIComponent(value)}` : '#/entities';
      },
    },
    input,
    h('button', { type: 'submit' }, 'Search'),
  );
}

export async function renderSearch(page, { query }) {
  const q = query.get('q')?.trim() ?? '';
  fill(page, h('h1', {}, 'Entities'), searchForm(q));
  if (!q) {
    // without a query: the entities most sources describe, a useful place to start
    const multi = await get('/entities', { min_sources: 2, limit: 20, kind: 'asset' });
    fill(
      page,
      section(
        'Assets quoted by several sources',
        entityTable(multi.data.map((e) => ({ ...e, live_sources: e.sources.length }))),
      ),
    );
    return;
  }
  const found = await get('/entities/search', { q });
  fill(page, section(`Matches for “${q}”`, entityTable(found.data)));
}

const entityTable = (rows) =>
  table(
    [
      ['Entity', (e) => h('a', { href: `#/entities/${e.id}` }, e.symbol ?? e.title ?? `#${e.id}`)],
      ['Name', (e) => e.name ?? e.title ?? ''],
      ['Kind', (e) => e.kind],
      ['Sources', (e) => fmt.int(e.live_sources)],
    ],
    rows,
    { className: 'entities', empty: 'No entity matches.' },
  );

export async function render(page, { id, query }) {
  const interval = INTERVALS[query.get('interval')] ? query.get('interval') : DEFAULT_INTERVAL;
  const detail = await get(`/entities/${id}`);
  const entity = detail.data;
  const quotes = entity.kind === 'asset' ? await get(`/entities/${id}/quotes`, { interval }) : null;

  fill(
    page,
    searchForm(),
    h(
      'h1',
      {},
      entity.symbol ?? entity.title ?? `Entity ${id}`,
      h('span', { class: 'muted' }, ` ${entity.name ?? ''} · ${entity.kind} · entity ${id}`),
    ),
    h(
      'p',
      {},
      'Sources: ',
      entity.sources.length ? entity.sources.map((s, i) => [i ? ', ' : '', h('strong', {}, s)]) : 'none live',
    ),
  );
  if (quotes) fill(page, chartSection(id, interval, quotes, detail.anomalies));
  fill(
    page,
    section(
      'Records and link evidence',
      table(
        [
          ['Source', (r) => h('strong', {}, r.record.source)],
          [
            'Key',
            (r) => h('a', { href: `data/${r.record.id}`, target: '_blank', rel: 'noopener' }, r.record.source_key),
          ],
          ['Symbol / name', (r) => `${r.record.symbol ?? ''} ${r.record.name ?? r.record.title ?? ''}`],
          ['Price', (r) => (r.record.kind === 'asset' ? fmt.num(r.record.price_usd) : '')],
          ['Observed', (r) => fmt.time(r.record.observed_at ?? r.record.published_at)],
          ['Linked by', (r) => h('span', {}, h('code', {}, r.link.rule), ` ${fmt.pct(r.link.confidence, 0)}`)],
          ['Evidence', (r) => evidence(r.link.evidence)],
        ],
        detail.records,
        { className: 'records' },
      ),
    ),
    section('Price divergences', anomalyList(detail.anomalies, { empty: 'None: its sources agree.' })),
  );
}

function chartSection(id, interval, quotes, anomalies) {
  const sources = [...new Set(quotes.data.flatMap((b) => b.sources.map((s) => s.source)))].sort();
  const columns = bucketColumns(quotes.data, sources);
  // a divergence is marked at the newest quote it compared
  const markers = anomalies
    .filter((a) => a.rule === 'price_divergence')
    .map((a) => Math.max(...(a.details?.quotes ?? []).map((q) => Date.parse(q.observed_at) / 1000)))
    .filter(Number.isFinite);
  const price = h('div', { class: 'chart', id: 'price-chart', 'data-series': sources.join(',') });
  const volume = h('div', { class: 'chart', id: 'volume-chart' });
  const picker = h(
    'div',
    { class: 'picker', role: 'group', 'aria-label': 'interval' },
    Object.keys(INTERVALS).map((i) =>
      h(
        'a',
        {
          href: `#/entities/${id}?interval=${i}`,
          class: i === interval ? 'active' : undefined,
          'aria-current': i === interval ? 'true' : undefined,
        },
        i,
      ),
    ),
  );
  const legend = h(
    'p',
    { class: 'muted' },
    `${quotes.data.length} bucket${quotes.data.length === 1 ? '' : 's'} of ${interval}, ${fmt.time(quotes.from)} – ${fmt.time(quotes.to)}; `,
    'closes per source, the spread (highest − lowest close) / median dashed on the right axis',
    markers.length ? ', price divergences as red dashed lines' : '',
    quotes.raw_from ? `; before ${fmt.time(quotes.raw_from)} from daily rollups` : '',
  );
  const wrapper = section(
    'Price over time',
    h('div', { class: 'chart-head' }, picker, legend),
    price,
    h('h3', {}, 'Volume (24 h, per source)'),
    volume,
  );
  if (!quotes.data.length) {
    wrapper.append(h('p', { class: 'empty' }, 'No quotes in this range.'));
    return wrapper;
  }
  priceChart(price, { sources, columns, widthSeconds: INTERVALS[interval], markers });
  volumeChart(volume, { sources, columns, widthSeconds: INTERVALS[interval] });
  return wrapper;
}

/** A link's evidence as "name: Bitcoin ≈ Bitcoin · symbol: BTC = BTC · …". */
function evidence(value) {
  const entries = Object.entries(value ?? {});
  if (!entries.length) return h('span', { class: 'muted' }, '–');
  return h(
    'span',
    { class: 'evidence' },
    entries.map(([key, v], i) => [
      i ? ' · ' : '',
      h('span', { class: 'muted' }, `${key}: `),
      Array.isArray(v) ? v.join(' / ') : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v),
    ]),
  );
}
