// Aggregates behind GET /stats and GET /metrics: plain SQL through the pool, one GROUP BY per question,
// because they are sums, percentiles and DISTINCT ON that MikroORM cannot express well. /metrics reads only
// run_source, run and drift_event (small tables), never record or quarantine, so a scrape stays cheap.
// A reprocess dry run counts nowhere here: it changed nothing, and its rows are only its own report.
import type { Pool } from 'pg';

/** The source runs, quarantined rows and drift events of real runs (every table here names its run as run_id). */
const REAL = (table: 'run_source' | 'quarantine' | 'drift_event' | 'run_anomaly') =>
  `(SELECT t.* FROM ${table} t WHERE NOT EXISTS (SELECT 1 FROM run dr WHERE dr.id = t.run_id AND dr.dry_run))`;
const REAL_RUNS = `(SELECT * FROM run WHERE NOT dry_run)`;

// seconds between two timestamps, never negative (finished_at is written by the worker's clock)
const durationMs = `greatest(0, extract(epoch FROM finished_at - started_at) * 1000)`;

export interface SourceRunStats {
  source: string;
  runs: number;
  succeeded: number;
  unchanged_runs: number;
  failed: number;
  running: number;
  parsed: number;
  inserted: number;
  updated: number;
  unchanged: number;
  quarantined: number;
  soft_deleted: number;
  drift_events: number;
  duration_avg: number | null;
  duration_p50: number | null;
  duration_p95: number | null;
  duration_max: number | null;
}

export interface StatsSnapshot {
  sources: SourceRunStats[];
  /** finished_at in Unix milliseconds. */
  lastSuccess: { source: string; run_id: number; finished_at: number | null }[];
  lastFailure: { source: string; run_id: number; finished_at: number | null; error: string | null }[];
  records: { source: string; kind: 'asset' | 'article'; live: number; deleted: number }[];
  entities: { kind: 'asset' | 'article'; count: number }[];
  quarantine: { source: string; count: number }[];
  drift: {
    source: string;
    change: 'added' | 'removed' | 'type_changed' | 'renamed';
    action: 'applied' | 'reported' | 'quarantined';
    count: number;
  }[];
  runs: { status: 'running' | 'succeeded' | 'partial' | 'failed'; count: number }[];
}

export async function statsSnapshot(pool: Pool): Promise<StatsSnapshot> {
  const q = async <T>(sql: string): Promise<T[]> => (await pool.query(sql)).rows as T[];
  const [sources, lastSuccess, lastFailure, records, entities, quarantine, drift, runs] = await Promise.all([
    q<SourceRunStats>(`
      SELECT source_id AS source,
             count(*)::int AS runs,
             count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded,
             count(*) FILTER (WHERE status = 'unchanged')::int AS unchanged_runs,
             count(*) FILTER (WHERE status = 'failed')::int AS failed,
             count(*) FILTER (WHERE status = 'running')::int AS running,
             coalesce(sum(parsed), 0)::float8 AS parsed,
             coalesce(sum(inserted), 0)::float8 AS inserted,
             coalesce(sum(updated), 0)::float8 AS updated,
             coalesce(sum(unchanged), 0)::float8 AS unchanged,
             coalesce(sum(quarantined), 0)::float8 AS quarantined,
             coalesce(sum(soft_deleted), 0)::float8 AS soft_deleted,
             coalesce(sum(drift_events), 0)::float8 AS drift_events,
             round(avg(d))::float8 AS duration_avg,
             round(percentile_cont(0.5) WITHIN GROUP (ORDER BY d))::float8 AS duration_p50,
             round(percentile_cont(0.95) WITHIN GROUP (ORDER BY d))::float8 AS duration_p95,
             round(max(d))::float8 AS duration_max
      FROM (SELECT *, CASE WHEN finished_at IS NOT NULL AND status <> 'running' THEN ${durationMs} END AS d FROM ${REAL('run_source')} rs) s
      GROUP BY source_id ORDER BY source_id`),
    q<StatsSnapshot['lastSuccess'][number]>(`
      SELECT DISTINCT ON (source_id) source_id AS source, run_id::float8 AS run_id, (extract(epoch FROM finished_at) * 1000)::float8 AS finished_at
      FROM ${REAL('run_source')} s WHERE status IN ('succeeded', 'unchanged') ORDER BY source_id, run_id DESC`),
    q<StatsSnapshot['lastFailure'][number]>(`
      SELECT DISTINCT ON (source_id) source_id AS source, run_id::float8 AS run_id, (extract(epoch FROM finished_at) * 1000)::float8 AS finished_at, error
      FROM ${REAL('run_source')} s WHERE status = 'failed' ORDER BY source_id, run_id DESC`),
    q<StatsSnapshot['records'][number]>(`
      SELECT source_id AS source, kind,
             count(*) FILTER (WHERE deleted_at IS NULL)::float8 AS live,
             count(*) FILTER (WHERE deleted_at IS NOT NULL)::float8 AS deleted
      FROM record GROUP BY source_id, kind ORDER BY source_id, kind`),
    q<StatsSnapshot['entities'][number]>(
      `SELECT kind, count(*)::float8 AS count FROM entity GROUP BY kind ORDER BY kind`,
    ),
    q<StatsSnapshot['quarantine'][number]>(
      `SELECT source_id AS source, count(*)::float8 AS count FROM ${REAL('quarantine')} q GROUP BY source_id ORDER BY source_id`,
    ),
    q<StatsSnapshot['drift'][number]>(`
      SELECT source_id AS source, change, action, count(*)::float8 AS count
      FROM ${REAL('drift_event')} d GROUP BY source_id, change, action ORDER BY source_id, change, action`),
    q<StatsSnapshot['runs'][number]>(
      `SELECT status, count(*)::float8 AS count FROM ${REAL_RUNS} r GROUP BY status ORDER BY status`,
    ),
  ]);
  return { sources, lastSuccess, lastFailure, records, entities, quarantine, drift, runs };
}

export interface DurationHistogram {
  /** Cumulative counts per upper bound (seconds), like Prometheus `le` buckets; +Inf is `count`. */
  buckets: number[];
  sum: number;
  count: number;
}

export interface MetricsSnapshot {
  sources: {
    source: string;
    inserted: number;
    updated: number;
    unchanged: number;
    quarantined: number;
    soft_deleted: number;
    restored: number;
    duplicates: number;
    parsed: number;
    fetched_bytes: number;
    runs_succeeded: number;
    runs_unchanged: number;
    /** Source runs whose payload a later fetch of the source overtook: they merged or deleted nothing. */
    runs_superseded: number;
    runs_failed: number;
    runs_running: number;
    delete_guard_trips: number;
    /** Quarantined records of the source's latest run. */
    last_quarantined: number;
    /** Optional-field values the source's latest run could not keep, or read with an assumption. */
    last_field_issues: number;
    /** Warnings of the source's latest run (an empty payload). */
    last_warnings: number;
    /** Unix seconds of the source's latest succeeded or unchanged outcome. */
    last_success: number | null;
    duration: DurationHistogram;
  }[];
  runs: { status: 'running' | 'succeeded' | 'partial' | 'failed'; count: number }[];
  runDuration: DurationHistogram;
  drift: StatsSnapshot['drift'];
  anomalies: { rule: string; source: string; count: number }[];
}

export async function metricsSnapshot(pool: Pool, bucketsSeconds: readonly number[]): Promise<MetricsSnapshot> {
  const bucketColumns = bucketsSeconds.map((_, i) => `count(d) FILTER (WHERE d <= $${i + 1})`).join(', ');
  const histogram = `ARRAY[${bucketColumns}]::float8[] AS buckets, coalesce(sum(d), 0)::float8 AS sum, count(d)::float8 AS count`;
  const seconds = `greatest(0, extract(epoch FROM finished_at - started_at))`;
  type HistogramRow = { buckets: number[]; sum: number; count: number };
  type SourceRow = Omit<MetricsSnapshot['sources'][number], 'duration'> & HistogramRow;
  const [sources, runs, runDuration, drift, anomalies] = await Promise.all([
    pool.query<SourceRow>(
      `SELECT s.source_id AS source,
              coalesce(sum(inserted), 0)::float8 AS inserted,
              coalesce(sum(updated), 0)::float8 AS updated,
              coalesce(sum(unchanged), 0)::float8 AS unchanged,
              coalesce(sum(quarantined), 0)::float8 AS quarantined,
              coalesce(sum(soft_deleted), 0)::float8 AS soft_deleted,
              coalesce(sum(restored), 0)::float8 AS restored,
              coalesce(sum(duplicates), 0)::float8 AS duplicates,
              coalesce(sum(parsed), 0)::float8 AS parsed,
              coalesce(sum(bytes), 0)::float8 AS fetched_bytes,
              count(*) FILTER (WHERE status = 'succeeded')::float8 AS runs_succeeded,
              count(*) FILTER (WHERE status = 'unchanged')::float8 AS runs_unchanged,
              count(*) FILTER (WHERE status = 'superseded')::float8 AS runs_superseded,
              count(*) FILTER (WHERE status = 'failed')::float8 AS runs_failed,
              count(*) FILTER (WHERE status = 'running')::float8 AS runs_running,
              count(*) FILTER (WHERE delete_guard IS NOT NULL)::float8 AS delete_guard_trips,
              (array_agg(quarantined ORDER BY run_id DESC))[1]::float8 AS last_quarantined,
              (array_agg(field_issues ORDER BY run_id DESC))[1]::float8 AS last_field_issues,
              (array_agg(jsonb_array_length(warnings) ORDER BY run_id DESC))[1]::float8 AS last_warnings,
              extract(epoch FROM max(finished_at) FILTER (WHERE status IN ('succeeded', 'unchanged')))::float8 AS last_success,
              ${histogram}
       FROM (SELECT *, CASE WHEN status <> 'running' AND finished_at IS NOT NULL THEN ${seconds} END AS d FROM ${REAL('run_source')} rs) s
       GROUP BY s.source_id ORDER BY s.source_id`,
      [...bucketsSeconds],
    ),
    pool.query<MetricsSnapshot['runs'][number]>(
      `SELECT status, count(*)::float8 AS count FROM ${REAL_RUNS} r GROUP BY status ORDER BY status`,
    ),
    pool.query<HistogramRow>(
      `SELECT ${histogram} FROM (SELECT CASE WHEN status <> 'running' AND finished_at IS NOT NULL THEN ${seconds} END AS d FROM ${REAL_RUNS} r) r`,
      [...bucketsSeconds],
    ),
    pool.query<MetricsSnapshot['drift'][number]>(
      `SELECT source_id AS source, change, action, count(*)::float8 AS count FROM ${REAL('drift_event')} d GROUP BY source_id, change, action ORDER BY 1, 2, 3`,
    ),
    pool.query<MetricsSnapshot['anomalies'][number]>(
      `SELECT rule, coalesce(source_id, '') AS source, count(*)::float8 AS count FROM ${REAL('run_anomaly')} a GROUP BY 1, 2 ORDER BY 1, 2`,
    ),
  ]);
  const toHistogram = (row: HistogramRow | undefined): DurationHistogram => ({
    buckets: row?.buckets ?? [],
    sum: row?.sum ?? 0,
    count: row?.count ?? 0,
  });
  return {
    sources: sources.rows.map(({ buckets, sum, count, ...totals }) => ({
      ...totals,
      duration: toHistogram({ buckets, sum, count }),
    })),
    runs: runs.rows,
    runDuration: toHistogram(runDuration.rows[0]),
    drift: drift.rows,
    anomalies: anomalies.rows,
  };
}
