// The `etl-ingest` Schedule, created or updated idempotently. An update keeps the schedule's state
// (paused or not, and the operator's note), so redeploying never silently unpauses a paused pipeline.
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleSpec } from '@temporalio/client';
import type { Logger } from '../logger.ts';
import type { Settings } from '../settings.ts';
import { ingest } from '../workflows/index.ts';

export function scheduleSpec(settings: Settings): ScheduleSpec {
  return settings.ETL_SCHEDULE_CRON
    ? { cronExpressions: [settings.ETL_SCHEDULE_CRON] }
    : { intervals: [{ every: settings.ETL_SCHEDULE_INTERVAL as `${number}h` }] };
}

export async function applySchedule(client: Client, settings: Settings, log: Logger): Promise<'created' | 'updated'> {
  const scheduleId = settings.ETL_SCHEDULE_ID;
  const spec = scheduleSpec(settings);
  const action = {
    type: 'startWorkflow' as const,
    workflowType: ingest,
    args: [{}] as [{}],
    taskQueue: settings.ETL_TASK_QUEUE,
    // the Schedule appends the scheduled time, so every run gets its own workflow id
    workflowId: scheduleId,
  };
  // Skip: a run that outlasts the interval is never doubled; a manual trigger while one runs is skipped too.
  // catchupWindow: after server downtime, only runs missed within the window are made up for.
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: settings.ETL_SCHEDULE_CATCHUP_WINDOW as `${number}h` };
  try {
    await client.schedule.create({ scheduleId, spec, action, policies, state: { note: 'created by the etl service' } });
    log.info({ scheduleId, spec }, 'schedule created');
    return 'created';
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
  }
  await client.schedule.getHandle(scheduleId).update((previous) => ({ ...previous, spec, action, policies, state: previous.state }));
  log.info({ scheduleId, spec }, 'schedule updated (pause state and note kept)');
  return 'updated';
}
