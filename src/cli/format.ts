// How the CLI shows things to a person: aligned tables, durations, ages, counts.

/** Columns aligned by the widest cell; numbers (and `-`) right-aligned. Cells are cut to `maxWidth`. */
export function table(header: string[], rows: (string | number | null | undefined)[][], maxWidth = 60): string {
  const cells = rows.map((row) =>
    row.map((c) => cut(c === null || c === undefined ? '-' : typeof c === 'number' ? count(c) : c, maxWidth)),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const numeric = header.map(
    (_, i) => cells.length > 0 && cells.every((r) => /^-?[\d,.]+(%|\/s)?$|^-$/.test(r[i] ?? '')),
  );
  const line = (row: string[]) =>
    row
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header.map((h) => h.toUpperCase())), ...cells.map(line)].join('\n');
}

/** `label  value` lines, labels aligned. */
export function fields(pairs: [string, string | number | null | undefined][]): string {
  const width = Math.max(...pairs.map(([label]) => label.length));
  return pairs
    .map(
      ([label, value]) =>
        `${label.padEnd(width)}  ${value === null || value === undefined ? '-' : typeof value === 'number' ? count(value) : value}`,
    )
    .join('\n');
}

export const count = (n: number) => n.toLocaleString('en-US');

export function cut(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}

/** 850 ms, 4.2 s, 3m 05s, 2h 10m. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  const m = Math.round(s / 60);
  if (m < 48 * 60) return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.round(m / 1440)}d`;
}

/** "3m 05s ago", "in 5h 59m". */
export function relative(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '-';
  const delta = Date.parse(iso) - now;
  return delta >= 0 ? `in ${duration(delta)}` : `${duration(-delta)} ago`;
}

/** An ISO time as a person reads it: `2026-05-01 12:00:03Z`. */
export const when = (iso: string | null | undefined) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');

export const plural = (n: number, word: string) => `${count(n)} ${word}${n === 1 ? '' : 's'}`;
