import { Context } from '@temporalio/activity';
import { purgeSoftDeleted } from '../db/retention.ts';
import { Progress, type ActivityDeps } from './common.ts';

export function retentionActivities({ db }: ActivityDeps) {
  return {
    /** Hard-deletes records soft-deleted more than `olderThanDays` ago. Safe to repeat. */
    async purgeSoftDeleted({ olderThanDays }: { olderThanDays: number }): Promise<{ records: number; entities: number }> {
      const progress = new Progress(Context.current());
      try {
        return await purgeSoftDeleted(db.pool, olderThanDays, (records) => progress.beat({ records }));
      } finally {
        progress.stop();
      }
    },
  };
}
