// Load's orphan decision: whether this payload may soft-delete the records it no longer has at all (its
// source's delete policy, its series, whether it is a whole stored snapshot), before the delete guard
// (src/load/delete-guard.ts) weighs the counts. Plain inputs only, so it runs without Temporal. The merge
// itself (dedupe) is one statement of src/db/merge.ts that the activity calls directly.
import { softDeleteOrphans, type OrphanCounts } from '../db/merge.ts';
import type { Database } from '../db/orm.ts';
import { payloadInfo } from '../db/raw.ts';
import { runSeries } from '../db/runs.ts';
import { Refusal } from './refusal.ts';
import type { SourceConfig } from '../sources/config.ts';

/** `temporalRunId`: the workflow execution that deletes, kept with the deletes (a retry shares it, a reset does not). */
export async function deleteOrphans(
  db: Database,
  { runId, payloadId }: { runId: number; payloadId: number },
  source: SourceConfig,
  temporalRunId: string,
): Promise<OrphanCounts> {
  const sourceId = source.id;
  if (source.deletePolicy !== 'snapshot')
    return { softDeleted: 0, deleteGuard: `delete_policy is ${source.deletePolicy}` };
  // a history says what was true when; a key missing from it was not deleted from anything
  if ((await runSeries(db.pool, runId, sourceId)) === 'history')
    return { softDeleted: 0, deleteGuard: 'a history source: keys missing from it are not orphans' };
  const payload = await payloadInfo(db.pool, payloadId);
  if (payload.status !== 'stored') {
    throw new Refusal(
      'IncompleteSnapshot',
      `source '${sourceId}': payload ${payloadId} is ${payload.status}, not a stored snapshot; nothing may be deleted`,
    );
  }
  const limits = {
    maxDeleteRatio: source.maxDeleteRatio,
    maxQuarantineRatio: source.maxQuarantineRatio,
    incompleteReason: payload.incompleteReason,
    windowDays: source.deleteGuardWindowDays,
  };
  return softDeleteOrphans(db.pool, runId, sourceId, payloadId, limits, temporalRunId);
}
