// ETL_WORKER_ROLE: one worker process that polls only workflow tasks and one that polls only activity tasks
// complete a run between them, as real processes on one task queue; the workflow one never opens a database
// session, and every activity task of the run is done by the activity process.
import assert from 'node:assert/strict';
import os from 'node:os';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { RunSummary } from '../../src/activities/index.ts';
import type { Database } from '../../src/db/orm.ts';
import { csvSourceFixture, demoCsv, startTemporal, taskQueue, tempDir, testDatabase, truncateAll } from '../helpers.ts';
import { buildWorkflowBundle, startWorkerProcess, type WorkerProcess } from '../worker-process.ts';

describe('worker roles: workflow tasks and activity tasks in separate processes', () => {
  let env: TestWorkflowEnvironment;
  let db: Database;
  let bundle: string;
  const workers: WorkerProcess[] = [];
  before(async function () {
    this.timeout(120_000);
    [env, db] = await Promise.all([startTemporal(), testDatabase()]);
    bundle = await buildWorkflowBundle(tempDir('roles'));
    await truncateAll(db);
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    await db?.close();
    await env?.teardown();
  });

  it('runs an ingest with one process per role, every stage in the activity process, no database in the workflow one', async function () {
    this.timeout(120_000);
    const fixture = csvSourceFixture(tempDir('roles-src'));
    fixture.write(demoCsv());
    const queue = taskQueue('roles');
    const start = (role: string, env2: Record<string, string> = {}) => {
      const w = startWorkerProcess(env, {
        queue,
        sourcesFile: fixture.sourcesFile,
        workflowBundle: bundle,
        env: { ETL_WORKER_ROLE: role, ...env2 },
      });
      workers.push(w);
      return w;
    };
    // a database it could not reach: a workflow process that opened one would not start
    const workflows = start('workflows', { DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none' });
    const activities = start('activities');
    await Promise.all([workflows.ready(), activities.ready()]);

    const handle = await env.client.workflow.start('ingest', {
      taskQueue: queue,
      workflowId: `${queue}-run`,
      args: [{}],
    });
    const summary = (await handle.result()) as RunSummary;
    assert.equal(summary.status, 'succeeded', JSON.stringify(summary));
    const { rows } = await db.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM record WHERE source_id = 'csv-assets' AND deleted_at IS NULL",
    );
    assert.ok(rows[0]!.n > 0, 'the run wrote records');

    // every activity task of the run was completed by the activity process, none by the workflow one
    const identities = new Set<string>();
    for (const event of (await handle.fetchHistory()).events ?? []) {
      const started = event.activityTaskStartedEventAttributes;
      if (started?.identity) identities.add(started.identity);
    }
    assert.deepEqual([...identities], [`${activities.child.pid}@${os.hostname()}`]);
    assert.match(workflows.output(), /"role":"workflows"/);
  });
});
