import { Context } from '@temporalio/activity';
import { purgeSoftDeleted } from '../db/retention.ts';
import type { ActivityDeps } from './common.ts';

export function retentionActivities({ db }: ActivityDeps) {
  return {
    /** Hard-deletes records soft-deleted more than `olderThanDays` ago. Safe to repeat. */
    async purgeSoftDeleted({ olderThanDays }: { olderThanDays: number }): Promise<{ records: number; entities: number }> {
      const ctx = Context.current();
      return purgeSoftDeleted(db.pool, olderThanDays, (records) => ctx.heartbeat({ records }));
    },
  };
}
