// The console's charts, drawn by uPlot (served from its npm package): sparklines of recent runs, and an
// asset's bucketed prices per source with the cross-source spread, its volume, and price divergences
// marked. Each chart's uPlot instance is kept on its element (`el.uplot`) for whoever inspects the page.
import uPlot from './vendor/uPlot.esm.js';
import { fmt } from './dom.js';

const PALETTE = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];
export const colorOf = (index) => PALETTE[index % PALETTE.length];

/** Keeps a chart as wide as its element. */
function fitWidth(el, chart, height) {
  new ResizeObserver(() => {
    if (el.clientWidth > 0 && el.clientWidth !== chart.width) chart.setSize({ width: el.clientWidth, height });
  }).observe(el);
}

/** A sparkline: `values` oldest first (null for a gap), no axes, no cursor. */
export function sparkline(el, values, { color = '#2563eb', width = 140, height = 28 } = {}) {
  const xs = values.map((_, i) => i);
  const chart = new uPlot(
    {
      width,
      height,
      pxAlign: false,
      cursor: { show: false },
      legend: { show: false },
      select: { show: false },
      scales: { x: { time: false }, y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
      axes: [{ show: false }, { show: false }],
      series: [
        {},
        { stroke: color, width: 1.5, fill: `${color}22`, spanGaps: false, points: { show: values.length < 3 } },
      ],
    },
    [xs, values],
    el,
  );
  el.uplot = chart;
  return chart;
}

/** Where on the time axis the chart starts and ends: the buckets with one more either side, so one bucket still shows. */
function timeRange(starts, widthSeconds) {
  if (!starts.length) return [Date.now() / 1000 - widthSeconds, Date.now() / 1000];
  return [starts[0] - widthSeconds, starts.at(-1) + 2 * widthSeconds];
}

/**
 * The buckets of GET /entities/:id/quotes as uPlot columns: x (bucket starts, seconds), one close per source,
 * the spread, and one volume per source.
 */
export function bucketColumns(buckets, sources) {
  const x = buckets.map((b) => Date.parse(b.start) / 1000);
  const value = (bucket, source, field) => {
    const found = bucket.sources.find((s) => s.source === source);
    return found?.[field] === null || found?.[field] === undefined ? null : Number(found[field]);
  };
  return {
    x,
    close: sources.map((source) => buckets.map((b) => value(b, source, 'close_usd'))),
    volume: sources.map((source) => buckets.map((b) => value(b, source, 'volume_24h_usd'))),
    spread: buckets.map((b) => b.spread),
  };
}

/**
 * The price chart: one line per source (bucket closes), the spread on its own axis, and a dashed red line at
 * each divergence anomaly's time (`markers`: seconds).
 */
export function priceChart(el, { sources, columns, widthSeconds, markers, height = 320 }) {
  const markerHook = (u) => {
    const { ctx, bbox } = u;
    ctx.save();
    ctx.strokeStyle = '#dc2626';
    ctx.fillStyle = '#dc2626';
    ctx.setLineDash([6, 4]);
    ctx.lineWidth = 1.5 * devicePixelRatio;
    ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
    for (const t of markers) {
      // at the bucket that holds the anomaly's time, where its quotes are drawn
      const start = columns.x.findLast((x) => x <= t) ?? t;
      const x = Math.round(u.valToPos(start, 'x', true));
      if (x < bbox.left || x > bbox.left + bbox.width) continue;
      ctx.beginPath();
      ctx.moveTo(x, bbox.top);
      ctx.lineTo(x, bbox.top + bbox.height);
      ctx.stroke();
      ctx.fillText('divergence', x + 4 * devicePixelRatio, bbox.top + 12 * devicePixelRatio);
    }
    ctx.restore();
  };
  const chart = new uPlot(
    {
      width: el.clientWidth || 800,
      height,
      cursor: { sync: { key: 'entity' } },
      scales: {
        x: { time: true, range: () => timeRange(columns.x, widthSeconds) },
        usd: { auto: true },
        spread: { range: (_u, _min, max) => [0, Math.max(max ?? 0, 0.01) * 1.2] },
      },
      axes: [
        {},
        { scale: 'usd', label: 'USD (close)', size: 70, values: (_u, ticks) => ticks.map(fmt.num) },
        {
          scale: 'spread',
          side: 1,
          size: 60,
          label: 'spread',
          grid: { show: false },
          values: (_u, ticks) => ticks.map((t) => fmt.pct(t, 1)),
        },
      ],
      series: [
        { label: 'time', value: (_u, v) => (v === null ? '–' : fmt.time(new Date(v * 1000).toISOString())) },
        ...sources.map((source, i) => ({
          label: source,
          scale: 'usd',
          stroke: colorOf(i),
          width: 2,
          spanGaps: true,
          points: { size: 7 },
          value: (_u, v) => fmt.num(v),
        })),
        {
          label: 'spread',
          scale: 'spread',
          stroke: '#6b7280',
          dash: [4, 4],
          width: 1.5,
          spanGaps: true,
          points: { size: 5 },
          value: (_u, v) => fmt.pct(v, 2),
        },
      ],
      hooks: { draw: [markerHook] },
    },
    [columns.x, ...columns.close, columns.spread],
    el,
  );
  el.uplot = chart;
  el.dataset.markers = String(markers.length);
  fitWidth(el, chart, height);
  return chart;
}

/** The volume below the price chart: each source's 24 h volume at the end of each bucket. */
export function volumeChart(el, { sources, columns, widthSeconds, height = 140 }) {
  const chart = new uPlot(
    {
      width: el.clientWidth || 800,
      height,
      cursor: { sync: { key: 'entity' } },
      legend: { show: false },
      scales: {
        x: { time: true, range: () => timeRange(columns.x, widthSeconds) },
        y: { range: (_u, _min, max) => [0, (max || 1) * 1.1] },
      },
      axes: [
        {},
        { label: 'volume 24 h', size: 70, values: (_u, ticks) => ticks.map(fmt.compact) },
        // an empty right axis as wide as the price chart's (its size and label) lines both plots up
        { side: 1, size: 90, values: () => [], grid: { show: false } },
      ],
      series: [
        {},
        ...sources.map((source, i) => ({
          label: source,
          stroke: colorOf(i),
          fill: `${colorOf(i)}33`,
          width: 1,
          spanGaps: true,
          points: { size: 6 },
        })),
      ],
    },
    [columns.x, ...columns.volume],
    el,
  );
  el.uplot = chart;
  fitWidth(el, chart, height);
  return chart;
}
