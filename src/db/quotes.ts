// The time series of asset quotes in PostgreSQL: monthly partitions of `quote` created as data needs them,
// the OHLC arithmetic shared by the rollup and the API, and retention: a raw partition past the retention
// period is rolled up into `quote_daily` and dropped whole (a DROP, not a DELETE of millions of rows).
import type { Pool } from 'pg';
import { QUOTE_FIELDS, toSnake } from '../normalize/record.ts';
import { transaction, type Queryable } from './sql.ts';

/** quote's value columns, in QUOTE_FIELDS order. */
export const QUOTE_COLUMNS = QUOTE_FIELDS.map(toSnake);

/** Everything before this is kept only as daily rollups; -infinity until retention first drops a partition. */
export const RAW_FROM = `coalesce((SELECT raw_from FROM quote_horizon WHERE id = 1), '-infinity'::timestamptz)`;

/** Buckets of a week start on Monday (2000-01-03 was one); days, hours and minutes at midnight UTC. */
export const BUCKET_ORIGIN = `TIMESTAMPTZ '2000-01-03 00:00:00+00'`;

const partitionName = (month: Date) =>
  `quote_y${month.getUTCFullYear()}m${String(month.getUTCMonth() + 1).padStart(2, '0')}`;
const monthStart = (d: Date) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
const nextMonth = (d: Date) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));

/**
 * Creates the monthly partitions that observations in these months need, if they do not exist yet. Creating
 * a partition locks the parent table briefly, so it is done before a merge, in its own short transaction.
 */
export async function ensurePartitions(pool: Pool, months: Date[]): Promise<string[]> {
  const wanted = [...new Map(months.map((m) => [partitionName(m), monthStart(m)])).entries()];
  if (!wanted.length) return [];
  const existing = new Set(await partitionNames(pool));
  const missing = wanted.filter(([name]) => !existing.has(name));
  if (!missing.length) return [];
  return transaction(pool, async (client) => {
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('quote-partitions'))`);
    for (const [name, start] of missing) {
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${name} PARTITION OF quote FOR VALUES FROM ('${start.toISOString()}') TO ('${nextMonth(start).toISOString()}')`,
      );
    }
    return missing.map(([name]) => name);
  });
}

/** The raw partitions of quote, oldest first. */
export async function partitionNames(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'quote'::regclass ORDER BY 1`,
  );
  return rows.map((r) => r.name);
}

/** The months of the staged observations of a (run, source) that belong in raw partitions (not older than the horizon). */
export async function stagedMonths(db: Queryable, runId: number, sourceId: string): Promise<Date[]> {
  const { rows } = await db.query<{ month: string | Date }>(
    `SELECT DISTINCT date_trunc('month', observed_at, 'UTC') AS month FROM stage_record
     WHERE run_id = $1 AND source_id = $2 AND kind = 'asset' AND observed_at >= ${RAW_FROM}`,
    [runId, sourceId],
  );
  return rows.map((r) => new Date(r.month));
}

/** The current month and the next `ahead`: partitions exist before the data arrives. */
export function monthsAhead(now: Date, ahead: number): Date[] {
  const months = [monthStart(now)];
  for (let i = 0; i < ahead; i++) months.push(nextMonth(months.at(-1)!));
  return months;
}

/**
 * OHLC of a group of observations (a table aliased `q` with quote's columns): the open and high and low
 * are the source's own when it sends them (a daily history row), else the price; the close is the last
 * price, the mean the average price; volume and market cap are the last ones (24 h rolling figures).
 */
export const OHLC = `
  (array_agg(coalesce(q.open_usd, q.price_usd) ORDER BY q.observed_at) FILTER (WHERE coalesce(q.open_usd, q.price_usd) IS NOT NULL))[1] AS open_usd,
  max(greatest(q.high_usd, q.price_usd)) AS high_usd,
  min(least(q.low_usd, q.price_usd)) AS low_usd,
  (array_agg(q.price_usd ORDER BY q.observed_at DESC) FILTER (WHERE q.price_usd IS NOT NULL))[1] AS close_usd,
  trim_scale(avg(q.price_usd)) AS mean_usd,
  (array_agg(q.volume_24h_usd ORDER BY q.observed_at DESC) FILTER (WHERE q.volume_24h_usd IS NOT NULL))[1] AS volume_24h_usd,
  (array_agg(q.market_cap_usd ORDER BY q.observed_at DESC) FILTER (WHERE q.market_cap_usd IS NOT NULL))[1] AS market_cap_usd,
  count(*)::int AS observations, min(q.observed_at) AS first_at, max(q.observed_at) AS last_at`;

/** The same over daily rows (aliased `d`): combines days into weeks, or a rolled-up day with later observations. */
export const OHLC_OF_DAYS = `
  (array_agg(d.open_usd ORDER BY d.first_at) FILTER (WHERE d.open_usd IS NOT NULL))[1] AS open_usd,
  max(d.high_usd) AS high_usd,
  min(d.low_usd) AS low_usd,
  (array_agg(d.close_usd ORDER BY d.last_at DESC) FILTER (WHERE d.close_usd IS NOT NULL))[1] AS close_usd,
  trim_scale(sum(d.mean_usd * d.observations) / nullif(sum(d.observations) FILTER (WHERE d.mean_usd IS NOT NULL), 0)) AS mean_usd,
  (array_agg(d.volume_24h_usd ORDER BY d.last_at DESC) FILTER (WHERE d.volume_24h_usd IS NOT NULL))[1] AS volume_24h_usd,
  (array_agg(d.market_cap_usd ORDER BY d.last_at DESC) FILTER (WHERE d.market_cap_usd IS NOT NULL))[1] AS market_cap_usd,
  sum(d.observations)::int AS observations, min(d.first_at) AS first_at, max(d.last_at) AS last_at`;

const DAILY_COLUMNS =
  'open_usd, high_usd, low_usd, close_usd, mean_usd, volume_24h_usd, market_cap_usd, observations, first_at, last_at';

/**
 * Adds daily rows (a SELECT yielding record_id, day and DAILY_COLUMNS) to quote_daily. A day that exists
 * already took observations up to its last_at; the new ones are later (callers only pass those), so the
 * two combine: the open stays, the close and last figures move, the mean is weighted by the counts.
 */
export const UPSERT_DAILY = (select: string) => `
  INSERT INTO quote_daily (record_id, day, ${DAILY_COLUMNS}) ${select}
  ON CONFLICT (record_id, day) DO UPDATE SET
    open_usd = coalesce(quote_daily.open_usd, EXCLUDED.open_usd),
    high_usd = greatest(quote_daily.high_usd, EXCLUDED.high_usd),
    low_usd = least(quote_daily.low_usd, EXCLUDED.low_usd),
    close_usd = coalesce(EXCLUDED.close_usd, quote_daily.close_usd),
    mean_usd = trim_scale(CASE WHEN quote_daily.mean_usd IS NULL THEN EXCLUDED.mean_usd WHEN EXCLUDED.mean_usd IS NULL THEN quote_daily.mean_usd
      ELSE (quote_daily.mean_usd * quote_daily.observations + EXCLUDED.mean_usd * EXCLUDED.observations) / (quote_daily.observations + EXCLUDED.observations) END),
    volume_24h_usd = coalesce(EXCLUDED.volume_24h_usd, quote_daily.volume_24h_usd),
    market_cap_usd = coalesce(EXCLUDED.market_cap_usd, quote_daily.market_cap_usd),
    observations = quote_daily.observations + EXCLUDED.observations,
    first_at = least(quote_daily.first_at, EXCLUDED.first_at),
    last_at = greatest(quote_daily.last_at, EXCLUDED.last_at)`;

export interface RetentionOutcome {
  /** The raw partitions rolled up and dropped. */
  dropped: string[];
  /** Daily rows written by the rollups. */
  days: number;
  /** Where the raw series now begins (null: nothing was ever rolled up). */
  rawFrom: string | null;
}

/**
 * Rolls up every raw partition that ended more than `retentionDays` ago into quote_daily and drops it, oldest
 * first, one transaction per partition (the rollup, the horizon and the drop commit together, so a crash
 * never loses a partition that was not rolled up, nor rolls one up twice).
 */
export async function rollUpExpired(
  pool: Pool,
  retentionDays: number,
  now = new Date(),
  onPartition: (name: string) => void = () => {},
): Promise<RetentionOutcome> {
  const cutoff = new Date(now.getTime() - retentionDays * 86_400_000);
  const outcome: RetentionOutcome = { dropped: [], days: 0, rawFrom: null };
  for (const name of await partitionNames(pool)) {
    const end = partitionEnd(name);
    if (!end || end > cutoff) continue;
    const days = await transaction(pool, async (client) => {
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('quote-partitions'))`);
      const exists = await client.query(`SELECT 1 FROM pg_class WHERE relname = $1`, [name]);
      if (!exists.rowCount) return 0; // dropped by a concurrent retention run
      const rolled = await client.query(
        UPSERT_DAILY(
          `SELECT q.record_id, (q.observed_at AT TIME ZONE 'UTC')::date, ${OHLC} FROM ${name} q GROUP BY 1, 2`,
        ),
      );
      await client.query(
        `INSERT INTO quote_horizon (id, raw_from) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET raw_from = greatest(quote_horizon.raw_from, EXCLUDED.raw_from)`,
        [end],
      );
      await client.query(`DROP TABLE ${name}`);
      return rolled.rowCount ?? 0;
    });
    outcome.dropped.push(name);
    outcome.days += days;
    onPartition(name);
  }
  const { rows } = await pool.query<{ raw_from: string | Date | null }>(
    'SELECT raw_from FROM quote_horizon WHERE id = 1',
  );
  outcome.rawFrom = rows[0]?.raw_from ? new Date(rows[0].raw_from).toISOString() : null;
  return outcome;
}

/** The exclusive upper bound of a partition named by partitionName. */
function partitionEnd(name: string): Date | null {
  const m = /^quote_y(\d{4})m(\d{2})$/.exec(name);
  return m ? new Date(Date.UTC(Number(m[1]), Number(m[2]), 1)) : null;
}

export interface QuoteSizes {
  rows: number;
  dailyRows: number;
  partitions: number;
  tableBytes: number;
  indexBytes: number;
  dailyBytes: number;
}

/** Rows and on-disk sizes of the time series, raw partitions summed. */
export async function quoteSizes(db: Queryable): Promise<QuoteSizes> {
  const { rows } = await db.query<{
    rows: string;
    daily_rows: string;
    partitions: number;
    table_bytes: string;
    index_bytes: string;
    daily_bytes: string;
  }>(
    `SELECT (SELECT count(*) FROM quote) AS rows, (SELECT count(*) FROM quote_daily) AS daily_rows,
       (SELECT count(*)::int FROM pg_inherits WHERE inhparent = 'quote'::regclass) AS partitions,
       (SELECT coalesce(sum(pg_table_size(inhrelid)), 0) FROM pg_inherits WHERE inhparent = 'quote'::regclass) AS table_bytes,
       (SELECT coalesce(sum(pg_indexes_size(inhrelid)), 0) FROM pg_inherits WHERE inhparent = 'quote'::regclass) AS index_bytes,
       pg_total_relation_size('quote_daily') AS daily_bytes`,
  );
  const r = rows[0]!;
  return {
    rows: Number(r.rows),
    dailyRows: Number(r.daily_rows),
    partitions: r.partitions,
    tableBytes: Number(r.table_bytes),
    indexBytes: Number(r.index_bytes),
    dailyBytes: Number(r.daily_bytes),
  };
}
