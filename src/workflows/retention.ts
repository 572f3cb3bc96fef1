// The retention workflow, started daily by the `etl-retention` schedule: soft-deleted records are kept for
// `olderThanDays` (default 90) so a wrong delete can still be undone by the source, then removed for good; raw
// observations are kept for `quoteRetentionDays`, then rolled up to daily OHLC and their partitions dropped.
import { patched, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';

const { purgeSoftDeleted, rollUpQuotes } = proxyActivities<Activities>({
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 10 },
});

export interface RetentionResult {
  records: number;
  entities: number;
  /** The raw partitions rolled up and dropped, and those created ahead. */
  quotes?: { dropped: string[]; days: number; rawFrom: string | null; created: string[] };
}

export async function retention({
  olderThanDays = 90,
  quoteRetentionDays = 400,
}: {
  olderThanDays?: number;
  quoteRetentionDays?: number;
} = {}): Promise<RetentionResult> {
  const purged = await purgeSoftDeleted({ olderThanDays });
  // runs recorded before the time series existed ended here
  if (!patched('quote-rollup')) return purged;
  return { ...purged, quotes: await rollUpQuotes({ olderThanDays: quoteRetentionDays }) };
}
