// The ingest workflow reads like its design card: for every source, extract (fetch, store raw),
// normalize, load (dedupe, soft-delete orphans), then link its records to entities across sources.
// Sources run side by side; one failing source ends the run `partial`, it never fails the others.
// Only ids and counts pass through here.
import { ActivityFailure, CancellationScope, isCancellation, proxyActivities } from '@temporalio/workflow';
import type { Activities, RunSummary, SourceOutcome, SourcePlan } from '../activities/index.ts';

export interface IngestInput {
  /** Ingest only these sources; all configured sources when empty. */
  sourceIds?: string[];
}

const bookkeeping = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
});
// every stage heartbeats at least every 5 s, so a dead worker's activity is retried elsewhere within 20 s
const stages = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});

export async function ingest(input: IngestInput = {}): Promise<RunSummary> {
  const run = await bookkeeping.startRun({ sourceIds: input.sourceIds });
  let outcomes: SourceOutcome[] = run.sources.map((s) => ({ sourceId: s.id, status: 'failed', error: 'run cancelled' }));
  const closeRun = () => CancellationScope.nonCancellable(() => bookkeeping.finishRun({ runId: run.runId, outcomes }));
  try {
    outcomes = await Promise.all(run.sources.map((source) => ingestSource(run.runId, source)));
  } catch (error) {
    await closeRun(); // a cancelled run is still closed, so the runs table never shows it running forever
    throw error;
  }
  return await closeRun();
}

async function ingestSource(runId: number, source: SourcePlan): Promise<SourceOutcome> {
  const step = { runId, sourceId: source.id };
  try {
    // extract
    const fetched = await stages.fetchSource(step);
    const payload = { ...step, payloadId: fetched.payloadId };
    const { unchanged } = await stages.storeRaw(payload);
    if (!unchanged) {
      // normalize
      await stages.normalize(payload);
      // load: one record per key within the source, then what a complete snapshot no longer has
      await stages.dedupe(payload);
      if (source.deletePolicy === 'snapshot') await stages.softDeleteOrphans(payload);
    }
    // across sources, also when unchanged: an operator's override takes effect on the next run
    await stages.resolveEntities(step);
    return { sourceId: source.id, status: unchanged ? 'unchanged' : 'succeeded' };
  } catch (error) {
    if (isCancellation(error) || !(error instanceof ActivityFailure)) throw error;
    return { sourceId: source.id, status: 'failed', error: error.cause?.message ?? error.message };
  }
}
