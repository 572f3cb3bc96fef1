// Run bookkeeping: ordinary, small queries, so they go through MikroORM.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Pool } from 'pg';
import { LIMITS } from '../normalize/limits.ts';
import { Run, RunSource, type IRun, type IRunSource } from './entities.ts';
import { storable, storableJson, transaction } from './sql.ts';

export type RunStatus = IRun['status'];
export type SourceRunStatus = IRunSource['status'];

export interface ReprocessOf {
  /** The run whose stored payloads are normalized again. */
  reprocessOf: number;
  /** Only report what would change: every reader of runs leaves the run out, and nothing moves source_state. */
  dryRun: boolean;
}

/** The workflow execution a run belongs to: its id, its run id now, and the run id it started with. */
export interface Execution {
  workflowId: string;
  temporalRunId: string;
  originalRunId: string;
}

/** Creates the run row, or returns the existing one when a retried or reset workflow starts again. */
export async function startRun(
  em: EntityManager,
  { workflowId, temporalRunId, originalRunId }: Execution,
  sourceIds: string[],
  reprocess?: ReprocessOf,
): Promise<number> {
  const run = await em.upsert(
    Run,
    {
      workflowId,
      originalRunId,
      temporalRunId,
      status: 'running',
      ...(reprocess ? { reprocessOf: reprocess.reprocessOf, dryRun: reprocess.dryRun } : {}),
    },
    { onConflictFields: ['workflowId', 'originalRunId'], onConflictMergeFields: ['temporalRunId'] },
  );
  for (const sourceId of sourceIds) {
    await em.upsert(
      RunSource,
      { run: run.id, sourceId },
      { onConflictFields: ['run', 'sourceId'], onConflictAction: 'ignore' },
    );
  }
  await em.flush();
  return run.id;
}

export async function updateRunSource(
  em: EntityManager,
  runId: number,
  sourceId: string,
  changes: Partial<Omit<IRunSource, 'run' | 'sourceId'>>,
): Promise<void> {
  // the observed schema and the mapping carry the source's own field names
  await em.nativeUpdate(RunSource, { run: runId, sourceId }, storableJson(changes));
}

export interface SourceOutcome {
  sourceId: string;
  status: Exclude<SourceRunStatus, 'running'>;
  /** Why the source did not succeed: its failure, or what superseded it (kept in run_source.error). */
  error?: string;
}

/**
 * The run is `succeeded` when no source failed, `failed` when every one did, `partial` otherwise. A superseded
 * source did not fail: a later fetch of it was merged first, and that one's data stands.
 */
export function runStatusOf(outcomes: SourceOutcome[]): Exclude<RunStatus, 'running'> {
  const failed = outcomes.filter((o) => o.status === 'failed').length;
  if (failed === 0) return 'succeeded';
  return failed === outcomes.length ? 'failed' : 'partial';
}

/**
 * Closes the run and its sources. Bookkeeping must not fail a run: the texts are made storable first, and if
 * the details still cannot be written (anything but the database being down) the run closes without them.
 */
export async function finishRun(em: EntityManager, runId: number, outcomes: SourceOutcome[]): Promise<RunStatus> {
  const status = runStatusOf(outcomes);
  const close = (details: boolean, note?: string) =>
    em.fork().transactional(async (tx) => {
      for (const o of outcomes) {
        const error = details ? (o.error ? storable(o.error) : null) : o.error ? (note ?? null) : null;
        await tx.nativeUpdate(
          RunSource,
          { run: runId, sourceId: o.sourceId },
          { status: o.status, error, finishedAt: new Date() },
        );
      }
      // the run's error is about failures; a superseded source says why on its own row
      const errors = outcomes.filter((o) => o.error && o.status === 'failed').map((o) => `${o.sourceId}: ${o.error}`);
      const error = details
        ? errors.length
          ? storable(errors.join('\n'), LIMITS.reasonChars * 4)
          : null
        : (note ?? null);
      await tx.nativeUpdate(Run, { id: runId }, { status, finishedAt: new Date(), error });
    });
  try {
    await close(true);
  } catch (error) {
    if (isConnectionError(error)) throw error; // worth the retry
    await close(false, storable(`the error details could not be stored: ${(error as Error).message}`));
  }
  return status;
}

const isConnectionError = (error: unknown) =>
  /ECONN|ETIMEDOUT|EPIPE|Connection terminated|timeout exceeded/i.test(String((error as Error)?.message ?? error));

export async function recordAttempt(
  pool: Pool,
  runId: number,
  sourceId: string,
  stage: string,
  attempt: number,
): Promise<void> {
  await pool.query(
    `UPDATE run_source SET attempts = attempts || jsonb_build_object($3::text, $4::int) WHERE run_id = $1 AND source_id = $2`,
    [runId, sourceId, stage, attempt],
  );
}

/** Keeps the latest 20 failures of a source's stages in a run. */
export async function recordAttemptError(
  pool: Pool,
  runId: number,
  sourceId: string,
  stage: string,
  attempt: number,
  error: string,
): Promise<void> {
  await pool.query(
    `UPDATE run_source SET errors = (CASE WHEN jsonb_array_length(errors) >= 20 THEN errors - 0 ELSE errors END)
       || jsonb_build_array(jsonb_build_object('stage', $3::text, 'attempt', $4::int, 'error', $5::text, 'at', now()))
     WHERE run_id = $1 AND source_id = $2`,
    [runId, sourceId, stage, attempt, storable(error)],
  );
}

/** A reset continues a run under a new Temporal run id; links to the run should point at the live one. */
export async function updateTemporalRunId(em: EntityManager, runId: number, temporalRunId: string): Promise<void> {
  await em.nativeUpdate(Run, { id: runId }, { temporalRunId });
}

/** A reprocess dry run: its rows are its own report, and no reader of runs, metrics or baselines counts them. */
export async function isDryRun(pool: Pool, runId: number): Promise<boolean> {
  const { rows } = await pool.query<{ dry_run: boolean }>('SELECT dry_run FROM run WHERE id = $1', [runId]);
  return rows[0]?.dry_run ?? false;
}

/** A reprocess run's source rows name the payload they normalize again, as an ingest run's name the one it fetched. */
export async function notePayloads(em: EntityManager, runId: number, sources: ReprocessSource[]): Promise<void> {
  for (const s of sources) await em.nativeUpdate(RunSource, { run: runId, sourceId: s.id }, { payloadId: s.payloadId });
}

export interface ReprocessSource {
  id: string;
  payloadId: number;
}

/**
 * The payloads a past run stored, per source: a payload the run found unchanged points at the one it
 * repeated. A source that answered 304 stored nothing in that run and cannot be reprocessed from it.
 */
export async function storedPayloadsOf(
  pool: Pool,
  runId: number,
  sourceIds: string[] | undefined,
): Promise<ReprocessSource[]> {
  const { rows } = await pool.query<{ id: string; payload_id: string }>(
    `SELECT p.source_id AS id, coalesce(p.same_as_payload_id, p.id) AS payload_id FROM raw_payload p
     WHERE p.run_id = $1 AND p.status IN ('stored', 'unchanged') AND ($2::text[] IS NULL OR p.source_id = ANY($2))
     ORDER BY p.source_id`,
    [runId, sourceIds?.length ? sourceIds : null],
  );
  return rows.map((r) => ({ id: r.id, payloadId: Number(r.payload_id) }));
}

/** Whether normalize read the source's payload in this run as a snapshot or a history (null: not assets). */
export async function runSeries(pool: Pool, runId: number, sourceId: string): Promise<'snapshot' | 'history' | null> {
  const { rows } = await pool.query<{ series: 'snapshot' | 'history' | null }>(
    'SELECT series FROM run_source WHERE run_id = $1 AND source_id = $2',
    [runId, sourceId],
  );
  return rows[0]?.series ?? null;
}

/** Runs other than this one that have said `running` for more than a minute (a run in progress is left alone by Temporal's answer). */
export async function runningRuns(
  pool: Pool,
  exceptRunId: number,
  limit = 20,
): Promise<{ id: number; workflowId: string; temporalRunId: string }[]> {
  const { rows } = await pool.query<{ id: string; workflow_id: string; temporal_run_id: string }>(
    `SELECT id, workflow_id, temporal_run_id FROM run WHERE status = 'running' AND id <> $1 AND started_at < now() - interval '1 minute' ORDER BY id LIMIT $2`,
    [exceptRunId, limit],
  );
  return rows.map((r) => ({ id: Number(r.id), workflowId: r.workflow_id, temporalRunId: r.temporal_run_id }));
}

/** Closes a run whose workflow is gone: failed, with the reason, and so is every source still running in it. */
export async function closeAbandonedRun(pool: Pool, runId: number, reason: string): Promise<void> {
  await transaction(pool, async (client) => {
    await client.query(
      `UPDATE run_source SET status = 'failed', error = $2, finished_at = now() WHERE run_id = $1 AND status = 'running'`,
      [runId, storable(reason)],
    );
    await client.query(
      `UPDATE run SET status = 'failed', error = $2, finished_at = now() WHERE id = $1 AND status = 'running'`,
      [runId, storable(reason)],
    );
  });
}
