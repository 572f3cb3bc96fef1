// The ingest workflow reads like its design card: for every source, extract (fetch, store raw), normalize
// (in parts when large), load (dedupe, soft-delete orphans), then link its records to entities across sources.
// Sources run side by side; one failing source ends the run `partial`, it never fails the others.
// Runs of one source are ordered by fetch: a payload fetched before one another run has merged already is
// `superseded` (it merges and deletes nothing; the later fetch's data stands), which is no failure.
// Only ids and counts pass through here.
import {
  ActivityFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities, RunSummary, SourceOutcome, SourcePlan } from '../activities/index.ts';
import { normalizeStage } from './normalize.ts';
import { trackProgress } from './observability.ts';

export interface IngestInput {
  /** Ingest only these sources; all configured sources when empty. */
  sourceIds?: string[];
}

const bookkeeping = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
});
// every stage heartbeats at least every 5 s, so a dead worker's activity is retried elsewhere within 20 s
const STAGE: ActivityOptions = {
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
};
/** The stages, each call labelled in the Web UI with what it does ("fetch coingecko"). */
const stage = (summary: string) => proxyActivities<Activities>({ ...STAGE, summary });

export async function ingest(input: IngestInput = {}): Promise<RunSummary> {
  // the run id this execution started with names its run row, also after a reset
  const run = await bookkeeping.startRun({
    sourceIds: input.sourceIds,
    originalRunId: workflowInfo().originalExecutionRunId,
  });
  const tracker = trackProgress(
    run.runId,
    run.sources.map((s) => s.id),
  );
  // each source's outcome as it ends: a cancelled run still closes the sources that finished with what they did
  const outcomes: SourceOutcome[] = run.sources.map((s) => ({
    sourceId: s.id,
    status: 'failed',
    error: 'run cancelled',
  }));
  const closeRun = async () => {
    const summary = await CancellationScope.nonCancellable(() => bookkeeping.finishRun({ runId: run.runId, outcomes }));
    tracker.outcome(summary.status);
    return summary;
  };
  try {
    await Promise.all(
      run.sources.map(async (source, i) => (outcomes[i] = await ingestSource(run.runId, source, tracker.stage))),
    );
  } catch (error) {
    await closeRun(); // a cancelled run is still closed, so the runs table never shows it running forever
    throw error;
  }
  return await closeRun();
}

async function ingestSource(
  runId: number,
  source: SourcePlan,
  show: ReturnType<typeof trackProgress>['stage'],
): Promise<SourceOutcome> {
  const step = { runId, sourceId: source.id };
  const at = (name: Parameters<typeof show>[1], what: string = name) => {
    show(source.id, name);
    return stage(`${what} ${source.id}`);
  };
  try {
    // extract
    const fetched = await at('fetch').fetchSource(step);
    const payload = { ...step, payloadId: fetched.payloadId };
    const { unchanged } = await at('store raw').storeRaw(payload);
    let superseded: string | undefined;
    if (!unchanged) {
      await normalizeStage((what) => at('normalize', what), payload);
      // load: one record per key within the source, then what a complete snapshot no longer has; either
      // refuses a payload a later fetch of the source overtook
      superseded = (await at('dedupe').dedupe(payload)).superseded;
      if (!superseded && source.deletePolicy === 'snapshot')
        superseded = (await at('soft-delete orphans').softDeleteOrphans(payload)).superseded;
    }
    // across sources, also when unchanged or superseded: an operator's override takes effect on the next run
    await at('link entities').resolveEntities(step);
    const status = superseded ? 'superseded' : unchanged ? 'unchanged' : 'succeeded';
    show(source.id, status, superseded);
    return { sourceId: source.id, status, ...(superseded ? { error: superseded } : {}) };
  } catch (error) {
    if (isCancellation(error) || !(error instanceof ActivityFailure)) throw error;
    const message = error.cause?.message ?? error.message;
    show(source.id, 'failed', message);
    return { sourceId: source.id, status: 'failed', error: message };
  }
}
