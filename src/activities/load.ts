// Load: merge the staged records (within-source dedupe, unchanged rows skipped by content hash), then
// soft-delete the records a complete snapshot no longer has, behind the delete guard.
import { ApplicationFailure } from '@temporalio/activity';
import { mergeStaged, softDeleteOrphans, type MergeCounts, type OrphanCounts } from '../db/merge.ts';
import { payloadInfo } from '../db/raw.ts';
import { adapterFor } from '../sources/index.ts';
import { sourceById, type ActivityDeps, type PayloadStep } from './common.ts';

export type { MergeCounts, OrphanCounts };

export function loadActivities({ db, sourcesFile }: ActivityDeps) {
  return {
    async dedupe({ runId, sourceId, payloadId }: PayloadStep): Promise<MergeCounts> {
      const source = sourceById(sourcesFile, sourceId);
      return mergeStaged(db.pool, runId, sourceId, adapterFor(source).recordKind, payloadId);
    },

    async softDeleteOrphans({ runId, sourceId, payloadId }: PayloadStep): Promise<OrphanCounts> {
      const source = sourceById(sourcesFile, sourceId);
      if (source.deletePolicy !== 'snapshot') return { softDeleted: 0, deleteGuard: `delete_policy is ${source.deletePolicy}` };
      const payload = await payloadInfo(db.pool, payloadId);
      if (payload.status !== 'stored') {
        throw ApplicationFailure.nonRetryable(`source '${sourceId}': payload ${payloadId} is ${payload.status}, not a stored snapshot; nothing may be deleted`, 'IncompleteSnapshot');
      }
      return softDeleteOrphans(db.pool, runId, sourceId, source.maxDeleteRatio, payload.incompleteReason);
    },
  };
}
