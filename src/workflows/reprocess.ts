// Reprocess: normalize a past run's stored payloads again with the current code, without calling the
// sources, then merge and link (or, as a dry run, only report what the merge would change). Safe by
// construction, whatever the payload's age:
// - nothing is soft-deleted: an old payload is not a fresh snapshot of the source;
// - a dry run is marked so from its first row: no list, statistic, metric, baseline or drift comparison
//   counts it, and it moves nothing in source_state;
// - a payload fetched before the source's last merged one corrects only the records whose current value it
//   wrote (`limited`): no insert, no restore of what a later run deleted, no observation a later payload
//   wrote, and the checkpoint stays where it is. The latest payload merges as a normal run would.
import { ActivityFailure, isCancellation, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities, MergeCounts, MergePreview, RunSummary } from '../activities/index.ts';
import { normalizeStage } from './normalize.ts';

export interface ReprocessInput {
  runId: number;
  sourceIds?: string[];
  dryRun?: boolean;
}
export interface ReprocessResult extends RunSummary {
  dryRun: boolean;
  /** Per source what the merge did (or would do); `limited` says why it was held to the payload's own records. */
  changes: Record<string, MergeCounts | MergePreview>;
  /** The sources whose payload was older than their last merged one, so only its own records were corrected. */
  limited: string[];
}

const bookkeeping = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 10 } });
const stages = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});

export async function reprocess({
  runId: fromRunId,
  sourceIds,
  dryRun = false,
}: ReprocessInput): Promise<ReprocessResult> {
  const plan = await bookkeeping.startReprocess({
    fromRunId,
    sourceIds,
    dryRun,
    originalRunId: workflowInfo().originalExecutionRunId,
  });
  const changes: ReprocessResult['changes'] = {};
  const outcomes = await Promise.all(
    plan.sources.map(async ({ id, payloadId }) => {
      const payload = { runId: plan.runId, sourceId: id, payloadId };
      try {
        await normalizeStage(() => stages, payload);
        if (dryRun) changes[id] = await stages.previewMerge(payload);
        else {
          changes[id] = await stages.dedupe(payload);
          await stages.resolveEntities(payload);
        }
        return { sourceId: id, status: 'succeeded' as const };
      } catch (error) {
        if (isCancellation(error) || !(error instanceof ActivityFailure)) throw error;
        return { sourceId: id, status: 'failed' as const, error: error.cause?.message ?? error.message };
      }
    }),
  );
  const summary = await bookkeeping.finishRun({ runId: plan.runId, outcomes });
  const limited = Object.entries(changes)
    .filter(([, c]) => c.limited)
    .map(([id]) => id)
    .sort();
  return { ...summary, dryRun, changes, limited };
}
