import { Context } from '@temporalio/activity';
import { ensurePartitions, monthsAhead, rollUpExpired, type RetentionOutcome } from '../db/quotes.ts';
import { purgeSoftDeleted } from '../db/retention.ts';
import { Progress, type ActivityDeps } from './common.ts';

/** Months of quote partitions kept ready beyond the current one. */
const PARTITIONS_AHEAD = 2;

export function retentionActivities({ db }: ActivityDeps) {
  return {
    /**
     * The time series' upkeep: raw partitions that ended more than `olderThanDays` ago are rolled up into daily
     * OHLC and dropped; the partitions of this month and the next ones exist before data arrives. Safe to repeat.
     */
    async rollUpQuotes({
      olderThanDays,
    }: {
      olderThanDays: number;
    }): Promise<RetentionOutcome & { created: string[] }> {
      const progress = new Progress(Context.current());
      try {
        const rolled = await rollUpExpired(db.pool, olderThanDays, new Date(), (name) =>
          progress.beat({ dropped: name }),
        );
        return { ...rolled, created: await ensurePartitions(db.pool, monthsAhead(new Date(), PARTITIONS_AHEAD)) };
      } finally {
        progress.stop();
      }
    },

    /** Hard-deletes records soft-deleted more than `olderThanDays` ago. Safe to repeat. */
    async purgeSoftDeleted({
      olderThanDays,
    }: {
      olderThanDays: number;
    }): Promise<{ records: number; entities: number }> {
      const progress = new Progress(Context.current());
      try {
        return await purgeSoftDeleted(db.pool, olderThanDays, (records) => progress.beat({ records }));
      } finally {
        progress.stop();
      }
    },
  };
}
