// Building the DOM and formatting values. Text always goes in as text (textContent), never as HTML: every
// value shown comes from a source, and a source may send markup.

/**
 * An element: `attrs` sets attributes (`class`, `href`, `data-*`, …), `on*` functions become listeners;
 * children are nodes, strings or numbers (as text), arrays of them, or null/false (left out).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/** Appends children as h() does: null and false are left out (DOM append would write them as text). */
export function fill(el, ...children) {
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** A table: `columns` are [heading, cell(row)] pairs; an empty list says `empty` instead. */
export function table(columns, rows, { empty = 'None.', className } = {}) {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  return h(
    'table',
    { class: className },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        columns.map(([heading]) => h('th', {}, heading)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map((row) =>
        h(
          'tr',
          {},
          columns.map(([, cell]) => h('td', {}, cell(row))),
        ),
      ),
    ),
  );
}

export const section = (title, ...children) => h('section', {}, h('h2', {}, title), ...children);

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 6 });
const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

export const fmt = {
  int: (n) => (n === null || n === undefined ? '–' : integer.format(n)),
  num: (n) => (n === null || n === undefined || n === '' ? '–' : decimal.format(Number(n))),
  compact: (n) => (n === null || n === undefined ? '–' : compact.format(Number(n))),
  pct: (share, digits = 1) => (share === null || share === undefined ? '–' : `${(share * 100).toFixed(digits)} %`),
  bytes: (n) => (n === null || n === undefined ? '–' : `${compact.format(n)}B`),
  ms(ms) {
    if (ms === null || ms === undefined) return '–';
    if (ms < 1000) return `${Math.round(ms)} ms`;
    if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
    return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  },
  /** ISO 8601 as "2026-12-02 18:07:19 UTC": one zone for everyone reading the same page. */
  time: (iso) => (iso ? `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC` : '–'),
  /** How far from now: "in 3 h", "5 min ago". */
  relative(iso) {
    if (!iso) return '';
    const s = (Date.parse(iso) - Date.now()) / 1000;
    const abs = Math.abs(s);
    const text =
      abs < 90
        ? `${Math.round(abs)} s`
        : abs < 5400
          ? `${Math.round(abs / 60)} min`
          : abs < 172_800
            ? `${Math.round(abs / 3600)} h`
            : `${Math.round(abs / 86_400)} d`;
    return s >= 0 ? `in ${text}` : `${text} ago`;
  },
};

/** A status as a coloured badge (the class names are the statuses of runs and source runs). */
export const badge = (status) => h('span', { class: `badge ${status}` }, status);

/** A link into the Temporal Web UI, or a note when there is none (a run whose history Temporal no longer has). */
export const temporalLink = (href, text = 'Temporal Web UI') =>
  href
    ? h('a', { href, target: '_blank', rel: 'noopener', class: 'external' }, text)
    : h(
        'span',
        { class: 'muted', title: 'Temporal no longer has this execution, or no Web UI is configured' },
        'not in Temporal',
      );

/** An error where the content would be, with the API's words. */
export const failure = (error) =>
  h(
    'p',
    { class: 'error', role: 'alert' },
    error?.status ? `${error.status}: ${error.message}` : String(error?.message ?? error),
  );
