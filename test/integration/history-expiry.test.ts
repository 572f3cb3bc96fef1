// The Web UI links of runs against a real Temporal dev server's namespace retention: a run that finished longer
// ago than the retention gets no link (Temporal has deleted its history, the page would be a 404) and says so,
// in GET /runs, /runs/:id, /runs/:id/history and /data/:id; a younger one keeps its link. The retention is read
// from Temporal, so changing it changes the answer.
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo, Server } from 'node:net';
import { createApp } from '../../src/api/app.ts';
import { RecordDetail, RunDetail, RunPage } from '../../src/api/schemas.ts';
import type { Database } from '../../src/db/orm.ts';
import { loadSettings } from '../../src/settings.ts';
import { ensureRetention, namespaceRetentionMs } from '../../src/temporal/retention.ts';
import { fetchJson, quietLog, startTemporal, testDatabase, waitFor } from '../helpers.ts';
import { seedApiData } from '../schemathesis/seed.ts';

const DAY = 86_400_000;

describe("Web UI links and the namespace's retention (real Temporal dev server)", () => {
  let env: TestWorkflowEnvironment;
  let db: Database;
  const servers: Server[] = [];
  // the runs this suite adds after the seeded ones
  let old: number;
  let recent: number;
  let running: number;
  let finishedOld: Date;

  before(async function () {
    this.timeout(60_000);
    env = await startTemporal();
    db = await testDatabase();
    await seedApiData(db);
    const { rows } = await db.pool.query<{ id: string; finished_at: string | null }>(`
      INSERT INTO run (workflow_id, temporal_run_id, original_run_id, status, started_at, finished_at)
      VALUES ('wf-old', '00000000-0000-4000-8000-00000000a001', '00000000-0000-4000-8000-00000000a001', 'succeeded', now() - interval '10 days 1 minute', now() - interval '10 days'),
             ('wf-recent', '00000000-0000-4000-8000-00000000a002', '00000000-0000-4000-8000-00000000a002', 'succeeded', now() - interval '61 minutes', now() - interval '1 hour'),
             ('wf-running', '00000000-0000-4000-8000-00000000a003', '00000000-0000-4000-8000-00000000a003', 'running', now() - interval '20 days', NULL)
      RETURNING id, finished_at`);
    [old, recent, running] = rows.map((r) => Number(r.id)) as [number, number, number];
    finishedOld = new Date(rows[0]!.finished_at!);
    // records 1 and 2 were last written by the old and the recent run
    await db.pool.query(
      'UPDATE record SET run_id = CASE id WHEN 1 THEN $1::bigint ELSE $2::bigint END WHERE id IN (1, 2)',
      [old, recent],
    );
  });
  after(async () => {
    for (const server of servers) server.close();
    await db?.close();
    await env?.teardown();
  });

  /** Sets the namespace's retention, waits until Temporal answers with it, and serves a fresh API (fresh cache). */
  async function apiWithRetention(days: number): Promise<(path: string) => ReturnType<typeof fetchJson>> {
    await ensureRetention(env.client, 'default', days * DAY, quietLog);
    await waitFor('the new retention', async () =>
      (await namespaceRetentionMs(env.client, 'default')) === days * DAY ? true : undefined,
    );
    const settings = loadSettings({ TEMPORAL_UI_URL: 'http://ui.test:8233' });
    const server = createApp({ db, temporal: env.client, log: quietLog, settings }).listen(0, '127.0.0.1');
    servers.push(server);
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return (path) => fetchJson(url + path);
  }

  it('a run older than the retention has no Web UI link and says its history expired; a younger one keeps its link', async () => {
    const get = await apiWithRetention(3);

    const expired = await get(`/runs/${old}`);
    assert.equal(expired.status, 200);
    RunDetail.parse(expired.body);
    assert.equal(expired.body.data.ui_url, null);
    assert.equal(expired.body.data.history_expired, true);
    assert.equal(expired.body.data.history_expires_at, new Date(finishedOld.getTime() + 3 * DAY).toISOString());

    const kept = await get(`/runs/${recent}`);
    assert.equal(kept.status, 200);
    assert.equal(kept.body.data.history_expired, false);
    assert.equal(
      kept.body.data.ui_url,
      'http://ui.test:8233/namespaces/default/workflows/wf-recent/00000000-0000-4000-8000-00000000a002',
    );
    assert.equal(
      Date.parse(kept.body.data.history_expires_at) - Date.parse(kept.body.data.finished_at),
      3 * DAY,
      'expires one retention after it finished',
    );

    // a running run's history is kept whatever its age: it expires only once it closes
    const page = await get('/runs?limit=100');
    RunPage.parse(page.body);
    const listed = page.body.data.find((r: { id: number }) => r.id === running);
    assert.deepEqual(
      [listed.history_expired, listed.history_expires_at, typeof listed.ui_url],
      [false, null, 'string'],
    );
    assert.equal(page.body.data.find((r: { id: number }) => r.id === old).ui_url, null);

    // the lineage of a record hands out the same link, or none
    const lineageOld = await get('/data/1');
    RecordDetail.parse(lineageOld.body);
    assert.deepEqual(
      [lineageOld.body.lineage.run.id, lineageOld.body.lineage.run.ui_url, lineageOld.body.lineage.run.history_expired],
      [old, null, true],
    );
    const lineageRecent = await get('/data/2');
    assert.equal(lineageRecent.body.lineage.run.id, recent);
    assert.match(lineageRecent.body.lineage.run.ui_url, /\/workflows\/wf-recent\//);

    // the history endpoint says why Temporal has nothing
    const history = await get(`/runs/${old}/history`);
    assert.equal(history.status, 404);
    assert.ok(
      history.body.detail.includes(
        `history of run ${old} (workflow wf-old) expired at ${new Date(finishedOld.getTime() + 3 * DAY).toISOString()}`,
      ),
      history.body.detail,
    );
  });

  it('reads the retention from Temporal: a longer one brings the link of the same run back', async () => {
    const get = await apiWithRetention(30);
    const res = await get(`/runs/${old}`);
    assert.equal(res.body.data.history_expired, false);
    assert.equal(
      res.body.data.ui_url,
      'http://ui.test:8233/namespaces/default/workflows/wf-old/00000000-0000-4000-8000-00000000a001',
    );
    assert.equal(res.body.data.history_expires_at, new Date(finishedOld.getTime() + 30 * DAY).toISOString());
  });
});
