// `node src/schedule.ts --trigger`, compose's schedule job, as a process against a real Temporal dev server: it
// applies the schedules and starts a first run; run again (a second `docker compose up`), it starts none, since
// the schedule started one already; --trigger=always starts one whatever.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { projectRoot } from '../../src/settings.ts';
import { startTemporal, taskQueue, waitFor } from '../helpers.ts';

const run = promisify(execFile);

describe('the schedule job (node src/schedule.ts --trigger)', () => {
  let env: TestWorkflowEnvironment;
  const queue = taskQueue('schedule-job');
  const scheduleId = `etl-ingest-${queue}`;

  before(async function () {
    this.timeout(60_000);
    env = await startTemporal();
  });
  after(async () => {
    await env?.teardown();
  });

  const job = (...args: string[]) =>
    run(
      path.join(projectRoot, 'node_modules', '.bin', 'node'),
      [path.join(projectRoot, 'src', 'schedule.ts'), ...args],
      {
        env: {
          PATH: process.env.PATH ?? '',
          TEMPORAL_ADDRESS: env.address,
          TEMPORAL_NAMESPACE: 'default',
          ETL_TASK_QUEUE: queue,
          ETL_SCHEDULE_ID: scheduleId,
          LOG_LEVEL: 'info',
        },
      },
    );
  const runsStarted = async () => (await env.client.schedule.getHandle(scheduleId).describe()).info.numActionsTaken;

  it('starts a first run once, however often it runs; --trigger=always starts another', async function () {
    this.timeout(60_000);
    const first = await job('--trigger');
    assert.match(first.stdout, /"msg":"run triggered"/);
    await waitFor('the first run to start', async () => ((await runsStarted()) === 1 ? true : undefined));

    const second = await job('--trigger');
    assert.match(second.stdout, /no run triggered/);
    assert.equal(await runsStarted(), 1, 'no second run');

    await job('--trigger=always');
    await waitFor('the second run to start', async () => ((await runsStarted()) === 2 ? true : undefined));

    await assert.rejects(job('--trigger=sometimes'), (error: Error & { code: number }) => error.code === 2);
  });
});
