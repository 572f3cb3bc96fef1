// Load: one set-based merge from stage_record into record, and the orphan soft-delete. Each runs in one
// transaction that also writes its counts and the Temporal run id to run_source: a retried activity (same
// run id) returns the first attempt's counts instead of merging or deleting twice, while a workflow reset
// (a new run id, e.g. after a bug fix) merges again. Both are safe to repeat: unchanged rows are never
// written, and a record deleted once is not an orphan again.
import type { Pool } from 'pg';
import { transaction } from './sql.ts';
import { RECORD_COLUMNS } from './stage.ts';

export interface MergeCounts {
  staged: number;
  duplicates: number;
  inserted: number;
  updated: number;
  unchanged: number;
  restored: number;
}

const VALUE_COLUMNS = RECORD_COLUMNS.filter((c) => c !== 'kind' && c !== 'source_key');
const WRITTEN_COLUMNS = [...VALUE_COLUMNS, 'match_key', 'content_hash', 'raw_payload_id', 'raw_position'];

// Within-source dedupe: one row per source key, the latest source_updated_at winning, then the later
// position in the payload. Unchanged rows (same content hash, still live) are never written.
const CHANGES = `
incoming AS (
  SELECT DISTINCT ON (source_key) *
  FROM stage_record WHERE run_id = $1 AND source_id = $2
  ORDER BY source_key, source_updated_at DESC NULLS LAST, position DESC
), changed AS (
  SELECT i.*, r.id IS NULL AS is_new, r.deleted_at IS NOT NULL AS was_deleted
  FROM incoming i LEFT JOIN record r ON r.source_id = $2 AND r.source_key = i.source_key
  WHERE r.id IS NULL OR r.content_hash <> i.content_hash OR r.deleted_at IS NOT NULL
)`;
const COUNTS = `
  (SELECT count(*) FROM stage_record WHERE run_id = $1 AND source_id = $2)::int AS staged,
  (SELECT count(*) FROM incoming)::int AS distinct_keys,
  (SELECT count(*) FROM changed WHERE is_new)::int AS inserted,
  (SELECT count(*) FROM changed WHERE NOT is_new AND NOT was_deleted)::int AS updated,
  (SELECT count(*) FROM changed WHERE was_deleted)::int AS restored`;

const MERGE_SQL = `
WITH ${CHANGES}, written AS (
  INSERT INTO record (kind, source_id, source_key, ${WRITTEN_COLUMNS.join(', ')}, run_id, first_run_id)
  SELECT kind, $2, source_key, ${WRITTEN_COLUMNS.join(', ')}, $1, $1 FROM changed
  ON CONFLICT (source_id, source_key) DO UPDATE SET
    ${WRITTEN_COLUMNS.map((c) => `${c} = EXCLUDED.${c}`).join(', ')},
    kind = EXCLUDED.kind, run_id = EXCLUDED.run_id, updated_at = now(), deleted_at = NULL, deleted_run_id = NULL
  RETURNING 1
)
SELECT ${COUNTS}, (SELECT count(*) FROM written)::int AS written`;

export interface MergePreview extends MergeCounts {
  /** Up to 20 keys that would be written, with what would happen to each. */
  sample: { key: string; change: 'insert' | 'update' | 'restore' }[];
}

/** What mergeStaged would do, without writing: the dry run of a reprocess. */
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
  const counts = await transaction(pool, async (client) => {
    // the within-source dedupe sorts every staged row: in memory rather than in temp files
    await client.query(`SET LOCAL work_mem = '64MB'`);
    // one merge per source at a time: a manual run and a scheduled run never interleave their writes
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`merge:${sourceId}`]);
    const done = await client.query<MergeCounts & { merged_in_run: string | null }>(
      `SELECT staged, duplicates, inserted, updated, unchanged, restored, merged_in_run FROM run_source WHERE run_id = $1 AND source_id = $2`,
      [runId, sourceId],
    );
    const previous = done.rows[0];
    if (previous?.merged_in_run === temporalRunId) return pick(previous);

    const { rows } = await client.query(MERGE_SQL, [runId, sourceId]);
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
      `UPDATE run_source SET staged = $3, duplicates = $4, inserted = $5, updated = $6, unchanged = $7, restored = $8, merged_in_run = $9
       WHERE run_id = $1 AND source_id = $2`,
      [runId, sourceId, counts.staged, counts.duplicates, counts.inserted, counts.updated, counts.unchanged, counts.restored, temporalRunId],
    );
    return counts;
  });
  if (counts.inserted + counts.updated + counts.restored >= ANALYZE_AFTER_ROWS) await pool.query('ANALYZE record');
  return counts;
}

export interface OrphanCounts {
  softDeleted: number;
  /** Why deletes were held back, or null when the guard let them through. */
  deleteGuard: string | null;
}

export interface DeleteLimits {
  maxDeleteRatio: number;
  maxQuarantineRatio: number;
  /** Why the snapshot is not the whole source, when it is not. */
  incompleteReason: string | null;
}

/**
 * Soft-deletes live records of a snapshot source that this run's complete fetch no longer contains.
 * A record quarantined in this run is not an orphan: it is still in the source, just unreadable.
 * The delete guard holds every delete when the snapshot is incomplete or empty, when more than maxQuarantineRatio
 * of its records were quarantined, when a quarantined record has no key (it could be any of the orphans),
 * or when the deletes would exceed maxDeleteRatio of the live records.
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
    const guard =
      orphans === 0 ? null
      : limits.incompleteReason ? `held ${orphans} deletes: the snapshot is incomplete (${limits.incompleteReason})`
      // a source that answers with nothing at all is broken, not emptied
      : parsed === 0 ? `held ${orphans} deletes: the snapshot is empty`
      : quarantined > parsed * limits.maxQuarantineRatio ? `held ${orphans} deletes: ${quarantined} of ${parsed} records quarantined (${percent(quarantined / parsed)}): more than max_quarantine_ratio ${percent(limits.maxQuarantineRatio)}`
      : keyless > 0 ? `held ${orphans} deletes: ${keyless} quarantined records have no key, so any orphan may be one of them`
      : orphans > live * limits.maxDeleteRatio ? `held ${orphans} of ${live} live records (${percent(orphans / live)}): more than max_delete_ratio ${percent(limits.maxDeleteRatio)}`
      : null;
    const softDeleted = orphans > 0 && !guard
      ? ((await client.query(`UPDATE record SET deleted_at = now(), deleted_run_id = $1 WHERE id IN (SELECT id FROM orphan)`, [runId])).rowCount ?? 0)
      : 0;
    await client.query('UPDATE run_source SET soft_deleted = $3, delete_guard = $4, orphans_checked_in_run = $5 WHERE run_id = $1 AND source_id = $2', [runId, sourceId, softDeleted, guard, temporalRunId]);
    return { softDeleted, deleteGuard: guard };
  });
}

function countsOf(r: { staged: number; distinct_keys: number; inserted: number; updated: number; restored: number }): MergeCounts {
  return {
    staged: r.staged,
    duplicates: r.staged - r.distinct_keys,
    inserted: r.inserted,
    updated: r.updated,
    restored: r.restored,
    unchanged: r.distinct_keys - r.inserted - r.updated - r.restored,
  };
}

const percent = (ratio: number) => `${Math.round(ratio * 1000) / 10}%`;

function pick(row: MergeCounts): MergeCounts {
  return { staged: row.staged, duplicates: row.duplicates, inserted: row.inserted, updated: row.updated, unchanged: row.unchanged, restored: row.restored };
}
