// Load: merge the staged records (within-source dedupe, unchanged rows skipped by content hash), soft-delete
// the records a complete snapshot no longer has (behind the delete guard), and link records to entities.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { resolveEntities, type IdentityCounts } from '../db/identity.ts';
import {
  mergeStaged,
  previewMerge,
  softDeleteOrphans,
  type MergeCounts,
  type MergePreview,
  type OrphanCounts,
} from '../db/merge.ts';
import { payloadInfo } from '../db/raw.ts';
import { isDryRun, runSeries } from '../db/runs.ts';
import { adapterFor } from '../sources/index.ts';
import { runStage, sourceById, type ActivityDeps, type PayloadStep, type SourceStep } from './common.ts';

export type { IdentityCounts, MergeCounts, MergePreview, OrphanCounts };

/** The workflow execution this attempt belongs to: a retry shares it, a reset does not. */
const temporalRunId = () => Context.current().info.workflowExecution?.runId ?? 'none';

export function loadActivities({ db, sourcesFile }: ActivityDeps) {
  /** A dry run writes nothing anyone reads, whoever calls what. */
  const refuseDryRun = async ({ runId }: SourceStep, what: string) => {
    if (await isDryRun(db.pool, runId))
      throw ApplicationFailure.nonRetryable(`run ${runId} is a dry run: it may not ${what}`, 'DryRun');
  };
  return {
    /**
     * Within the source: one record per key, the latest winning; unchanged rows are not written. A payload
     * fetched before the source's last merged one merges nothing (`superseded`), or in a reprocess corrects
     * only what it wrote itself (`limited`).
     */
    async dedupe(step: PayloadStep): Promise<MergeCounts> {
      return runStage(db, step, async () => {
        await refuseDryRun(step, 'merge');
        const kind = adapterFor(sourceById(sourcesFile, step.sourceId)).recordKind;
        return mergeStaged(db.pool, step.runId, step.sourceId, kind, step.payloadId, temporalRunId());
      });
    },

    /** What dedupe would write, without writing (a reprocess dry run). */
    async previewMerge(step: PayloadStep): Promise<MergePreview> {
      return runStage(db, step, async () => previewMerge(db.pool, step.runId, step.sourceId, step.payloadId));
    },

    async softDeleteOrphans(step: PayloadStep): Promise<OrphanCounts> {
      return runStage(db, step, async () => {
        const { runId, sourceId, payloadId } = step;
        await refuseDryRun(step, 'soft-delete');
        const source = sourceById(sourcesFile, sourceId);
        if (source.deletePolicy !== 'snapshot')
          return { softDeleted: 0, deleteGuard: `delete_policy is ${source.deletePolicy}` };
        // a history says what was true when; a key missing from it was not deleted from anything
        if ((await runSeries(db.pool, runId, sourceId)) === 'history')
          return { softDeleted: 0, deleteGuard: 'a history source: keys missing from it are not orphans' };
        const payload = await payloadInfo(db.pool, payloadId);
        if (payload.status !== 'stored') {
          throw ApplicationFailure.nonRetryable(
            `source '${sourceId}': payload ${payloadId} is ${payload.status}, not a stored snapshot; nothing may be deleted`,
            'IncompleteSnapshot',
          );
        }
        const limits = {
          maxDeleteRatio: source.maxDeleteRatio,
          maxQuarantineRatio: source.maxQuarantineRatio,
          incompleteReason: payload.incompleteReason,
          windowDays: source.deleteGuardWindowDays,
        };
        return softDeleteOrphans(db.pool, runId, sourceId, payloadId, limits, temporalRunId());
      });
    },

    /** Across sources: links the source's records without an entity (new ones, or sent back by an override). */
    async resolveEntities(step: SourceStep): Promise<IdentityCounts> {
      return runStage(db, step, async () => {
        // resolution moves the source's resolved marks
        await refuseDryRun(step, 'link entities');
        return resolveEntities(
          db.pool,
          step.runId,
          step.sourceId,
          adapterFor(sourceById(sourcesFile, step.sourceId)).recordKind,
        );
      });
    },
  };
}
