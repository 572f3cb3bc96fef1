// End to end, the way an operator runs it: the `etl-ingest` Schedule is applied, triggered with the real
// `temporal schedule trigger` CLI against a real Temporal dev server, and the run's rows are checked in
// PostgreSQL and through GET /data.
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo, Server } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { createApp } from '../../src/api/app.ts';
import type { Database } from '../../src/db/orm.ts';
import { loadSettings, projectRoot } from '../../src/settings.ts';
import { createSourceServer, type SourceServer } from '../../src/sourceserver/server.ts';
import { applySchedules } from '../../src/temporal/schedule.ts';
import { progressQuery } from '../../src/workflows/observability.ts';
import { createWorker } from '../../src/temporal/worker.ts';
import type { RunSummary } from '../../src/activities/index.ts';
import {
  fetchJson,
  quietLog,
  startTemporal,
  taskQueue,
  temporalCli,
  testDatabase,
  truncateAll,
  waitFor,
} from '../helpers.ts';

const run = promisify(execFile);

describe('e2e: schedule etl-ingest triggered by the temporal CLI (real Temporal dev server, real PostgreSQL)', () => {
  let env: TestWorkflowEnvironment;
  let db: Database;
  let worker: Worker;
  let working: Promise<void>;
  let api: Server;
  let baseUrl: string;
  let sources: SourceServer;
  const savedSourceServerUrl = process.env.ETL_SOURCE_SERVER_URL;
  const queue = taskQueue('e2e');
  const settings = loadSettings({
    ETL_TASK_QUEUE: queue,
    ETL_SOURCES_FILE: path.join(projectRoot, 'config', 'sources.demo.yaml'),
  });
  const cli = (...args: string[]) => run(temporalCli(), [...args, '--address', env.address, '--namespace', 'default']);

  before(async function () {
    this.timeout(60_000);
    // one after the other: a failed database start must not strand a running dev server
    db = await testDatabase();
    env = await startTemporal();
    await truncateAll(db);
    // the demo sources file reads the local source server's URL from the environment, as under make dev
    sources = createSourceServer({ root: path.join(projectRoot, 'data', 'demo') });
    process.env.ETL_SOURCE_SERVER_URL = await sources.listen(0);
    worker = await createWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue: queue,
      db,
      sourcesFile: settings.ETL_SOURCES_FILE,
    });
    working = worker.run();
    api = createApp({ db, temporal: env.client, log: quietLog }).listen(0, '127.0.0.1');
    await once(api, 'listening');
    baseUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  });
  after(async () => {
    if (savedSourceServerUrl === undefined) delete process.env.ETL_SOURCE_SERVER_URL;
    else process.env.ETL_SOURCE_SERVER_URL = savedSourceServerUrl;
    await sources?.close();
    api?.close();
    worker?.shutdown();
    await working;
    await db?.close();
    await env?.teardown();
  });

  it('runs the ingest workflow when triggered with `temporal schedule trigger --schedule-id etl-ingest`', async () => {
    assert.deepEqual(await applySchedules(env.client, settings, quietLog), {
      'etl-ingest': 'created',
      'etl-retention': 'created',
    });
    const description = await env.client.schedule.getHandle('etl-ingest').describe();
    assert.equal(description.policies.overlap, 'SKIP');
    assert.equal(description.policies.catchupWindow, 3_600_000);
    assert.deepEqual(
      description.spec.intervals?.map((i) => i.every),
      [6 * 3_600_000],
    );

    await cli('schedule', 'trigger', '--schedule-id', 'etl-ingest');
    const workflowId = await waitFor('the scheduled workflow', async () => {
      for await (const wf of env.client.workflow.list({ query: `TemporalScheduledById = 'etl-ingest'` }))
        return wf.workflowId;
      return undefined;
    });
    assert.match(workflowId, /^etl-ingest-/);
    const summary = (await env.client.workflow.getHandle(workflowId).result()) as RunSummary;
    assert.equal(summary.status, 'succeeded');

    const { rows } = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM record WHERE source_id = 'csv-assets' AND deleted_at IS NULL`,
    );
    assert.equal(rows[0]!.n, 50);
    for (const [source, total] of [
      ['coinpaprika', 150],
      ['coingecko', 100],
      ['csv-assets', 50],
      ['csv-quirky', 11],
      ['rss-news', 7],
    ] as const) {
      const { body } = await fetchJson(`${baseUrl}/data?source=${source}&limit=1`);
      assert.equal(body.total, total, `GET /data?source=${source}`);
    }
    const runRow = (await db.pool.query('SELECT workflow_id, status FROM run WHERE id = $1', [summary.runId])).rows[0];
    assert.deepEqual(runRow, { workflow_id: workflowId, status: 'succeeded' });

    const { body: page } = await fetchJson(`${baseUrl}/data?limit=10&source=csv-assets`);
    assert.equal(page.total, 50);
    assert.equal(page.data.length, 10);
    assert.equal(page.data[0].source, 'csv-assets');
    assert.ok(page.request_id);
    assert.equal(typeof page.api_latency_ms, 'number');
    const { body: btc } = await fetchJson(`${baseUrl}/data?symbol=btc&source=csv-assets`);
    assert.deepEqual(
      btc.data.map((r: { source_key: string; price_usd: string }) => [r.source_key, r.price_usd]),
      [['bitcoin', '32797']],
    );

    const listed = await cli('workflow', 'list', '--query', `WorkflowId = '${workflowId}'`);
    assert.match(listed.stdout, /Completed/);
    // operators find runs by outcome and source with the typed search attributes the workflow sets
    const found = await cli(
      'workflow',
      'list',
      '--query',
      `EtlOutcome = 'succeeded' AND EtlSources = 'coingecko'`,
      '--output',
      'json',
    );
    assert.deepEqual(
      (JSON.parse(found.stdout) as { execution: { workflowId: string } }[]).map((w) => w.execution.workflowId),
      [workflowId],
    );
    const handle = env.client.workflow.getHandle(workflowId);
    const progress = await handle.query(progressQuery);
    assert.deepEqual(
      Object.values(progress.sources).map((s) => s.stage),
      ['succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded'],
    );
    const run = await handle.describe();
    assert.match((await run.staticSummary()) ?? '', /ETL ingest of 5 sources/);
    assert.match((await run.staticDetails()) ?? '', /\*\*coingecko\*\* \(coingecko, delete policy snapshot\)/);

    const { body: health } = await fetchJson(`${baseUrl}/health`);
    assert.deepEqual([health.status, health.database, health.temporal], ['ok', 'up', 'up']);
    assert.equal(health.last_run.workflow_id, workflowId);
  });

  it('keeps a paused schedule paused, with its note, when the service re-applies it', async () => {
    const handle = env.client.schedule.getHandle('etl-ingest');
    await handle.pause('paused for maintenance');
    assert.equal(
      (await applySchedules(env.client, { ...settings, ETL_SCHEDULE_INTERVAL: '2h' }, quietLog))['etl-ingest'],
      'updated',
    );
    const description = await handle.describe();
    assert.equal(description.state.paused, true);
    assert.equal(description.state.note, 'paused for maintenance');
    assert.deepEqual(
      description.spec.intervals?.map((i) => i.every),
      [2 * 3_600_000],
    );
  });
});
