// The API endpoints that need Temporal, against a real Temporal dev server and a real worker: POST /runs
// starts the ingest workflow (which really runs), /runs/:id/history summarizes its real event history
// (including a retried activity), the schedule's pause switch, and /health with the schedule state.
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import path from 'node:path';
import { createApp } from '../../src/api/app.ts';
import { Health, RunHistory, RunStarted, ScheduleResponse } from '../../src/api/schemas.ts';
import type { Database } from '../../src/db/orm.ts';
import { loadSettings, projectRoot, type Settings } from '../../src/settings.ts';
import { createSourceServer, type SourceServer } from '../../src/sourceserver/server.ts';
import { applySchedules } from '../../src/temporal/schedule.ts';
import { createWorker } from '../../src/temporal/worker.ts';
import { fetchJson, quietLog, startTemporal, taskQueue, tempDir, testDatabase, waitFor } from '../helpers.ts';
import { truncateApiTables } from '../schemathesis/seed.ts';

const API_KEY = 'temporal-test-key-0123456789';

describe('API with a real Temporal dev server (POST /runs, history, schedules, health)', () => {
  let env: TestWorkflowEnvironment;
  let db: Database;
  let worker: Worker;
  let working: Promise<void>;
  let api: Server;
  let url: string;
  let sources: SourceServer;
  let settings: Settings;
  const queue = taskQueue('api');

  before(async function () {
    this.timeout(60_000);
    // one after the other: if the database fails, `env` is already set and after() still stops the server
    env = await startTemporal();
    db = await testDatabase();
    await truncateApiTables(db);
    sources = createSourceServer({ root: path.join(projectRoot, 'data', 'demo') });
    const sourceUrl = await sources.listen(0);
    const dir = tempDir('api-temporal');
    const sourcesFile = path.join(dir, 'sources.yaml');
    fs.writeFileSync(
      sourcesFile,
      [
        'sources:',
        '  - id: csv-assets',
        '    kind: csv',
        `    url: ${sourceUrl}/files/assets.csv`,
        '    delete_policy: snapshot',
        '  - id: coingecko',
        '    kind: coingecko',
        `    url: ${sourceUrl}/coingecko/api/v3/coins/markets?vs_currency=usd`,
        '    paging: { per_page: 10 }',
        '',
      ].join('\n'),
    );
    settings = loadSettings({
      API_KEY,
      ETL_TASK_QUEUE: queue,
      ETL_SOURCES_FILE: sourcesFile,
      ETL_SCHEDULE_ID: `etl-ingest-${queue}`,
      TEMPORAL_UI_URL: 'http://ui.test',
    });
    worker = await createWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue: queue,
      db,
      sourcesFile,
    });
    working = worker.run();
    api = createApp({ db, temporal: env.client, log: quietLog, settings }).listen(0, '127.0.0.1');
    await once(api, 'listening');
    url = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  });
  after(async () => {
    api?.close();
    worker?.shutdown();
    await working;
    await sources?.close();
    await db?.close();
    await env?.teardown();
  });

  const post = (p: string, body: unknown, key: string | null = API_KEY) =>
    fetchJson(url + p, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key === null ? {} : { 'X-API-Key': key }) },
      body: JSON.stringify(body),
    });
  const get = (p: string) => fetchJson(url + p);

  it('POST /runs starts the ingest workflow (202), and GET /runs/:id/history summarizes its real history, retries included', async () => {
    // the first fetch gets a 503: fetchSource is retried once, which the history must show
    sources.setFaults([{ path: '/files/assets.csv', status: 503, times: 1 }]);
    assert.equal((await post('/runs', {}, null)).status, 401);
    assert.equal((await post('/runs', {}, 'wrong-key')).status, 401);
    const started = await post('/runs', { source_ids: ['csv-assets'] });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    RunStarted.parse(started.body);
    assert.match(started.body.workflow_id, /^etl-manual-[0-9a-f-]{36}$/);
    assert.deepEqual(started.body.source_ids, ['csv-assets']);
    assert.equal(
      started.body.ui_url,
      `http://ui.test/namespaces/default/workflows/${started.body.workflow_id}/${started.body.temporal_run_id}`,
    );

    const summary = await env.client.workflow.getHandle(started.body.workflow_id).result();
    assert.equal(summary.status, 'succeeded');

    const runs = await get('/runs?limit=5');
    const run = runs.body.data.find((r: { workflow_id: string }) => r.workflow_id === started.body.workflow_id);
    assert.ok(run, 'the started run is listed');
    assert.equal(run.status, 'succeeded');
    assert.equal(run.sources[0].inserted, 50);

    const history = await get(`/runs/${run.id}/history`);
    assert.equal(history.status, 200, JSON.stringify(history.body));
    RunHistory.parse(history.body);
    const { data } = history.body;
    assert.equal(data.status, 'completed');
    assert.equal(data.workflow_type, 'ingest');
    assert.ok(data.duration_ms > 0);
    const byType = Object.fromEntries(data.activities.map((a: { type: string }) => [a.type, a]));
    for (const type of [
      'startRun',
      'fetchSource',
      'storeRaw',
      'normalize',
      'dedupe',
      'softDeleteOrphans',
      'resolveEntities',
      'finishRun',
    ]) {
      assert.equal(byType[type]?.scheduled, 1, `${type} scheduled once`);
      assert.equal(byType[type]?.completed, 1, `${type} completed`);
    }
    assert.equal(byType.fetchSource.attempts, 2, 'the 503 cost one retry');
    assert.equal(byType.fetchSource.retries, 1);
    assert.ok(
      byType.fetchSource.failures.some((f: string) => /503/.test(f)),
      JSON.stringify(byType.fetchSource.failures),
    );
    assert.ok(byType.fetchSource.total_duration_ms >= 1000, 'retry backoff is part of the duration');
    assert.equal(byType.normalize.retries, 0);
  });

  it('GET /runs/:id says how far a running run is: the stage of each source and the pages its fetch has landed', async () => {
    // the first page answers at once, the second waits: the fetch is seen running with one page landed
    sources.setFaults([
      { path: '/coingecko', times: 1 },
      { path: '/coingecko', latencyMs: 6000, times: 1 },
    ]);
    const started = await post('/runs', { source_ids: ['coingecko'] });
    assert.equal(started.status, 202);
    const handle = env.client.workflow.getHandle(started.body.workflow_id);
    const seen = await waitFor('a progress with the pages landed', async () => {
      const runs = await get('/runs?limit=5');
      const run = runs.body.data.find((r: { workflow_id: string }) => r.workflow_id === started.body.workflow_id);
      const detail = run ? await get(`/runs/${run.id}`) : undefined;
      return detail?.body.progress?.[0]?.records != null ? detail.body.progress : undefined;
    });
    assert.deepEqual(seen, [{ source: 'coingecko', stage: 'fetch', records: 1, attempt: 1 }]);
    const summary = await handle.result();
    assert.equal(summary.status, 'succeeded');
    const done = await get(`/runs/${summary.runId}`);
    assert.equal(done.body.progress, null, 'an ended run has no progress');
    assert.equal(done.body.data.sources[0].fetched_pages, 10);
  });

  it('POST /runs without source_ids starts every configured source; unknown source ids are a 400', async () => {
    const started = await post('/runs', {});
    assert.equal(started.status, 202);
    assert.equal(started.body.source_ids, null);
    const description = await env.client.workflow.getHandle(started.body.workflow_id).describe();
    assert.equal(description.taskQueue, queue);
    assert.equal(description.type, 'ingest');
    await env.client.workflow.getHandle(started.body.workflow_id).result();
    const unknown = await post('/runs', { source_ids: ['csv-assets', 'nope'] });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.invalid_params[0].reason, /unknown sources: nope/);
  });

  it('GET /runs/:id/history answers 404 when Temporal does not know the run', async () => {
    const { rows } = await db.pool.query(
      `INSERT INTO run (workflow_id, temporal_run_id, original_run_id, status) VALUES ('gone-workflow', '9d7a1c1e-0000-4000-8000-000000000000', '9d7a1c1e-0000-4000-8000-000000000000', 'succeeded') RETURNING id`,
    );
    const res = await get(`/runs/${rows[0].id}/history`);
    assert.equal(res.status, 404);
    assert.match(res.body.detail, /no history/);
  });

  it('pauses and unpauses the ingest schedule with a note; /health shows the schedule state', async () => {
    const missing = await post(`/schedules/${settings.ETL_SCHEDULE_ID}/pause`, {});
    assert.equal(missing.status, 404, 'no schedule applied yet');
    const before = await get('/health');
    assert.deepEqual(before.body.schedule, { id: settings.ETL_SCHEDULE_ID, found: false });

    await applySchedules(env.client, settings, quietLog);
    assert.equal((await post(`/schedules/${settings.ETL_SCHEDULE_ID}/pause`, { note: 'x' }, 'wrong')).status, 401);
    const paused = await post(`/schedules/${settings.ETL_SCHEDULE_ID}/pause`, { note: 'maintenance window' });
    assert.equal(paused.status, 200, JSON.stringify(paused.body));
    ScheduleResponse.parse(paused.body);
    assert.equal(paused.body.data.paused, true);
    assert.equal(paused.body.data.note, 'maintenance window');
    assert.equal((await env.client.schedule.getHandle(settings.ETL_SCHEDULE_ID).describe()).state.paused, true);

    const health = await get('/health');
    assert.equal(health.status, 200);
    Health.parse(health.body);
    assert.equal(health.body.status, 'ok');
    assert.equal(health.body.temporal, 'up');
    assert.equal(health.body.schedule.paused, true);
    assert.equal(health.body.schedule.note, 'maintenance window');
    assert.ok(Array.isArray(health.body.schedule.next_action_times));

    const unpaused = await post(`/schedules/${settings.ETL_SCHEDULE_ID}/unpause`, {});
    assert.equal(unpaused.status, 200);
    assert.equal(unpaused.body.data.paused, false);
    assert.equal(unpaused.body.data.note, 'unpaused through the API');
    const next = (await get('/health')).body.schedule.next_action_times;
    assert.ok(next.length > 0 && Date.parse(next[0]) > Date.now(), 'an unpaused schedule has a next action');
  });
});
