// Run bookkeeping: ordinary, small queries, so they go through MikroORM.
import type { EntityManager } from '@mikro-orm/postgresql';
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
