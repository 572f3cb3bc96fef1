// Load: merge the staged records (within-source dedupe, unchanged rows skipped by content hash), then
// soft-delete the records a complete snapshot no longer has, behind the delete guard.
import { ApplicationFailure } from '@temporalio/activity';
import { resolveEntities, type IdentityCounts } from '../db/identity.ts';
import { mergeStaged, softDeleteOrphans, type MergeCounts, type OrphanCounts } from '../db/merge.ts';
import { payloadInfo } from '../db/raw.ts';
import { adapterFor } from '../sources/index.ts';
import { sourceById, type ActivityDeps, type PayloadStep, type SourceStep } from './common.ts';

export type { IdentityCounts, MergeCounts, OrphanCounts };

export function loadActivities({ db, sourcesFile }: ActivityDeps) {
  return {
    /** Within the source: one record per key, the latest winning; unchanged rows are not written. */
    async dedupe({ runId, sourceId, payloadId }: PayloadStep): Promise<MergeCounts> {
      const source = sourceById(sourcesFile, sourceId);
      return mergeStaged(db.pool, runId, sourceId, adapterFor(source).recordKind, payloadId);
    },

    /** Across sources: links the source's records without an entity (new ones, or sent back by an override). */
    async resolveEntities({ runId, sourceId }: SourceStep): Promise<IdentityCounts> {
      const source = sourceById(sourcesFile, sourceId);
      return resolveEntities(db.pool, runId, sourceId, adapterFor(source).recordKind);
    },

    async softDeleteOrphans({ runId, sourceId, payloadId }: PayloadStep): Promise<OrphanCounts> {
      const source = sourceById(sourcesFile, sourceId);
      if (source.deletePolicy !== 'snapshot') return { softDeleted: 0, deleteGuard: `delete_policy is ${source.deletePolicy}` };
      const payload = await payloadInfo(db.pool, payloadId);
      if (payload.status !== 'stored') {
        throw ApplicationFailure.nonRetryable(`source '${sourceId}': payload ${payloadId} is ${payload.status}, not a stored snapshot; nothing may be deleted`, 'IncompleteSnapshot');
      }
      return softDeleteOrphans(db.pool, runId, sourceId, { maxDeleteRatio: source.maxDeleteRatio, maxQuarantineRatio: source.maxQuarantineRatio, incompleteReason: payload.incompleteReason });
    },
  };
}
