// What a time-series request asks for, resolved before any query runs: the range (defaults ending just
// after the newest observation), buckets aligned to their interval, and the checks that make a bad request a
// 400 naming its parameter: from after to, more than MAX_BUCKETS buckets, minutes or hours before the raw
// horizon (those observations exist only as daily rollups).
import type { Response } from 'express';
import { INTERVALS, type BucketRow, type Interval, type QuoteRow, type SeriesRecord } from '../db/queries/quotes.ts';
import { LIMITS } from '../normalize/limits.ts';
import { badRequest } from './http.ts';
import { MAX_BUCKETS } from './schemas.ts';

const MINUTE = 60_000;
const WIDTH_MS: Record<Interval, number> = {
  '5m': 5 * MINUTE,
  '1h': 60 * MINUTE,
  '1d': 1440 * MINUTE,
  '1w': 7 * 1440 * MINUTE,
};
/** Weeks start on Monday: 2000-01-03 was one. */
const ORIGIN = Date.UTC(2000, 0, 3);
const EARLIEST = LIMITS.observation.earliest;

export interface ResolvedRange {
  from: Date;
  to: Date;
}

const alignDown = (ms: number, width: number) => ORIGIN + Math.floor((ms - ORIGIN) / width) * width;
const alignUp = (ms: number, width: number) => ORIGIN + Math.ceil((ms - ORIGIN) / width) * width;

/**
 * The range of a request. Raw observations: from the earliest to just after the newest unless given. Buckets:
 * `to` rounded up and `from` down to the interval; without `from`, as many buckets back as a request may have.
 */
export function resolveRange(
  interval: 'raw' | Interval,
  query: { from?: Date; to?: Date },
  newest: Date | null,
  rawFrom: Date | null,
  now = new Date(),
): ResolvedRange {
  // timestamps are kept to the microsecond, a Date to the millisecond: one more millisecond includes the newest
  const end = query.to?.getTime() ?? (newest ?? now).getTime() + 1;
  if (interval === 'raw') {
    const from = query.from?.getTime() ?? EARLIEST;
    if (from >= end) throw badRequest([{ name: 'from', reason: 'must be before to' }]);
    return { from: new Date(from), to: new Date(end) };
  }
  const width = WIDTH_MS[interval];
  const to = alignUp(end, width);
  const from = alignDown(query.from?.getTime() ?? Math.max(EARLIEST, to - MAX_BUCKETS * width), width);
  if (query.from && query.to && query.from.getTime() >= query.to.getTime())
    throw badRequest([{ name: 'from', reason: 'must be before to' }]);
  const buckets = Math.round((to - from) / width);
  if (buckets > MAX_BUCKETS) {
    throw badRequest([
      {
        name: 'from',
        reason: `from..to spans ${buckets} buckets of ${interval}, more than ${MAX_BUCKETS}: ask for a wider interval or a shorter span`,
      },
    ]);
  }
  if ((interval === '5m' || interval === '1h') && rawFrom && from < rawFrom.getTime()) {
    throw badRequest([
      {
        name: 'from',
        reason: `observations before ${rawFrom.toISOString()} are kept as daily rollups only: use interval=1d or 1w, or a later from`,
      },
    ]);
  }
  return { from: new Date(from), to: new Date(to) };
}

export const bucketEnd = (start: string, interval: Interval) =>
  new Date(Date.parse(start) + WIDTH_MS[interval]).toISOString();

export function observationJson(row: QuoteRow, sourceOf: Map<number, string>) {
  return {
    observed_at: row.observedAt,
    source: sourceOf.get(row.recordId) ?? '',
    record_id: row.recordId,
    price_usd: row.priceUsd,
    market_cap_usd: row.marketCapUsd,
    volume_24h_usd: row.volume24hUsd,
    circulating_supply: row.circulatingSupply,
    total_supply: row.totalSupply,
    max_supply: row.maxSupply,
    percent_change_24h: row.percentChange24h,
    rank: row.rank,
    open_usd: row.openUsd,
    high_usd: row.highUsd,
    low_usd: row.lowUsd,
    run_id: row.runId,
    raw_payload_id: row.rawPayloadId,
    raw_position: row.rawPosition,
  };
}

/** Bucket rows (one per bucket and record) grouped into buckets, each with its sources. */
export function bucketsJson(rows: BucketRow[], interval: Interval, sourceOf: Map<number, string>) {
  const buckets: {
    start: string;
    end: string;
    sources: {
      source: string;
      record_id: number;
      open_usd: string | null;
      high_usd: string | null;
      low_usd: string | null;
      close_usd: string | null;
      mean_usd: string | null;
      volume_24h_usd: string | null;
      observations: number;
    }[];
    median_usd: string | null;
    spread: number | null;
  }[] = [];
  for (const row of rows) {
    const start = new Date(row.start).toISOString();
    let bucket = buckets.at(-1);
    if (bucket?.start !== start) {
      bucket = { start, end: bucketEnd(start, interval), sources: [], median_usd: row.medianUsd, spread: row.spread };
      buckets.push(bucket);
    }
    bucket.sources.push({
      source: sourceOf.get(row.recordId) ?? '',
      record_id: row.recordId,
      open_usd: row.openUsd,
      high_usd: row.highUsd,
      low_usd: row.lowUsd,
      close_usd: row.closeUsd,
      mean_usd: row.meanUsd,
      volume_24h_usd: row.volume24hUsd,
      observations: row.observations,
    });
  }
  for (const bucket of buckets)
    bucket.sources.sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : a.record_id - b.record_id));
  return buckets;
}

export const sourceMap = (records: SeriesRecord[]) => new Map(records.map((r) => [r.id, r.sourceId]));

// ------------------------------------------------------------------------------------------------ CSV

/** A CSV field: quoted when it holds a comma, quote or line break; text that a spreadsheet would run as a formula is defused. */
function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Writes a CSV body in chunks (a page of 10,000 observations is never one string), with a `Link` to the next page. */
export async function sendCsv(
  res: Response,
  columns: string[],
  rows: Iterable<unknown[]>,
  next?: string,
): Promise<void> {
  res.status(200).type('text/csv; charset=utf-8');
  if (next) res.set('Link', `<${next}>; rel="next"`);
  let chunk = `${columns.join(',')}\r\n`;
  for (const row of rows) {
    chunk += `${row.map(csvField).join(',')}\r\n`;
    if (chunk.length >= 64 * 1024) {
      if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
      chunk = '';
    }
  }
  res.end(chunk);
}

export const OBSERVATION_COLUMNS = [
  'observed_at',
  'source',
  'record_id',
  'price_usd',
  'market_cap_usd',
  'volume_24h_usd',
  'circulating_supply',
  'total_supply',
  'max_supply',
  'percent_change_24h',
  'rank',
  'open_usd',
  'high_usd',
  'low_usd',
  'run_id',
  'raw_payload_id',
  'raw_position',
] as const;
export const BUCKET_COLUMNS = [
  'start',
  'end',
  'source',
  'record_id',
  'open_usd',
  'high_usd',
  'low_usd',
  'close_usd',
  'mean_usd',
  'volume_24h_usd',
  'observations',
  'median_usd',
  'spread',
] as const;

export { INTERVALS };
