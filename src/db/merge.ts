// Load: one set-based merge from stage_record into record and the quote time series, and the orphan
// soft-delete. Each runs in one transaction that also writes its counts and the Temporal run id to run_source:
// a retried activity (same run id) returns the first attempt's counts instead of merging or deleting twice,
// while a workflow reset (a new run id, e.g. after a bug fix) merges again. Both are safe to repeat: unchanged
// rows are never written, an observation is keyed by its time, and a record deleted once is not an orphan again.
import type { Pool } from 'pg';
import { deleteGuard, type DeleteLimits } from '../load/delete-guard.ts';
import { OHLC, QUOTE_COLUMNS, RAW_FROM, UPSERT_DAILY, ensurePartitions, stagedMonths } from './quotes.ts';
import { transaction, type Queryable } from './sql.ts';
import { RECORD_COLUMNS, assertStagingIntact } from './stage.ts';

export interface MergeCounts {
  staged: number;
  duplicates: number;
  inserted: number;
  updated: number;
  unchanged: number;
  restored: number;
  /** Asset sources: observations added to the time series, existing ones corrected, and ones rolled up at once. */
  quotesAppended: number;
  quotesRevised: number;
  quotesRolledUp: number;
}

const VALUE_COLUMNS = RECORD_COLUMNS.filter((c) => c !== 'kind' && c !== 'source_key');
const WRITTEN_COLUMNS = [...VALUE_COLUMNS, 'observed_at', 'match_key', 'content_hash', 'raw_payload_id', 'raw_position'];

// Each staged row is an observation of its key at observed_at (the source's timestamp, else the fetch time):
// rows with the same key and the same time are duplicates, the later position winning; the record shows the
// newest observation of its key. A record is written only when that differs from what it holds and is not
// older than what it holds (a reprocessed old payload never moves a record back). One sort serves both.
const CHANGES = `
ranked AS (
  SELECT s.*, row_number() OVER w AS newest, lag(s.observed_at) OVER w IS DISTINCT FROM s.observed_at AS first_at_time
  FROM stage_record s WHERE s.run_id = $1 AND s.source_id = $2
  WINDOW w AS (PARTITION BY s.source_key ORDER BY s.observed_at DESC, s.position DESC)
), incoming AS (
  SELECT * FROM ranked WHERE newest = 1
), current AS (
  SELECT i.*, r.id AS record_id, r.id IS NULL AS is_new, r.deleted_at IS NOT NULL AS was_deleted,
         r.id IS NULL OR r.content_hash <> i.content_hash OR r.deleted_at IS NOT NULL AS differs,
         r.id IS NOT NULL AND i.observed_at < r.observed_at AS is_older
  FROM incoming i LEFT JOIN record r ON r.source_id = $2 AND r.source_key = i.source_key
), changed AS (
  SELECT * FROM current WHERE differs AND NOT is_older
)`;
const COUNTS = `
  (SELECT count(*) FROM stage_record WHERE run_id = $1 AND source_id = $2)::int AS staged,
  (SELECT count(*) FILTER (WHERE CASE WHEN kind = 'asset' THEN first_at_time ELSE newest = 1 END) FROM ranked)::int AS observations,
  (SELECT count(*) FROM incoming)::int AS distinct_keys,
  (SELECT count(*) FROM changed WHERE is_new)::int AS inserted,
  (SELECT count(*) FROM changed WHERE NOT is_new AND NOT was_deleted)::int AS updated,
  (SELECT count(*) FROM changed WHERE was_deleted)::int AS restored`;

const QUOTE_VALUES = QUOTE_COLUMNS.map((c) => `k.${c}`).join(', ');
const QUOTE_EXISTING = QUOTE_COLUMNS.map((c) => `q.${c}`).join(', ');

// The observations of an asset payload, written in the same statement as the records (so it sees the records
// as they were before it). A written record's newest observation comes straight from the rows it wrote
// (RETURNING), so a snapshot's observations cost no join: an unchanged quote writes no record, hence no
// observation. The others are a history's older rows and a newest one older than its record (an old payload
// reprocessed), each with the source's own timestamp. An observation is appended, or corrects the row at its
// time when its values differ; one older than the raw retention goes to the daily rollup instead, when it is
// later than what that day holds.
const QUOTE_ROW = `observed_at, ${QUOTE_COLUMNS.join(', ')}, raw_payload_id, raw_position`;
export const MERGE_SQL = `
WITH ${CHANGES}, written AS (
  INSERT INTO record (kind, source_id, source_key, ${WRITTEN_COLUMNS.join(', ')}, run_id, first_run_id)
  SELECT kind, $2, source_key, ${WRITTEN_COLUMNS.join(', ')}, $1, $1 FROM changed
  ON CONFLICT (source_id, source_key) DO UPDATE SET
    ${WRITTEN_COLUMNS.map((c) => `${c} = EXCLUDED.${c}`).join(', ')},
    kind = EXCLUDED.kind, run_id = EXCLUDED.run_id, updated_at = now(), deleted_at = NULL, deleted_run_id = NULL
  RETURNING id, source_key, kind, ${QUOTE_ROW}
), observed AS (
  SELECT id AS rid, ${QUOTE_ROW} FROM written WHERE kind = 'asset'
  UNION ALL
  SELECT coalesce(c.record_id, w.id), ${QUOTE_ROW.split(', ').map((col) => `o.${col}`).join(', ')}
  FROM ranked o JOIN current c ON c.source_key = o.source_key LEFT JOIN written w ON w.source_key = o.source_key
  WHERE o.newest > 1 AND o.first_at_time AND o.kind = 'asset' AND o.source_updated_at IS NOT NULL
  UNION ALL
  SELECT record_id, ${QUOTE_ROW} FROM current WHERE is_older AND kind = 'asset' AND source_updated_at IS NOT NULL
), fresh AS (
  SELECT k.*, q.record_id IS NULL AS is_new_quote
  FROM observed k LEFT JOIN quote q ON q.record_id = k.rid AND q.observed_at = k.observed_at AND q.observed_at BETWEEN $3 AND $4
  WHERE k.observed_at >= ${RAW_FROM} AND (q.record_id IS NULL OR (${QUOTE_EXISTING}) IS DISTINCT FROM (${QUOTE_VALUES}))
), quoted AS (
  INSERT INTO quote (record_id, observed_at, ${QUOTE_COLUMNS.join(', ')}, run_id, raw_payload_id, raw_position)
  SELECT rid, observed_at, ${QUOTE_COLUMNS.join(', ')}, $1, raw_payload_id, raw_position FROM fresh
  ON CONFLICT (record_id, observed_at) DO UPDATE SET
    ${[...QUOTE_COLUMNS, 'raw_payload_id', 'raw_position'].map((c) => `${c} = EXCLUDED.${c}`).join(', ')}, run_id = EXCLUDED.run_id
  RETURNING 1
), late AS (
  SELECT k.* FROM observed k
  WHERE k.observed_at < ${RAW_FROM}
    AND NOT EXISTS (SELECT 1 FROM quote_daily d WHERE d.record_id = k.rid AND d.day = (k.observed_at AT TIME ZONE 'UTC')::date AND d.last_at >= k.observed_at)
), rolled AS (
  ${UPSERT_DAILY(`SELECT q.rid, (q.observed_at AT TIME ZONE 'UTC')::date, ${OHLC} FROM late q GROUP BY 1, 2`)}
  RETURNING 1
)
SELECT ${COUNTS},
  (SELECT count(*) FROM written)::int AS written,
  (SELECT count(*) FROM fresh WHERE is_new_quote)::int AS quotes_appended,
  (SELECT count(*) FROM fresh WHERE NOT is_new_quote)::int AS quotes_revised,
  (SELECT count(*) FROM late)::int AS quotes_rolled_up,
  (SELECT count(*) FROM quoted)::int AS quotes_written,
  (SELECT count(*) FROM rolled)::int AS days_rolled`;

export interface MergePreview extends MergeCounts {
  /** Up to 20 keys that would be written, with what would happen to each. */
  sample: { key: string; change: 'insert' | 'update' | 'restore' }[];
}

/** What mergeStaged would do to the records, without writing: the dry run of a reprocess. */
export async function previewMerge(pool: Pool, runId: number, sourceId: string): Promise<MergePreview> {
  const { rows } = await pool.query(
    `WITH ${CHANGES}
     SELECT ${COUNTS},
       (SELECT coalesce(jsonb_agg(jsonb_build_object('key', source_key, 'change', CASE WHEN is_new THEN 'insert' WHEN was_deleted THEN 'restore' ELSE 'update' END)), '[]')
        FROM (SELECT * FROM changed ORDER BY source_key LIMIT 20) s) AS sample`,
    [runId, sourceId],
  );
  const r = rows[0]!;
  return { ...countsOf(r), sample: r.sample };
}

/**
 * Rows written before the merged table is analyzed at once: autovacuum would do it within a minute, but the
 * next stages (orphans, identity) and the API's page totals plan with the statistics until then.
 */
export const ANALYZE_AFTER_ROWS = 10_000;

export async function mergeStaged(pool: Pool, runId: number, sourceId: string, kind: string, payloadId: number, temporalRunId: string): Promise<MergeCounts> {
  // partitions lock the parent table to be created: before the merge, not inside its long transaction
  if (kind === 'asset') await ensurePartitions(pool, await stagedMonths(pool, runId, sourceId));
  const counts = await transaction(pool, async (client) => {
    // the within-source dedupe sorts every staged row: in memory rather than in temp files
    await client.query(`SET LOCAL work_mem = '128MB'`);
    // one merge per source at a time: a manual run and a scheduled run never interleave their writes
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`merge:${sourceId}`]);
    const done = await client.query<{ merged_in_run: string | null }>(`SELECT merged_in_run FROM run_source WHERE run_id = $1 AND source_id = $2`, [runId, sourceId]);
    if (done.rows[0]?.merged_in_run === temporalRunId) return mergedCounts(client, runId, sourceId);
    await assertStagingIntact(client, runId, sourceId);

    // the time span of the observations lets the lookup of existing ones skip every other month's partition
    const span = await client.query<{ first: Date | null; last: Date | null }>(
      'SELECT min(observed_at) AS first, max(observed_at) AS last FROM stage_record WHERE run_id = $1 AND source_id = $2',
      [runId, sourceId],
    );
    const { rows } = await client.query(MERGE_SQL, [runId, sourceId, span.rows[0]?.first ?? new Date(0), span.rows[0]?.last ?? new Date(0)]);
    const counts = countsOf(rows[0]);
    // the checkpoint moves only together with the data it describes
    await client.query(
      `INSERT INTO source_state (source_id, kind, last_payload_id, content_hash, etag, last_modified, last_run_id, updated_at)
       SELECT $1, $2, p.id, p.content_hash, p.etag, p.last_modified, $3, now() FROM raw_payload p WHERE p.id = $4
       ON CONFLICT (source_id) DO UPDATE SET kind = EXCLUDED.kind, last_payload_id = EXCLUDED.last_payload_id,
         content_hash = EXCLUDED.content_hash, etag = EXCLUDED.etag, last_modified = EXCLUDED.last_modified,
         last_run_id = EXCLUDED.last_run_id, updated_at = now()`,
      [sourceId, kind, runId, payloadId],
    );
    await client.query(
      `UPDATE run_source SET staged = $3, duplicates = $4, inserted = $5, updated = $6, unchanged = $7, restored = $8,
         quotes_appended = $9, quotes_revised = $10, quotes_rolled_up = $11, merged_in_run = $12
       WHERE run_id = $1 AND source_id = $2`,
      [runId, sourceId, counts.staged, counts.duplicates, counts.inserted, counts.updated, counts.unchanged, counts.restored,
        counts.quotesAppended, counts.quotesRevised, counts.quotesRolledUp, temporalRunId],
    );
    return counts;
  });
  if (counts.inserted + counts.updated + counts.restored >= ANALYZE_AFTER_ROWS) await pool.query('ANALYZE record');
  if (counts.quotesAppended >= ANALYZE_AFTER_ROWS) await pool.query('ANALYZE quote');
  return counts;
}

/** The counts a merge of this (run, source) stored, for a retried attempt. */
async function mergedCounts(client: Queryable, runId: number, sourceId: string): Promise<MergeCounts> {
  const { rows } = await client.query<MergeCounts>(
    `SELECT staged, duplicates, inserted, updated, unchanged, restored, quotes_appended AS "quotesAppended",
       quotes_revised AS "quotesRevised", quotes_rolled_up AS "quotesRolledUp"
     FROM run_source WHERE run_id = $1 AND source_id = $2`,
    [runId, sourceId],
  );
  return rows[0]!;
}

export interface OrphanCounts {
  softDeleted: number;
  /** Why deletes were held back, or null when the guard let them through. */
  deleteGuard: string | null;
}

export type { DeleteLimits };

/**
 * Soft-deletes live records of a snapshot source that this run's complete fetch no longer contains.
 * A record quarantined in this run is not an orphan: it is still in the source, just unreadable.
 * The delete guard (src/load/delete-guard.ts) holds every delete when the snapshot is incomplete or empty, when
 * too many of its records were quarantined or one has no key, or when the deletes would take the source below
 * maxDeleteRatio of its live records, or of the most it had within the baseline window.
 */
export async function softDeleteOrphans(pool: Pool, runId: number, sourceId: string, limits: DeleteLimits, temporalRunId: string): Promise<OrphanCounts> {
  return transaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`merge:${sourceId}`]);
    const done = await client.query<{ soft_deleted: number; delete_guard: string | null; orphans_checked_in_run: string | null; parsed: number; quarantined: number }>(
      'SELECT soft_deleted, delete_guard, orphans_checked_in_run, parsed, quarantined FROM run_source WHERE run_id = $1 AND source_id = $2',
      [runId, sourceId],
    );
    const previous = done.rows[0]!;
    if (previous.orphans_checked_in_run === temporalRunId) return { softDeleted: previous.soft_deleted, deleteGuard: previous.delete_guard };
    // with its staging gone every record would look like an orphan
    await assertStagingIntact(client, runId, sourceId);

    await client.query(
      `CREATE TEMP TABLE orphan ON COMMIT DROP AS
       SELECT r.id FROM record r
       WHERE r.source_id = $2 AND r.deleted_at IS NULL
         AND NOT EXISTS (SELECT 1 FROM stage_record s WHERE s.run_id = $1 AND s.source_id = $2 AND s.source_key = r.source_key)
         AND NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.run_id = $1 AND q.source_id = $2 AND q.source_key = r.source_key)`,
      [runId, sourceId],
    );
    const { rows } = await client.query<{ orphans: number; live: number; keyless: number }>(
      `SELECT (SELECT count(*) FROM orphan)::int AS orphans,
              (SELECT count(*) FROM record WHERE source_id = $2 AND deleted_at IS NULL)::int AS live,
              (SELECT count(*) FROM quarantine WHERE run_id = $1 AND source_id = $2 AND source_key IS NULL)::int AS keyless`,
      [runId, sourceId],
    );
    const { orphans, live, keyless } = rows[0]!;
    const { parsed, quarantined } = previous;
    // the most live records after any run of the window (since an approved shrink, if later): deletes are
    // measured against it, so runs that each stay under the ratio cannot walk the source down
    const history = await client.query<{ window_max: number | null; since: string; approved: boolean }>(
      `WITH w AS (SELECT greatest(coalesce(s.baseline_since, '-infinity'), now() - make_interval(days => $2)) AS since, s.shrink_approved_at IS NOT NULL AS approved
                  FROM source_state s WHERE s.source_id = $1)
       SELECT (SELECT max(rs.live_after) FROM run_source rs JOIN run r ON r.id = rs.run_id
               WHERE rs.source_id = $1 AND rs.live_after IS NOT NULL AND r.started_at >= w.since)::int AS window_max,
              to_char(w.since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS since, w.approved
       FROM w`,
      [sourceId, limits.windowDays],
    );
    const window = history.rows[0];
    const guard = deleteGuard(
      { orphans, live, keyless, parsed, quarantined, baseline: Math.max(live, window?.window_max ?? 0), baselineSince: window?.since ?? 'the first run', shrinkApproved: window?.approved ?? false },
      limits,
    );
    const softDeleted = orphans > 0 && !guard
      ? ((await client.query(`UPDATE record SET deleted_at = now(), deleted_run_id = $1, updated_at = now() WHERE id IN (SELECT id FROM orphan)`, [runId])).rowCount ?? 0)
      : 0;
    // an approval lets one shrink through; the baseline starts again from it
    if (softDeleted > 0 && window?.approved) await client.query('UPDATE source_state SET shrink_approved_at = NULL, baseline_since = now() WHERE source_id = $1', [sourceId]);
    await client.query(
      'UPDATE run_source SET soft_deleted = $3, delete_guard = $4, orphans_checked_in_run = $5, live_after = $6 WHERE run_id = $1 AND source_id = $2',
      [runId, sourceId, softDeleted, guard, temporalRunId, live - softDeleted],
    );
    return { softDeleted, deleteGuard: guard };
  });
}

interface CountRow {
  staged: number;
  observations: number;
  distinct_keys: number;
  inserted: number;
  updated: number;
  restored: number;
  quotes_appended?: number;
  quotes_revised?: number;
  quotes_rolled_up?: number;
}

function countsOf(r: CountRow): MergeCounts {
  return {
    staged: r.staged,
    // only rows with the same key and the same time are duplicates: real history is not
    duplicates: r.staged - r.observations,
    inserted: r.inserted,
    updated: r.updated,
    restored: r.restored,
    unchanged: r.distinct_keys - r.inserted - r.updated - r.restored,
    quotesAppended: r.quotes_appended ?? 0,
    quotesRevised: r.quotes_revised ?? 0,
    quotesRolledUp: r.quotes_rolled_up ?? 0,
  };
}


