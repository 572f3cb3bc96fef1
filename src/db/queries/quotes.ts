// Reads of the quote time series for the API: observations paged by (observed_at, record_id), and buckets
// of 5 minutes to a week with OHLC per source and the cross-source median and spread. Days before the raw
// horizon come from the daily rollup; everything later from the raw partitions.
import type { EntityManager } from '@mikro-orm/postgresql';
import { BUCKET_ORIGIN, OHLC, OHLC_OF_DAYS, QUOTE_COLUMNS } from '../quotes.ts';

/** A series is read through its records: one per source for an entity, or the one record of /data/:id/history. */
export interface SeriesRecord {
  id: number;
  sourceId: string;
}

/** The asset records an entity links (soft-deleted ones too: their history is still what was said). */
export async function entitySeriesRecords(
  em: EntityManager,
  entityId: number,
  source?: string,
): Promise<SeriesRecord[]> {
  return em.getConnection().execute<SeriesRecord[]>(
    `SELECT r.id::float8 AS id, r.source_id AS "sourceId" FROM entity_link l JOIN record r ON r.id = l.record_id
     WHERE l.entity_id = ? AND r.kind = 'asset' ${source ? 'AND r.source_id = ?' : ''} ORDER BY r.source_id, r.id`,
    source ? [entityId, source] : [entityId],
  );
}

/** The newest observation time of these records (a record shows its newest), or null. */
export async function newestObservation(em: EntityManager, recordIds: number[]): Promise<Date | null> {
  if (!recordIds.length) return null;
  const [row] = await em
    .getConnection()
    .execute<{ newest: string | null }[]>(`SELECT max(observed_at) AS newest FROM record WHERE id = ANY(?::bigint[])`, [
      pgArray(recordIds),
    ]);
  return row?.newest ? new Date(row.newest) : null;
}

/** Where the raw series begins (null: nothing was rolled up yet, every observation is raw). */
export async function rawHorizon(em: EntityManager): Promise<Date | null> {
  const [row] = await em
    .getConnection()
    .execute<{ raw_from: string | null }[]>(`SELECT raw_from FROM quote_horizon WHERE id = 1`);
  return row?.raw_from ? new Date(row.raw_from) : null;
}

const isoMicros = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
const snakeToCamel = (c: string) => c.replace(/_(\w)/g, (_, x: string) => x.toUpperCase());

export interface QuoteRow {
  /** ISO 8601 UTC with microseconds: exact, so it can continue a page. */
  observedAt: string;
  recordId: number;
  rank: number | null;
  priceUsd: string | null;
  marketCapUsd: string | null;
  volume24hUsd: string | null;
  circulatingSupply: string | null;
  totalSupply: string | null;
  maxSupply: string | null;
  percentChange24h: string | null;
  openUsd: string | null;
  highUsd: string | null;
  lowUsd: string | null;
  runId: number;
  rawPayloadId: number;
  rawPosition: number;
}

export interface QuotePageRequest {
  recordIds: number[];
  from: Date;
  to: Date;
  limit: number;
  /** Keyset: continue after this (observed_at, record_id). */
  after?: [string, number];
}

/** Observations in [from, to), oldest first, one more than the limit (it tells whether another page exists). */
export async function quotePage(
  em: EntityManager,
  request: QuotePageRequest,
): Promise<{ rows: QuoteRow[]; hasMore: boolean }> {
  if (!request.recordIds.length) return { rows: [], hasMore: false };
  const params: unknown[] = [pgArray(request.recordIds), request.from, request.to];
  let after = '';
  if (request.after) {
    after = 'AND (q.observed_at, q.record_id) > (?::timestamptz, ?)';
    params.push(...request.after);
  }
  // each record's page is read in time order off its index (record_id, observed_at), partition after
  // partition, and the records' pages merged: one ORDER BY over all of them would sort every matching row
  const rows = await em.getConnection().execute<QuoteRow[]>(
    `SELECT ${isoMicros('q.observed_at')} AS "observedAt", q.record_id::float8 AS "recordId",
       ${QUOTE_COLUMNS.map((c) => `q.${c} AS "${snakeToCamel(c)}"`).join(', ')},
       q.run_id::float8 AS "runId", q.raw_payload_id::float8 AS "rawPayloadId", q.raw_position AS "rawPosition"
     FROM unnest(?::bigint[]) AS r(id) CROSS JOIN LATERAL (
       SELECT * FROM quote q WHERE q.record_id = r.id AND q.observed_at >= ? AND q.observed_at < ? ${after}
       ORDER BY q.observed_at LIMIT ${request.limit + 1}) q
     ORDER BY q.observed_at, q.record_id LIMIT ${request.limit + 1}`,
    params,
  );
  return { rows: rows.slice(0, request.limit), hasMore: rows.length > request.limit };
}

export interface BucketRow {
  start: string;
  recordId: number;
  openUsd: string | null;
  highUsd: string | null;
  lowUsd: string | null;
  closeUsd: string | null;
  meanUsd: string | null;
  volume24hUsd: string | null;
  observations: number;
  /** Across the sources of this bucket: the median close, and (max − min) / median; null below two sources. */
  medianUsd: string | null;
  spread: number | null;
}

export const INTERVALS = { '5m': '5 minutes', '1h': '1 hour', '1d': '1 day', '1w': '7 days' } as const;
export type Interval = keyof typeof INTERVALS;

/**
 * One row per (bucket, record) in [from, to), from and to aligned to the interval by the caller. Minutes and
 * hours read the raw observations; days and weeks read the daily rollup before the raw horizon and
 * aggregate the raw observations after it, day by day first, so a week is the same whichever side it is on.
 */
export async function quoteBuckets(
  em: EntityManager,
  recordIds: number[],
  interval: Interval,
  from: Date,
  to: Date,
  rawFrom: Date | null,
): Promise<BucketRow[]> {
  if (!recordIds.length) return [];
  const width = `interval '${INTERVALS[interval]}'`;
  const perRecord =
    interval === '5m' || interval === '1h'
      ? `SELECT date_bin(${width}, q.observed_at, ${BUCKET_ORIGIN}) AS start, q.record_id, ${OHLC}
         FROM quote q WHERE q.record_id = ANY($1::bigint[]) AND q.observed_at >= $2 AND q.observed_at < $3 GROUP BY 1, 2`
      : `SELECT date_bin(${width}, d.day_start, ${BUCKET_ORIGIN}) AS start, d.record_id, ${OHLC_OF_DAYS}
         FROM (
           SELECT (d.day::timestamp AT TIME ZONE 'UTC') AS day_start, d.record_id, d.open_usd, d.high_usd, d.low_usd, d.close_usd, d.mean_usd,
             d.volume_24h_usd, d.market_cap_usd, d.observations, d.first_at, d.last_at
           FROM quote_daily d
           WHERE d.record_id = ANY($1::bigint[]) AND d.day >= ($2::timestamptz AT TIME ZONE 'UTC')::date AND d.day < ($3::timestamptz AT TIME ZONE 'UTC')::date
             AND d.day < ($4::timestamptz AT TIME ZONE 'UTC')::date
           UNION ALL
           SELECT date_bin(interval '1 day', q.observed_at, ${BUCKET_ORIGIN}), q.record_id, ${OHLC}
           FROM quote q WHERE q.record_id = ANY($1::bigint[]) AND q.observed_at >= greatest($2::timestamptz, $4::timestamptz) AND q.observed_at < $3 GROUP BY 1, 2
         ) d GROUP BY 1, 2`;
  const [sql, params] = positional(
    `WITH per_record AS (${perRecord}),
     across AS (
       SELECT start, array_agg(close_usd ORDER BY close_usd) FILTER (WHERE close_usd IS NOT NULL) AS closes FROM per_record GROUP BY start
     ),
     middle AS (
       SELECT start, closes, CASE WHEN cardinality(closes) >= 2 THEN CASE WHEN cardinality(closes) % 2 = 1 THEN closes[(cardinality(closes) + 1) / 2]
         ELSE trim_scale((closes[cardinality(closes) / 2] + closes[cardinality(closes) / 2 + 1]) / 2) END END AS median
       FROM across
     )
     SELECT ${isoMicros('p.start')} AS start, p.record_id::float8 AS "recordId", p.open_usd AS "openUsd", p.high_usd AS "highUsd", p.low_usd AS "lowUsd",
       p.close_usd AS "closeUsd", p.mean_usd AS "meanUsd", p.volume_24h_usd AS "volume24hUsd", p.observations,
       m.median AS "medianUsd", CASE WHEN m.median > 0 THEN round((m.closes[cardinality(m.closes)] - m.closes[1]) / m.median, 6)::float8 END AS spread
     FROM per_record p JOIN middle m ON m.start = p.start
     ORDER BY p.start, p.record_id`,
    // the horizon as a value, not a subquery: the planner then skips every partition outside the range
    [pgArray(recordIds), from, to, rawFrom ?? new Date(0)],
  );
  return em.getConnection().execute<BucketRow[]>(sql, params);
}

/** An array parameter as PostgreSQL's array literal: MikroORM expands a JavaScript array into a list of values. */
const pgArray = (ids: number[]) => `{${ids.map((id) => Math.trunc(id)).join(',')}}`;

/** `$n` placeholders (used more than once) as the `?` placeholders MikroORM's execute takes, with their values in order. */
function positional(sql: string, values: unknown[]): [string, unknown[]] {
  const params: unknown[] = [];
  return [
    sql.replace(/\$(\d+)/g, (_, n: string) => {
      params.push(values[Number(n) - 1]);
      return '?';
    }),
    params,
  ];
}
