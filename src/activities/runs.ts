// Run bookkeeping: the run row opens before any source is touched and closes whatever happened.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { Run } from '../db/entities.ts';
import { WorkflowNotFoundError } from '@temporalio/client';
import {
  closeAbandonedRun,
  finishRun,
  notePayloads,
  runningRuns,
  startRun,
  storedPayloadsOf,
  updateTemporalRunId,
  type Execution,
  type ReprocessSource,
  type RunStatus,
  type SourceOutcome,
} from '../db/runs.ts';
import {
  DEFAULT_DIVERGENCE,
  detectAnomalies,
  detectDivergences,
  storeAnomalies,
  storeDivergences,
} from '../db/anomalies.ts';
import { dropStage } from '../db/stage.ts';
import { loadSourcesConfig, type SourceConfig } from '../sources/config.ts';
import type { ActivityDeps } from './common.ts';

export interface SourcePlan {
  id: string;
  deletePolicy: SourceConfig['deletePolicy'];
}
export interface RunPlan {
  runId: number;
  sources: SourcePlan[];
}
export interface ReprocessPlan {
  runId: number;
  sources: ReprocessSource[];
}
export interface RunSummary {
  runId: number;
  status: RunStatus;
  sources: SourceOutcome[];
  /** How many anomalies the run showed against recent history (stored in run_anomaly). */
  anomalies?: number;
}

/**
 * The execution a run row belongs to. The workflow sends the run id it started with (kept across resets);
 * a workflow that started before it did sends none, and its own run id stands in.
 */
function executionOf(execution: { workflowId: string; runId: string }, originalRunId?: string): Execution {
  return {
    workflowId: execution.workflowId,
    temporalRunId: execution.runId,
    originalRunId: originalRunId ?? execution.runId,
  };
}

export function runActivities({ db, sourcesFile, divergence = DEFAULT_DIVERGENCE }: ActivityDeps) {
  return {
    /** Opens the run: one row for the workflow execution, one per source it will ingest. */
    async startRun(input: { sourceIds?: string[]; originalRunId?: string } = {}): Promise<RunPlan> {
      const { workflowExecution } = Context.current().info;
      if (!workflowExecution)
        throw ApplicationFailure.nonRetryable('startRun runs only inside an ingest workflow', 'NoWorkflow');
      const all = loadSourcesConfig(sourcesFile);
      const unknown = (input.sourceIds ?? []).filter((id) => !all.some((s) => s.id === id));
      if (unknown.length)
        throw ApplicationFailure.nonRetryable(`unknown source ids: ${unknown.join(', ')}`, 'UnknownSource');
      const sources = input.sourceIds?.length ? all.filter((s) => input.sourceIds!.includes(s.id)) : all;
      const runId = await startRun(
        db.em(),
        executionOf(workflowExecution, input.originalRunId),
        sources.map((s) => s.id),
      );
      await closeAbandonedRuns(db, runId);
      return { runId, sources: sources.map((s) => ({ id: s.id, deletePolicy: s.deletePolicy })) };
    },

    /** Opens a reprocess run over the payloads a past run stored; a dry run is marked so from its first row. */
    async startReprocess({
      fromRunId,
      sourceIds,
      dryRun = false,
      originalRunId,
    }: {
      fromRunId: number;
      sourceIds?: string[];
      dryRun?: boolean;
      originalRunId?: string;
    }): Promise<ReprocessPlan> {
      const { workflowExecution } = Context.current().info;
      if (!workflowExecution)
        throw ApplicationFailure.nonRetryable('startReprocess runs only inside a reprocess workflow', 'NoWorkflow');
      if (!(await db.em().findOne(Run, { id: fromRunId })))
        throw ApplicationFailure.nonRetryable(`run ${fromRunId} does not exist`, 'UnknownRun');
      const sources = await storedPayloadsOf(db.pool, fromRunId, sourceIds);
      const configured = new Set(loadSourcesConfig(sourcesFile).map((s) => s.id));
      const gone = sources.filter((s) => !configured.has(s.id)).map((s) => s.id);
      if (gone.length)
        throw ApplicationFailure.nonRetryable(`sources no longer configured: ${gone.join(', ')}`, 'UnknownSource');
      const runId = await startRun(
        db.em(),
        executionOf(workflowExecution, originalRunId),
        sources.map((s) => s.id),
        { reprocessOf: fromRunId, dryRun },
      );
      await notePayloads(db.em(), runId, sources);
      return { runId, sources };
    },

    /** Closes the run with each source's outcome and frees its staging rows. */
    async finishRun({ runId, outcomes }: { runId: number; outcomes: SourceOutcome[] }): Promise<RunSummary> {
      const ctx = Context.current();
      if (ctx.info.workflowExecution) await updateTemporalRunId(db.em(), runId, ctx.info.workflowExecution.runId);
      const status = await finishRun(db.em(), runId, outcomes);
      // prices this run wrote, against what the other sources of the same entity say
      const divergences = await storeDivergences(
        db.em(),
        runId,
        await detectDivergences(db.pool, runId, divergence),
        divergence,
      );
      await dropStage(db.pool, runId);
      // judged against recent history once the run is complete, kept with the run, and said out loud
      const anomalies = await detectAnomalies(db.em(), runId);
      await storeAnomalies(db.em(), runId, anomalies);
      anomalies.push(...divergences);
      for (const a of anomalies)
        ctx.log.warn('run anomaly', { runId, rule: a.rule, sourceId: a.source, message: a.message });
      return { runId, status, sources: outcomes, anomalies: anomalies.length };
    },
  };
}

/**
 * A run row says `running` only while its workflow runs: one whose workflow closed without finishing it
 * (terminated, timed out, or its last bookkeeping gave up) is closed here, by the next run, from what Temporal
 * says. Best effort: a reconciliation that fails leaves the rows for the next run and never fails this one.
 */
async function closeAbandonedRuns(db: ActivityDeps['db'], currentRunId: number): Promise<void> {
  const ctx = Context.current();
  try {
    const client = ctx.client;
    for (const run of await runningRuns(db.pool, currentRunId)) {
      let status: string;
      try {
        status = (await client.workflow.getHandle(run.workflowId, run.temporalRunId).describe()).status.name;
      } catch (error) {
        if (!(error instanceof WorkflowNotFoundError)) throw error;
        status = 'unknown to Temporal';
      }
      if (status === 'RUNNING') continue;
      await closeAbandonedRun(
        db.pool,
        run.id,
        `the workflow ended ${status.toLowerCase()} without closing its run; closed by run ${currentRunId}`,
      );
      ctx.log.warn('closed an abandoned run', { runId: run.id, workflowId: run.workflowId, status });
    }
  } catch (error) {
    ctx.log.warn('could not reconcile abandoned runs', { error: (error as Error).message });
  }
}
