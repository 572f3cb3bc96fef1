// The schedules, created or updated idempotently: `etl-ingest` (every ETL_SCHEDULE_INTERVAL, or a cron
// expression) and `etl-retention` (daily). An update keeps the schedule's state (paused or not, and the
// operator's note), so redeploying never silently unpauses a paused pipeline.
import {
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptionsStartWorkflowAction,
  type ScheduleSpec,
} from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import type { Logger } from '../logger.ts';
import type { Settings } from '../settings.ts';
import { loadSourcesConfig } from '../sources/config.ts';
import { ingest, retention } from '../workflows/index.ts';

export const RETENTION_SCHEDULE_ID = 'etl-retention';

export function scheduleSpec(settings: Settings): ScheduleSpec {
  return settings.ETL_SCHEDULE_CRON
    ? { cronExpressions: [settings.ETL_SCHEDULE_CRON] }
    : { intervals: [{ every: settings.ETL_SCHEDULE_INTERVAL as `${number}h` }] };
}

/** What the Web UI shows at the top of an ingest run's page: its static summary and details. */
export function runDescription(
  sourcesFile: string,
  sourceIds?: string[],
): { staticSummary: string; staticDetails: string } {
  const sources = loadSourcesConfig(sourcesFile).filter((s) => !sourceIds?.length || sourceIds.includes(s.id));
  return {
    staticSummary: `ETL ingest of ${sources.length} sources: fetch, store raw, normalize, dedupe, soft-delete orphans, link entities`,
    staticDetails: [
      `Sources from \`${sourcesFile}\`:`,
      '',
      ...sources.map((s) => `- **${s.id}** (${s.kind}, delete policy ${s.deletePolicy}): ${s.url}`),
    ].join('\n'),
  };
}

export async function applySchedules(
  client: Client,
  settings: Settings,
  log: Logger,
): Promise<Record<string, 'created' | 'updated'>> {
  return {
    [settings.ETL_SCHEDULE_ID]: await apply(
      client,
      log,
      settings.ETL_SCHEDULE_ID,
      scheduleSpec(settings),
      settings.ETL_SCHEDULE_CATCHUP_WINDOW,
      {
        type: 'startWorkflow',
        workflowType: ingest,
        args: [{}],
        taskQueue: settings.ETL_TASK_QUEUE,
        // the Schedule appends the scheduled time, so every run gets its own workflow id
        workflowId: settings.ETL_SCHEDULE_ID,
        ...runDescription(settings.ETL_SOURCES_FILE),
      },
    ),
    [RETENTION_SCHEDULE_ID]: await apply(client, log, RETENTION_SCHEDULE_ID, { intervals: [{ every: '1d' }] }, '1d', {
      type: 'startWorkflow',
      workflowType: retention,
      args: [{ olderThanDays: settings.ETL_RETENTION_DAYS, quoteRetentionDays: settings.ETL_QUOTE_RETENTION_DAYS }],
      taskQueue: settings.ETL_TASK_QUEUE,
      workflowId: RETENTION_SCHEDULE_ID,
      staticSummary:
        `ETL retention: hard-delete records soft-deleted more than ${settings.ETL_RETENTION_DAYS} days ago; ` +
        `roll raw quotes older than ${settings.ETL_QUOTE_RETENTION_DAYS} days up to daily OHLC and drop their partitions`,
    }),
  };
}

async function apply<W extends Workflow>(
  client: Client,
  log: Logger,
  scheduleId: string,
  spec: ScheduleSpec,
  catchupWindow: string,
  action: ScheduleOptionsStartWorkflowAction<W>,
): Promise<'created' | 'updated'> {
  // Skip: a run that outlasts the interval is never doubled; a manual trigger while one runs is skipped too.
  // catchupWindow: after server downtime, only runs missed within the window are made up for.
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: catchupWindow as `${number}h` };
  try {
    await client.schedule.create({ scheduleId, spec, action, policies, state: { note: 'created by the etl service' } });
    log.info({ scheduleId, spec }, 'schedule created');
    return 'created';
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
  }
  await client.schedule
    .getHandle(scheduleId)
    .update<W>((previous) => ({ ...previous, spec, action, policies, state: previous.state }));
  log.info({ scheduleId, spec }, 'schedule updated (pause state and note kept)');
  return 'updated';
}
