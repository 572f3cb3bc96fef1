// Run bookkeeping: ordinary, small queries, so they go through MikroORM.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Pool } from 'pg';
import { Run, RunSource, type IRun, type IRunSource } from './entities.ts';

export type RunStatus = IRun['status'];
export type SourceRunStatus = IRunSource['status'];

/** Creates the run row, or returns the existing one when a retried or reset workflow starts again. */
export async function startRun(em: EntityManager, workflowId: string, temporalRunId: string, sourceIds: string[]): Promise<number> {
  const run = await em.upsert(Run, { workflowId, temporalRunId, status: 'running' }, { onConflictFields: ['workflowId'], onConflictMergeFields: ['temporalRunId'] });
  for (const sourceId of sourceIds) {
    await em.upsert(RunSource, { run: run.id, sourceId }, { onConflictFields: ['run', 'sourceId'], onConflictAction: 'ignore' });
  }
  await em.flush();
  return run.id;
}

export async function updateRunSource(em: EntityManager, runId: number, sourceId: string, changes: Partial<Omit<IRunSource, 'run' | 'sourceId'>>): Promise<void> {
  await em.nativeUpdate(RunSource, { run: runId, sourceId }, changes);
}

export interface SourceOutcome {
  sourceId: string;
  status: Exclude<SourceRunStatus, 'running'>;
  error?: string;
}

/** The run is `succeeded` when every source is, `failed` when none is, `partial` otherwise. */
export function runStatusOf(outcomes: SourceOutcome[]): Exclude<RunStatus, 'running'> {
  const failed = outcomes.filter((o) => o.status === 'failed').length;
  if (failed === 0) return 'succeeded';
  return failed === outcomes.length ? 'failed' : 'partial';
}

export async function finishRun(em: EntityManager, runId: number, outcomes: SourceOutcome[]): Promise<RunStatus> {
  const status = runStatusOf(outcomes);
  await em.transactional(async (tx) => {
    for (const o of outcomes) {
      await tx.nativeUpdate(RunSource, { run: runId, sourceId: o.sourceId }, { status: o.status, error: o.error ?? null, finishedAt: new Date() });
    }
    const errors = outcomes.filter((o) => o.error).map((o) => `${o.sourceId}: ${o.error}`);
    await tx.nativeUpdate(Run, { id: runId }, { status, finishedAt: new Date(), error: errors.length ? errors.join('\n') : null });
  });
  return status;
}

export async function recordAttempt(pool: Pool, runId: number, sourceId: string, stage: string, attempt: number): Promise<void> {
  await pool.query(`UPDATE run_source SET attempts = attempts || jsonb_build_object($3::text, $4::int) WHERE run_id = $1 AND source_id = $2`, [runId, sourceId, stage, attempt]);
}

/** Keeps the latest 20 failures of a source's stages in a run. */
export async function recordAttemptError(pool: Pool, runId: number, sourceId: string, stage: string, attempt: number, error: string): Promise<void> {
  await pool.query(
    `UPDATE run_source SET errors = (CASE WHEN jsonb_array_length(errors) >= 20 THEN errors - 0 ELSE errors END)
       || jsonb_build_array(jsonb_build_object('stage', $3::text, 'attempt', $4::int, 'error', left($5::text, 2000), 'at', now()))
     WHERE run_id = $1 AND source_id = $2`,
    [runId, sourceId, stage, attempt, error],
  );
}

/** A reset continues a run under a new Temporal run id; links to the run should point at the live one. */
export async function updateTemporalRunId(em: EntityManager, runId: number, temporalRunId: string): Promise<void> {
  await em.nativeUpdate(Run, { id: runId }, { temporalRunId });
}

export interface ReprocessSource {
  id: string;
  payloadId: number;
}

/**
 * The payloads a past run stored, per source: a payload the run found unchanged points at the one it
 * repeated. A source that answered 304 stored nothing in that run and cannot be reprocessed from it.
 */
export async function storedPayloadsOf(pool: Pool, runId: number, sourceIds: string[] | undefined): Promise<ReprocessSource[]> {
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
  const { rows } = await pool.query<{ series: 'snapshot' | 'history' | null }>('SELECT series FROM run_source WHERE run_id = $1 AND source_id = $2', [runId, sourceId]);
  return rows[0]?.series ?? null;
}
