// The retention workflow, started daily by the `etl-retention` schedule: soft-deleted records are kept for
// `olderThanDays` (default 90) so a wrong delete can still be undone by the source, then removed for good.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';

const { purgeSoftDeleted } = proxyActivities<Activities>({
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 10 },
});

export async function retention({ olderThanDays = 90 }: { olderThanDays?: number } = {}): Promise<{ records: number; entities: number }> {
  return await purgeSoftDeleted({ olderThanDays });
}
