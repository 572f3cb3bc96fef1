// Load: one set-based merge from stage_record into record and the quote time series, and the orphan
// soft-delete. Each runs in one transaction that also writes its counts and the Temporal run id to run_source:
// a retried activity (same run id) returns the first attempt's counts instead of merging or deleting twice,
// while a workflow reset (a new run id, e.g. after a bug fix) merges again. Both are safe to repeat: unchanged
// rows are never written, an observation is keyed by its time, and a record deleted once is not an orphan again.
//
// Runs of one source are ordered by when their payloads were fetched, not by when they happen to merge: a
// payload fetched before the one the source last merged (a manual run overtaken by a scheduled one) is
// superseded, and merges and deletes nothing; a reprocess of such an older payload only corrects what that
// payload itself wrote (see payloadStanding).
import type { Pool } from 'pg';
import { deleteGuard, type DeleteLimits } from '../load/delete-guard.ts';
import { OHLC, QUOTE_COLUMNS, RAW_FROM, UPSERT_DAILY, ensurePartitions, stagedMonths } from './quotes.ts';
import { transaction, type Queryable } from './sql.ts';
import { RECORD_COLUMNS, STAGE_COLUMNS, assertStagingIntact } from './stage.ts';

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
  /** Why nothing was merged: the source had merged a payload fetched later already (an ingest run). */
  superseded?: string;
  /** Why only the records this payload had written were corrected: a reprocess of an older payload. */
  limited?: string;
}

const VALUE_COLUMNS = RECORD_COLUMNS.filter((c) => c !== 'kind' && c !== 'source_key');
const WRITTEN_COLUMNS = [
  ...VALUE_COLUMNS,
  'observed_at',
  'match_key',
  'content_hash',
  'raw_payload_id',
  'raw_position',
];

// Each staged row is an observation of its key at observed_at (the source's timestamp, else the fetch time):
// rows with the same key and the same time are duplicates, the later position winning; the record shows the
// newest observation of its key. A record is written only when that differs from what it holds and is not
// older than what it holds (a reprocessed old payload never moves a record back). One sort serves both.
// Scope `own` (a reprocess of a payload fetched before the source's last merged one) writes only live records
// whose current value came from this very payload: never a new one, never one a later run deleted or wrote.
export type MergeScope = 'all' | 'own';
// a payload normalized in parts: its staged rows' positions are the parts' own until shifted (see placeParts)
const STAGED_COLUMNS = STAGE_COLUMNS.filter((c) => c !== 'raw_position')
  .map((c) => `s.${c}`)
  .join(', ');
const changes = (scope: MergeScope) => `
parts AS (
  SELECT (normalize_plan->>'stride')::int AS stride,
         ARRAY(SELECT jsonb_array_elements_text(normalize_plan->'shifts')::int) AS shifts
  FROM run_source WHERE run_id = $1 AND source_id = $2 AND normalize_plan ? 'shifts'
), ranked AS (
  SELECT ${STAGED_COLUMNS}, s.raw_position - coalesce(p.shifts[s.position / p.stride + 1], 0) AS raw_position,
         row_number() OVER w AS newest, lag(s.observed_at) OVER w IS DISTINCT FROM s.observed_at AS first_at_time
  FROM stage_record s LEFT JOIN parts p ON true WHERE s.run_id = $1 AND s.source_id = $2
  WINDOW w AS (PARTITION BY s.source_key ORDER BY s.observed_at DESC, s.position DESC)
), incoming AS (
  SELECT * FROM ranked WHERE newest = 1
), current AS (
  SELECT i.*, r.id AS record_id, r.id IS NULL AS is_new, r.deleted_at IS NOT NULL AS was_deleted,
         r.id IS NULL OR r.content_hash <> i.content_hash OR r.deleted_at IS NOT NULL AS differs,
         r.id IS NOT NULL AND i.observed_at < r.observed_at AS is_older,
         r.id IS NOT NULL AND r.deleted_at IS NULL AND r.raw_payload_id = i.raw_payload_id AS is_own
  FROM incoming i LEFT JOIN record r ON r.source_id = $2 AND r.source_key = i.source_key
), changed AS (
  SELECT * FROM current WHERE differs AND ${scope === 'all' ? 'NOT is_older' : 'is_own'}
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
// Scope `own` writes with an UPDATE of the records it found (so it cannot insert), adds observations only to
// live records, and corrects an existing observation only when this payload wrote it.
const QUOTE_ROW = `observed_at, ${QUOTE_COLUMNS.join(', ')}, raw_payload_id, raw_position`;
const WRITE_ALL = `
  INSERT INTO record (kind, source_id, source_key, ${WRITTEN_COLUMNS.join(', ')}, run_id, first_run_id)
  SELECT kind, $2, source_key, ${WRITTEN_COLUMNS.join(', ')}, $1, $1 FROM changed
  ON CONFLICT (source_id, source_key) DO UPDATE SET
    ${WRITTEN_COLUMNS.map((c) => `${c} = EXCLUDED.${c}`).join(', ')},
    kind = EXCLUDED.kind, run_id = EXCLUDED.run_id, updated_at = now(), deleted_at = NULL, deleted_run_id = NULL
  RETURNING id, source_key, kind, ${QUOTE_ROW}`;
const WRITE_OWN = `
  UPDATE record r SET ${WRITTEN_COLUMNS.map((c) => `${c} = c.${c}`).join(', ')}, run_id = $1, updated_at = now()
  FROM changed c
  WHERE r.id = c.record_id AND r.deleted_at IS NULL AND r.raw_payload_id = c.raw_payload_id
  RETURNING r.id, r.source_key, r.kind, ${QUOTE_ROW.split(', ')
    .map((col) => `r.${col}`)
    .join(', ')}`;
// named in its first line: pg_stat_activity shows only the first kilobyte of a statement
const mergeSql = (scope: MergeScope) => `/* merge ${scope} */
WITH ${changes(scope)}, written AS (${scope === 'all' ? WRITE_ALL : WRITE_OWN}
), observed AS (
  SELECT id AS rid, ${QUOTE_ROW} FROM written WHERE kind = 'asset'
  UNION ALL
  SELECT coalesce(c.record_id, w.id), ${QUOTE_ROW.split(', ')
    .map((col) => `o.${col}`)
    .join(', ')}
  FROM ranked o JOIN current c ON c.source_key = o.source_key LEFT JOIN written w ON w.source_key = o.source_key
  WHERE o.newest > 1 AND o.first_at_time AND o.kind = 'asset' AND o.source_updated_at IS NOT NULL
  UNION ALL
  SELECT record_id, ${QUOTE_ROW} FROM current WHERE is_older AND kind = 'asset' AND source_updated_at IS NOT NULL
), fresh AS (
  SELECT k.*, q.record_id IS NULL AS is_new_quote
  FROM observed k LEFT JOIN quote q ON q.record_id = k.rid AND q.observed_at = k.observed_at AND q.observed_at BETWEEN $3 AND $4
  WHERE k.observed_at >= ${RAW_FROM} AND (q.record_id IS NULL OR (${QUOTE_EXISTING}) IS DISTINCT FROM (${QUOTE_VALUES}))${
    scope === 'all'
      ? ''
      : `
    AND k.rid IN (SELECT record_id FROM current WHERE NOT is_new AND NOT was_deleted)
    AND (q.record_id IS NULL OR q.raw_payload_id = k.raw_payload_id)`
  }
), quoted AS (
  INSERT INTO quote (record_id, observed_at, ${QUOTE_COLUMNS.join(', ')}, run_id, raw_payload_id, raw_position)
  SELECT rid, observed_at, ${QUOTE_COLUMNS.join(', ')}, $1, raw_payload_id, raw_position FROM fresh
  ON CONFLICT (record_id, observed_at) DO UPDATE SET
    ${[...QUOTE_COLUMNS, 'raw_payload_id', 'raw_position'].map((c) => `${c} = EXCLUDED.${c}`).join(', ')}, run_id = EXCLUDED.run_id
  RETURNING 1
), late AS (
  SELECT k.* FROM observed k
  WHERE k.observed_at < ${RAW_FROM}${scope === 'all' ? '' : ' AND k.rid IN (SELECT record_id FROM current WHERE NOT is_new AND NOT was_deleted)'}
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
export const MERGE_SQL = mergeSql('all');
const MERGE_OWN_SQL = mergeSql('own');

export interface MergePreview extends MergeCounts {
  /** Up to 20 keys that would be written, with what would happen to each. */
  sample: { key: string; change: 'insert' | 'update' | 'restore' }[];
}

/** Where a run's payload stands against the source's checkpoint, and so what merging it may do. */
export interface PayloadStanding {
  /** A reprocess dry run: it writes nothing anyone reads. */
  dryRun: boolean;
  /** A reprocess (reprocess_of set) rather than an ingest run. */
  reprocess: boolean;
  /** The source's last merged payload, when it was fetched after this one. */
  newer: { payloadId: number; runId: number; fetchedAt: Date } | null;
}

/**
 * Compares the payload with the source's last merged one by fetch order (fetched_at, then id): a payload
 * fetched earlier says less about the source now, whenever its run gets to merge it. The checkpoint forgets
 * its payload when a shrink is approved; the payload of the run that merged last stands in for it then.
 */
export async function payloadStanding(
  db: Queryable,
  runId: number,
  sourceId: string,
  payloadId: number,
): Promise<PayloadStanding> {
  const { rows } = await db.query<{
    dry_run: boolean;
    reprocess: boolean;
    newer_id: string | null;
    newer_run_id: string | null;
    newer_fetched_at: Date | null;
  }>(
    `SELECT r.dry_run, r.reprocess_of IS NOT NULL AS reprocess, n.id AS newer_id, n.run_id AS newer_run_id, n.fetched_at AS newer_fetched_at
     FROM run r
     JOIN raw_payload p ON p.id = $3
     LEFT JOIN source_state s ON s.source_id = $2
     LEFT JOIN raw_payload n ON n.id = coalesce(s.last_payload_id, (SELECT rs.payload_id FROM run_source rs WHERE rs.run_id = s.last_run_id AND rs.source_id = $2))
       AND (n.fetched_at, n.id) > (p.fetched_at, p.id)
     WHERE r.id = $1`,
    [runId, sourceId, payloadId],
  );
  const row = rows[0];
  if (!row) throw new Error(`run ${runId} or raw payload ${payloadId} does not exist`);
  return {
    dryRun: row.dry_run,
    reprocess: row.reprocess,
    newer:
      row.newer_id === null
        ? null
        : {
            payloadId: Number(row.newer_id),
            runId: Number(row.newer_run_id),
            fetchedAt: new Date(row.newer_fetched_at!),
          },
  };
}

const newerSaid = (payloadId: number, newer: NonNullable<PayloadStanding['newer']>) =>
  `payload ${payloadId} was fetched before payload ${newer.payloadId} (run ${newer.runId}, fetched ${newer.fetchedAt.toISOString()}), which the source merged already`;

/** What merging this payload may write: everything, only the records it wrote itself, or nothing at all. */
function mergeScopeOf(
  payloadId: number,
  standing: PayloadStanding,
): { scope: MergeScope | 'none'; superseded?: string; limited?: string } {
  if (!standing.newer) return { scope: 'all' };
  const why = newerSaid(payloadId, standing.newer);
  // an ingest run overtaken by a later fetch would move records and the checkpoint back in time
  if (!standing.reprocess) return { scope: 'none', superseded: `superseded: ${why}` };
  // a reprocess corrects what its payload wrote, and leaves the newer payload's records and checkpoint alone
  return {
    scope: 'own',
    limited: `${why}: only records whose current value came from payload ${payloadId} are corrected, none inserted or restored`,
  };
}

/** What mergeStaged would do to the records, without writing: the dry run of a reprocess. */
export async function previewMerge(
  pool: Pool,
  runId: number,
  sourceId: string,
  payloadId: number,
): Promise<MergePreview> {
  const { scope, ...why } = mergeScopeOf(payloadId, await payloadStanding(pool, runId, sourceId, payloadId));
  if (scope === 'none') return { ...NOTHING_MERGED, ...why, sample: [] };
  const { rows } = await pool.query(
    `WITH ${changes(scope)}
     SELECT ${COUNTS},
       (SELECT coalesce(jsonb_agg(jsonb_build_object('key', source_key, 'change', CASE WHEN is_new THEN 'insert' WHEN was_deleted THEN 'restore' ELSE 'update' END)), '[]')
        FROM (SELECT * FROM changed ORDER BY source_key LIMIT 20) s) AS sample`,
    [runId, sourceId],
  );
  const r = rows[0]!;
  return { ...countsOf(r), ...why, sample: r.sample };
}

const NOTHING_MERGED: MergeCounts = {
  staged: 0,
  duplicates: 0,
  inserted: 0,
  updated: 0,
  unchanged: 0,
  restored: 0,
  quotesAppended: 0,
  quotesRevised: 0,
  quotesRolledUp: 0,
};

/**
 * Rows written before the merged table is analyzed at once: autovacuum would do it within a minute, but the
 * next stages (orphans, identity) and the API's page totals plan with the statistics until then.
 */
export const ANALYZE_AFTER_ROWS = 10_000;

export async function mergeStaged(
  pool: Pool,
  runId: number,
  sourceId: string,
  kind: string,
  payloadId: number,
  temporalRunId: string,
): Promise<MergeCounts> {
  // partitions lock the parent table to be created: before the merge, not inside its long transaction
  if (kind === 'asset') await ensurePartitions(pool, await stagedMonths(pool, runId, sourceId));
  const counts = await transaction(pool, async (client) => {
    // the within-source dedupe sorts every staged row: in memory rather than in temp files
    await client.query(`SET LOCAL work_mem = '128MB'`);
    // one merge per source at a time: a manual run and a scheduled run never interleave their writes
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`merge:${sourceId}`]);
    // read under the lock: a merge that committed meanwhile is seen
    const { scope, ...why } = mergeScopeOf(payloadId, await payloadStanding(client, runId, sourceId, payloadId));
    const done = await client.query<{ merged_in_run: string | null; status: string; error: string | null }>(
      `SELECT merged_in_run, status, error FROM run_source WHERE run_id = $1 AND source_id = $2`,
      [runId, sourceId],
    );
    const previous = done.rows[0];
    if (previous?.merged_in_run === temporalRunId) {
      // a retried attempt: the first attempt's outcome (the checkpoint only moves forward, so the scope still holds)
      if (previous.status === 'superseded') return { ...NOTHING_MERGED, superseded: previous.error ?? 'superseded' };
      return { ...(await mergedCounts(client, runId, sourceId)), ...(why.limited ? { limited: why.limited } : {}) };
    }
    if (scope === 'none') {
      await client.query(
        `UPDATE run_source SET status = 'superseded', error = $3, merged_in_run = $4 WHERE run_id = $1 AND source_id = $2`,
        [runId, sourceId, why.superseded, temporalRunId],
      );
      return { ...NOTHING_MERGED, ...why };
    }
    await assertStagingIntact(client, runId, sourceId);

    // the time span of the observations lets the lookup of existing ones skip every other month's partition
    const span = await client.query<{ first: Date | null; last: Date | null }>(
      'SELECT min(observed_at) AS first, max(observed_at) AS last FROM stage_record WHERE run_id = $1 AND source_id = $2',
      [runId, sourceId],
    );
    const { rows } = await client.query(scope === 'all' ? MERGE_SQL : MERGE_OWN_SQL, [
      runId,
      sourceId,
      span.rows[0]?.first ?? new Date(0),
      span.rows[0]?.last ?? new Date(0),
    ]);
    const counts: MergeCounts = { ...countsOf(rows[0]), ...why };
    // the checkpoint moves only together with the data it describes, and only forward in fetch order
    if (scope === 'all') {
      await client.query(
        `INSERT INTO source_state (source_id, kind, last_payload_id, content_hash, etag, last_modified, last_run_id, updated_at)
         SELECT $1, $2, p.id, p.content_hash, p.etag, p.last_modified, $3, now() FROM raw_payload p WHERE p.id = $4
         ON CONFLICT (source_id) DO UPDATE SET kind = EXCLUDED.kind, last_payload_id = EXCLUDED.last_payload_id,
           content_hash = EXCLUDED.content_hash, etag = EXCLUDED.etag, last_modified = EXCLUDED.last_modified,
           last_run_id = EXCLUDED.last_run_id, updated_at = now()`,
        [sourceId, kind, runId, payloadId],
      );
    }
    await client.query(
      `UPDATE run_source SET staged = $3, duplicates = $4, inserted = $5, updated = $6, unchanged = $7, restored = $8,
         quotes_appended = $9, quotes_revised = $10, quotes_rolled_up = $11, merged_in_run = $12
       WHERE run_id = $1 AND source_id = $2`,
      [
        runId,
        sourceId,
        counts.staged,
        counts.duplicates,
        counts.inserted,
        counts.updated,
        counts.unchanged,
        counts.restored,
        counts.quotesAppended,
        counts.quotesRevised,
        counts.quotesRolledUp,
        temporalRunId,
      ],
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
  /** Why nothing was checked: the source merged a payload fetched later, whose records these are now. */
  superseded?: string;
}

export type { DeleteLimits };

/**
 * Soft-deletes live records of a snapshot source that this run's complete fetch no longer contains.
 * A record quarantined in this run is not an orphan: it is still in the source, just unreadable.
 * The delete guard (src/load/delete-guard.ts) holds every delete when the snapshot is incomplete or empty, when
 * too many of its records were quarantined or one has no key, or when the deletes would take the source below
 * maxDeleteRatio of its live records, or of the most it had within the baseline window.
 * Only the source's last merged payload may delete: once a later fetch has merged, what this snapshot lacks
 * may be exactly what the later one inserted.
 */
export async function softDeleteOrphans(
  pool: Pool,
  runId: number,
  sourceId: string,
  payloadId: number,
  limits: DeleteLimits,
  temporalRunId: string,
): Promise<OrphanCounts> {
  return transaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`merge:${sourceId}`]);
    const done = await client.query<{
      soft_deleted: number;
      delete_guard: string | null;
      orphans_checked_in_run: string | null;
      parsed: number;
      quarantined: number;
      status: string;
      error: string | null;
    }>(
      'SELECT soft_deleted, delete_guard, orphans_checked_in_run, parsed, quarantined, status, error FROM run_source WHERE run_id = $1 AND source_id = $2',
      [runId, sourceId],
    );
    const previous = done.rows[0]!;
    // superseded already (its merge, or an earlier attempt of this check): nothing to check
    if (previous.status === 'superseded')
      return { softDeleted: 0, deleteGuard: null, superseded: previous.error ?? 'superseded' };
    if (previous.orphans_checked_in_run === temporalRunId)
      return { softDeleted: previous.soft_deleted, deleteGuard: previous.delete_guard };
    const { newer } = await payloadStanding(client, runId, sourceId, payloadId);
    if (newer) {
      const superseded = `superseded: ${newerSaid(payloadId, newer)}; its orphans are not checked`;
      await client.query(
        `UPDATE run_source SET status = 'superseded', error = $3, orphans_checked_in_run = $4 WHERE run_id = $1 AND source_id = $2`,
        [runId, sourceId, superseded, temporalRunId],
      );
      return { softDeleted: 0, deleteGuard: null, superseded };
    }
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
               WHERE rs.source_id = $1 AND rs.live_after IS NOT NULL AND r.started_at >= w.since AND NOT r.dry_run)::int AS window_max,
              to_char(w.since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS since, w.approved
       FROM w`,
      [sourceId, limits.windowDays],
    );
    const window = history.rows[0];
    const guard = deleteGuard(
      {
        orphans,
        live,
        keyless,
        parsed,
        quarantined,
        baseline: Math.max(live, window?.window_max ?? 0),
        baselineSince: window?.since ?? 'the first run',
        shrinkApproved: window?.approved ?? false,
      },
      limits,
    );
    const softDeleted =
      orphans > 0 && !guard
        ? ((
            await client.query(
              `UPDATE record SET deleted_at = now(), deleted_run_id = $1, updated_at = now() WHERE id IN (SELECT id FROM orphan)`,
              [runId],
            )
          ).rowCount ?? 0)
        : 0;
    // an approval lets one shrink through; the baseline starts again from it
    if (softDeleted > 0 && window?.approved)
      await client.query(
        'UPDATE source_state SET shrink_approved_at = NULL, baseline_since = now() WHERE source_id = $1',
        [sourceId],
      );
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
