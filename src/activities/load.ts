// Load: merge the staged records (within-source dedupe, unchanged rows skipped by content hash), and
// soft-delete the records a complete snapshot no longer has (src/stages/load.ts, behind the delete guard).
import { mergeStaged, previewMerge, type MergeCounts, type MergePreview, type OrphanCounts } from '../db/merge.ts';
import { deleteOrphans } from '../stages/load.ts';
import {
  recordKindOf,
  refuseDryRun,
  runStage,
  sourceById,
  temporalRunId,
  type ActivityDeps,
  type PayloadStep,
} from './common.ts';

export type { MergeCounts, MergePreview, OrphanCounts };

export function loadActivities({ db, sourcesFile }: ActivityDeps) {
  return {
    /**
     * Within the source: one record per key, the latest winning; unchanged rows are not written. A payload
     * fetched before the source's last merged one merges nothing (`superseded`), or in a reprocess corrects
     * only what it wrote itself (`limited`).
     */
    async dedupe(step: PayloadStep): Promise<MergeCounts> {
      return runStage(db, step, async () => {
        await refuseDryRun(db, step, 'merge');
        const kind = recordKindOf(sourcesFile, step.sourceId);
        return mergeStaged(db.pool, step.runId, step.sourceId, kind, step.payloadId, temporalRunId());
      });
    },

    /** What dedupe would write, without writing (a reprocess dry run). */
    async previewMerge(step: PayloadStep): Promise<MergePreview> {
      return runStage(db, step, async () => previewMerge(db.pool, step.runId, step.sourceId, step.payloadId));
    },

    async softDeleteOrphans(step: PayloadStep): Promise<OrphanCounts> {
      return runStage(db, step, async () => {
        await refuseDryRun(db, step, 'soft-delete');
        return deleteOrphans(db, step, sourceById(sourcesFile, step.sourceId), temporalRunId());
      });
    },
  };
}
