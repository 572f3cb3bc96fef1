// Runs of one source in fetch order, and reprocessing that is safe whatever it is pointed at. Real PostgreSQL;
// the interleavings are driven activity by activity (MockActivityEnvironment, as runStages does), then once
// with real workflows on a real Temporal dev server, which also runs the reprocesses and the API.
import { MockActivityEnvironment, type TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Worker } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import path from 'node:path';
import { createActivities } from '../../src/activities/index.ts';
import type { RunSummary } from '../../src/activities/index.ts';
import { createApp } from '../../src/api/app.ts';
import type { Database } from '../../src/db/orm.ts';
import { loadSettings } from '../../src/settings.ts';
import { workflowBundle } from '../../src/temporal/bundle.ts';
import { createWorker } from '../../src/temporal/worker.ts';
import { ingest, reprocess, type ReprocessResult } from '../../src/workflows/index.ts';
import { progressQuery } from '../../src/workflows/observability.ts';
import {
  csvSourceFixture,
  quietLog,
  startTemporal,
  taskQueue,
  tempDir,
  testDatabase,
  truncateAll,
  waitFor,
} from '../helpers.ts';

const HEADER = 'id,symbol,name,price,last_updated';
const row = (id: string, symbol: string, price: number, at: string) =>
  `${id},${symbol},${id},${price},2024-03-01T${at}:00Z`;
const csv = (...rows: string[]) => `${HEADER}\n${rows.join('\n')}\n`;

// five coins, then two later fetches of them: A (btc repriced) and B (btc and eth repriced, xrp new, doge gone)
const SEED = csv(
  row('bitcoin', 'btc', 100, '00:00'),
  row('ether', 'eth', 10, '00:00'),
  row('solana', 'sol', 1, '00:00'),
  row('dogecoin', 'doge', 0.1, '00:00'),
  row('cardano', 'ada', 0.5, '00:00'),
);
const FETCH_A = csv(
  row('bitcoin', 'btc', 101, '06:00'),
  row('ether', 'eth', 10, '00:00'),
  row('solana', 'sol', 1, '00:00'),
  row('dogecoin', 'doge', 0.1, '00:00'),
  row('cardano', 'ada', 0.5, '00:00'),
);
const FETCH_B = csv(
  row('bitcoin', 'btc', 105, '12:00'),
  row('ether', 'eth', 11, '12:00'),
  row('solana', 'sol', 1, '00:00'),
  row('cardano', 'ada', 0.5, '00:00'),
  row('ripple', 'xrp', 0.6, '12:00'),
);

describe('runs of one source in fetch order, and safe reprocessing', () => {
  let db: Database;

  before(async () => {
    db = await testDatabase();
  });
  after(async () => {
    await db?.close();
  });
  beforeEach(() => truncateAll(db));

  const one = async <T = any>(sql: string, params: unknown[] = []): Promise<T> =>
    (await db.pool.query(sql, params)).rows[0];
  const all = async <T = any>(sql: string, params: unknown[] = []): Promise<T[]> =>
    (await db.pool.query(sql, params)).rows;
  const records = () =>
    all<{ source_key: string; price_usd: string; deleted: boolean; deleted_run_id: string | null }>(
      'SELECT source_key, price_usd, deleted_at IS NOT NULL AS deleted, deleted_run_id FROM record ORDER BY source_key',
    );
  const checkpoint = () => one('SELECT * FROM source_state WHERE source_id = $1', ['desk']);

  /** One run's activities, called one by one in a mock activity context of its own workflow id. */
  function runOf(sourcesFile: string, workflowId: string) {
    const activities = createActivities({ db, sourcesFile });
    const env = new MockActivityEnvironment(
      { workflowExecution: { workflowId, runId: `${workflowId}-temporal` } },
      { logger: new DefaultLogger('ERROR', () => {}) },
    );
    const call = <A extends unknown[], R>(activity: (...args: A) => Promise<R>, ...args: A) =>
      env.run(activity, ...args) as Promise<R>;
    let step = { runId: 0, sourceId: 'desk', payloadId: 0 };
    return {
      get runId() {
        return step.runId;
      },
      get payloadId() {
        return step.payloadId;
      },
      async fetch() {
        const { runId } = await call(activities.startRun, { sourceIds: ['desk'] });
        const fetched = await call(activities.fetchSource, { runId, sourceId: 'desk' });
        step = { runId, sourceId: 'desk', payloadId: fetched.payloadId };
        await call(activities.storeRaw, step);
      },
      normalize: () => call(activities.normalize, step),
      merge: () => call(activities.dedupe, step),
      deleteOrphans: () => call(activities.softDeleteOrphans, step),
      link: () => call(activities.resolveEntities, step),
      finish: (status: 'succeeded' | 'superseded', error?: string) =>
        call(activities.finishRun, {
          runId: step.runId,
          outcomes: [{ sourceId: 'desk', status, ...(error ? { error } : {}) }],
        }),
    };
  }

  async function seeded(dir: string) {
    const source = csvSourceFixture(dir, 'desk');
    source.write(SEED);
    const seed = runOf(source.sourcesFile, 'etl-ingest-seed');
    await seed.fetch();
    await seed.normalize();
    await seed.merge();
    await seed.deleteOrphans();
    await seed.finish('succeeded');
    return source;
  }

  describe('a manual and a scheduled run of one source, interleaved', () => {
    it('an older fetch merging after a newer one is superseded: it writes nothing, and deletes nothing of the newer run', async () => {
      const source = await seeded(tempDir('order'));
      const manual = runOf(source.sourcesFile, 'etl-manual-a');
      const scheduled = runOf(source.sourcesFile, 'etl-ingest-b');
      source.write(FETCH_A);
      await manual.fetch();
      source.write(FETCH_B);
      await scheduled.fetch();
      await scheduled.normalize();
      assert.equal((await scheduled.merge()).superseded, undefined);
      assert.equal((await scheduled.deleteOrphans()).softDeleted, 1);
      await scheduled.link();
      await scheduled.finish('succeeded');
      const before = {
        records: await records(),
        quotes: await all('SELECT * FROM quote ORDER BY record_id, observed_at'),
        checkpoint: await checkpoint(),
      };

      await manual.normalize();
      const merged = await manual.merge();
      assert.match(
        merged.superseded!,
        new RegExp(
          `^superseded: payload ${manual.payloadId} was fetched before payload ${scheduled.payloadId} \\(run ${scheduled.runId}, `,
        ),
      );
      assert.deepEqual([merged.inserted, merged.updated, merged.restored, merged.quotesAppended], [0, 0, 0, 0]);
      assert.deepEqual(await manual.merge(), merged, 'a retried merge gives the same answer');
      // the workflow stops the source here; an orphan check called anyway is refused the same way
      assert.deepEqual(await manual.deleteOrphans(), {
        softDeleted: 0,
        deleteGuard: null,
        superseded: merged.superseded,
      });
      await manual.link();
      const summary = await manual.finish('superseded', merged.superseded);

      assert.equal(summary.status, 'succeeded', 'a superseded source is no failure');
      assert.deepEqual(
        {
          records: await records(),
          quotes: await all('SELECT * FROM quote ORDER BY record_id, observed_at'),
          checkpoint: await checkpoint(),
        },
        before,
      );
      const live = (await records()).filter((r) => !r.deleted).map((r) => [r.source_key, r.price_usd]);
      assert.deepEqual(
        live,
        [
          ['bitcoin', '105'],
          ['cardano', '0.5'],
          ['ether', '11'],
          ['ripple', '0.6'],
          ['solana', '1'],
        ],
        "the newer run's values and its insert stand",
      );
      assert.equal(
        (await records()).find((r) => r.source_key === 'dogecoin')!.deleted_run_id,
        String(scheduled.runId),
        'what the newer run deleted stays deleted',
      );
      assert.equal(Number((await checkpoint()).last_payload_id), scheduled.payloadId);
      assert.equal(
        (await one('SELECT count(*)::int AS n FROM quote WHERE raw_payload_id = $1', [manual.payloadId])).n,
        0,
      );
      const closed = await one(
        'SELECT r.status AS run_status, r.error AS run_error, s.status, s.error FROM run r JOIN run_source s ON s.run_id = r.id WHERE r.id = $1',
        [manual.runId],
      );
      assert.deepEqual(closed, {
        run_status: 'succeeded',
        run_error: null,
        status: 'superseded',
        error: merged.superseded,
      });
    });

    it('a run that merged first and is overtaken before its orphan check deletes nothing the newer run inserted', async () => {
      const source = await seeded(tempDir('order-delete'));
      const manual = runOf(source.sourcesFile, 'etl-manual-a');
      const scheduled = runOf(source.sourcesFile, 'etl-ingest-b');
      source.write(FETCH_A);
      await manual.fetch();
      source.write(FETCH_B);
      await scheduled.fetch();
      await manual.normalize();
      assert.equal((await manual.merge()).updated, 1, 'the older fetch merged while it was the newest');
      await scheduled.normalize();
      assert.deepEqual(
        [(await scheduled.merge()).inserted, Number((await checkpoint()).last_payload_id)],
        [1, scheduled.payloadId],
      );

      const refused = await manual.deleteOrphans();
      assert.match(
        refused.superseded!,
        new RegExp(
          `payload ${manual.payloadId} was fetched before payload ${scheduled.payloadId} .*its orphans are not checked$`,
        ),
      );
      assert.equal(refused.softDeleted, 0);
      assert.equal(
        (await records()).find((r) => r.source_key === 'ripple')!.deleted,
        false,
        "the newer run's insert survives",
      );
      assert.equal((await one('SELECT status FROM run_source WHERE run_id = $1', [manual.runId])).status, 'superseded');
      assert.equal((await scheduled.deleteOrphans()).softDeleted, 1, 'the newer snapshot still deletes what it lacks');
      assert.deepEqual(
        (await records()).filter((r) => r.deleted).map((r) => r.source_key),
        ['dogecoin'],
      );
    });
  });

  describe('with real workflows', () => {
    let env: TestWorkflowEnvironment;
    before(async function () {
      this.timeout(60_000);
      env = await startTemporal();
    });
    after(async () => {
      await env?.teardown();
    });

    it('a manual run overtaken by a scheduled one ends superseded, the run succeeded, its progress says so', async () => {
      const source = await seeded(tempDir('order-workflow'));
      const queue = taskQueue('order');
      const real = createActivities({ db, sourcesFile: source.sourcesFile });
      // the manual run's normalize waits until the scheduled run has fetched, merged and deleted
      const gate = Promise.withResolvers<void>();
      let first = true;
      const worker = await Worker.create({
        connection: env.nativeConnection,
        namespace: 'default',
        taskQueue: queue,
        workflowBundle: await workflowBundle(),
        activities: {
          ...real,
          async normalize(step: Parameters<typeof real.normalize>[0]) {
            if (first) {
              first = false;
              await gate.promise;
            }
            return real.normalize(step);
          },
        },
      });
      await worker.runUntil(async () => {
        source.write(FETCH_A);
        const manual = await env.client.workflow.start(ingest, {
          taskQueue: queue,
          workflowId: `etl-manual-${queue}`,
          args: [{}],
        });
        await waitFor('the manual run to store its payload', async () =>
          (
            await one(`SELECT p.status FROM raw_payload p JOIN run r ON r.id = p.run_id WHERE r.workflow_id = $1`, [
              manual.workflowId,
            ])
          )?.status === 'stored'
            ? true
            : undefined,
        );
        source.write(FETCH_B);
        const scheduled = (await env.client.workflow.execute(ingest, {
          taskQueue: queue,
          workflowId: `etl-ingest-${queue}`,
          args: [{}],
        })) as RunSummary;
        assert.deepEqual(scheduled.sources, [{ sourceId: 'desk', status: 'succeeded' }]);
        gate.resolve();
        const summary = (await manual.result()) as RunSummary;
        assert.equal(summary.status, 'succeeded');
        assert.equal(summary.sources[0]!.status, 'superseded');
        assert.match(summary.sources[0]!.error!, new RegExp(`\\(run ${scheduled.runId}, `));
        const progress = await manual.query(progressQuery);
        assert.deepEqual(progress.sources.desk, { stage: 'superseded', error: summary.sources[0]!.error });
        const stages = (await manual.fetchHistory())
          .events!.filter((e) => e.activityTaskScheduledEventAttributes)
          .map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name);
        assert.deepEqual(
          stages,
          ['startRun', 'fetchSource', 'storeRaw', 'normalize', 'dedupe', 'resolveEntities', 'finishRun'],
          'no orphan check after a superseded merge; linking still runs',
        );
      });
      assert.deepEqual(
        (await records()).filter((r) => !r.deleted).map((r) => r.source_key),
        ['bitcoin', 'cardano', 'ether', 'ripple', 'solana'],
      );
      assert.equal((await records()).find((r) => r.source_key === 'bitcoin')!.price_usd, '105');
    });

    describe('reprocess', () => {
      let server: Server;
      let url: string;
      before(async () => {
        server = createApp({
          db,
          temporal: env.client,
          log: quietLog,
          settings: loadSettings({ API_KEY: 'test-key-0123456789abcdef' }),
        }).listen(0, '127.0.0.1');
        await once(server, 'listening');
        url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      });
      after(() => server?.close());

      /** A CSV source whose sources file the test rewrites (a mapping fixed between a run and its reprocess). */
      function deskSource(dir: string) {
        const sourcesFile = path.join(dir, 'sources.yaml');
        const configure = (extra: string[] = []) =>
          fs.writeFileSync(
            sourcesFile,
            [
              'sources:',
              '  - id: desk',
              '    kind: csv',
              '    url: ./desk.csv',
              '    delete_policy: snapshot',
              '    max_delete_ratio: 0.5',
              ...extra,
              '',
            ].join('\n'),
          );
        configure();
        return {
          sourcesFile,
          configure,
          write: (content: string) => fs.writeFileSync(path.join(dir, 'desk.csv'), content),
        };
      }
      const ingestRun = async (sourcesFile: string) => {
        const queue = taskQueue('ingest');
        const worker = await createWorker({
          connection: env.nativeConnection,
          namespace: 'default',
          taskQueue: queue,
          db,
          sourcesFile,
        });
        return (await worker.runUntil(
          env.client.workflow.execute(ingest, { taskQueue: queue, workflowId: `etl-ingest-${queue}`, args: [{}] }),
        )) as RunSummary;
      };
      const reprocessRun = async (sourcesFile: string, runId: number, dryRun = false) => {
        const queue = taskQueue('reprocess');
        const worker = await createWorker({
          connection: env.nativeConnection,
          namespace: 'default',
          taskQueue: queue,
          db,
          sourcesFile,
        });
        return (await worker.runUntil(
          env.client.workflow.execute(reprocess, {
            taskQueue: queue,
            workflowId: `etl-reprocess-${queue}`,
            args: [{ runId, dryRun }],
          }),
        )) as ReprocessResult;
      };
      const get = async (p: string) => {
        const res = await fetch(`${url}${p}`);
        const text = await res.text();
        assert.equal(res.status, 200, `${p}: ${text}`);
        if (p === '/metrics')
          return text
            .split('\n')
            .filter((l) => l.startsWith('etl_') && !l.startsWith('etl_api_'))
            .join('\n');
        const { request_id: _id, api_latency_ms: _ms, ...body } = JSON.parse(text);
        return body;
      };
      const readers = async () => ({
        runs: await get('/runs?limit=100'),
        stats: await get('/stats'),
        metrics: await get('/metrics'),
        anomalies: await get('/runs/anomalies'),
        checkpoint: await checkpoint(),
      });
      const quoteOf = async (key: string, at: string) =>
        one<{ price_usd: string; raw_payload_id: string }>(
          'SELECT q.price_usd, q.raw_payload_id FROM quote q JOIN record r ON r.id = q.record_id WHERE r.source_key = $1 AND q.observed_at = $2',
          [key, `2024-03-01T${at}:00Z`],
        );

      it('a dry run changes nothing any reader shows: runs, stats, metrics, the anomaly baseline, the next drift comparison', async () => {
        const source = deskSource(tempDir('dry'));
        source.write(
          csv(row('bitcoin', 'btc', 100, '00:00'), row('ether', 'eth', 10, '00:00'), 'solana,sol,solana,1,not-a-date'),
        );
        const first = await ingestRun(source.sourcesFile);
        // the source grows a column: one drift event, and the schema later runs are compared with
        source.write(
          `id,symbol,name,price,last_updated,volume\nbitcoin,btc,bitcoin,101,2024-03-01T06:00:00Z,5\nether,eth,ether,10,2024-03-01T00:00:00Z,6\nsolana,sol,solana,1,2024-03-01T00:00:00Z,7\n`,
        );
        const second = await ingestRun(source.sourcesFile);
        assert.ok((await one('SELECT count(*)::int AS n FROM drift_event')).n > 0);
        const before = await readers();

        const dry = await reprocessRun(source.sourcesFile, first.runId, true);
        assert.equal(dry.dryRun, true);
        assert.deepEqual(dry.limited, ['desk'], 'the first payload is older than the last merged one');
        assert.equal(dry.changes.desk!.inserted, 0);
        const dryRow = await one('SELECT dry_run, reprocess_of, status FROM run WHERE id = $1', [dry.runId]);
        assert.deepEqual(dryRow, { dry_run: true, reprocess_of: String(first.runId), status: 'succeeded' });
        assert.ok(
          (await one('SELECT count(*)::int AS n FROM quarantine WHERE run_id = $1', [dry.runId])).n > 0,
          'the dry run has its own report (its quarantine)',
        );

        assert.deepEqual(await readers(), before);
        const detail = await get(`/runs/${dry.runId}`);
        assert.equal(detail.data.dry_run, true, 'the dry run itself can still be read by id');
        assert.equal((await one('SELECT count(*)::int AS n FROM run_anomaly WHERE run_id = $1', [dry.runId])).n, 0);

        // the next run is compared with the second run's schema, not with the dry run's (which lacked volume)
        const third = await ingestRun(source.sourcesFile);
        assert.equal(third.sources[0]!.status, 'unchanged');
        source.write(
          `id,symbol,name,price,last_updated,volume\nbitcoin,btc,bitcoin,102,2024-03-01T12:00:00Z,5\nether,eth,ether,10,2024-03-01T00:00:00Z,6\nsolana,sol,solana,1,2024-03-01T00:00:00Z,7\n`,
        );
        const fourth = await ingestRun(source.sourcesFile);
        assert.equal(fourth.sources[0]!.status, 'succeeded');
        assert.equal((await one('SELECT count(*)::int AS n FROM drift_event WHERE run_id = $1', [fourth.runId])).n, 0);
        const anomalies = await get('/runs/anomalies');
        assert.equal(anomalies.run.id, fourth.runId);
        assert.equal(
          anomalies.sources[0].baseline.runs,
          2,
          'the baseline is the two succeeded ingest runs, not the dry run',
        );
        assert.equal(second.status, 'succeeded');
      });

      it('a reprocess of an older payload corrects only what that payload wrote; of the latest, it merges as a run would', async () => {
        const source = deskSource(tempDir('older'));
        // the operator mapped the price to the wrong column
        source.configure(['    mapping: { price_usd: price_eur }']);
        const line = (id: string, usd: number, eur: number, at: string) =>
          `${id},${id.slice(0, 3)},${id},${usd},${eur},2024-03-01T${at}:00Z`;
        const file = (...rows: string[]) => `id,symbol,name,price,price_eur,last_updated\n${rows.join('\n')}\n`;
        source.write(
          file(line('bitcoin', 100, 90, '00:00'), line('ether', 10, 9, '00:00'), line('solana', 1, 0.9, '00:00')),
        );
        const first = await ingestRun(source.sourcesFile);
        // the next fetch: bitcoin moved on (and the source corrected its earlier quote), ether is as it was, solana is gone
        source.write(
          file(line('bitcoin', 95, 85.5, '00:00'), line('bitcoin', 120, 108, '12:00'), line('ether', 10, 9, '00:00')),
        );
        const second = await ingestRun(source.sourcesFile);
        assert.deepEqual(await records(), [
          { source_key: 'bitcoin', price_usd: '108', deleted: false, deleted_run_id: null },
          { source_key: 'ether', price_usd: '9', deleted: false, deleted_run_id: null },
          { source_key: 'solana', price_usd: '0.9', deleted: true, deleted_run_id: String(second.runId) },
        ]);
        const state = await checkpoint();
        const [firstPayload, secondPayload] = [
          (await one('SELECT id FROM raw_payload WHERE run_id = $1', [first.runId])).id,
          (await one('SELECT id FROM raw_payload WHERE run_id = $1', [second.runId])).id,
        ];

        // the mapping fixed, the first run again: ether's value came from its payload and is corrected; bitcoin's
        // came from the later one and stays; solana, deleted by the later run, stays deleted; the checkpoint stays
        source.configure();
        const older = await reprocessRun(source.sourcesFile, first.runId);
        assert.equal(older.status, 'succeeded');
        assert.deepEqual(older.limited, ['desk']);
        assert.match(
          older.changes.desk!.limited!,
          new RegExp(`payload ${firstPayload} was fetched before payload ${secondPayload} \\(run ${second.runId}, `),
        );
        assert.deepEqual(
          [older.changes.desk!.inserted, older.changes.desk!.updated, older.changes.desk!.restored],
          [0, 1, 0],
        );
        assert.deepEqual(await records(), [
          { source_key: 'bitcoin', price_usd: '108', deleted: false, deleted_run_id: null },
          { source_key: 'ether', price_usd: '10', deleted: false, deleted_run_id: null },
          { source_key: 'solana', price_usd: '0.9', deleted: true, deleted_run_id: String(second.runId) },
        ]);
        assert.deepEqual(await checkpoint(), state, 'the checkpoint does not move back');
        assert.deepEqual(
          await quoteOf('ether', '00:00'),
          { price_usd: '10', raw_payload_id: firstPayload },
          "the payload's own observation is corrected",
        );
        assert.deepEqual(
          await quoteOf('bitcoin', '00:00'),
          { price_usd: '85.5', raw_payload_id: secondPayload },
          'an observation a later payload wrote is left alone',
        );
        assert.deepEqual(
          await quoteOf('solana', '00:00'),
          { price_usd: '0.9', raw_payload_id: firstPayload },
          "a deleted record's history is left alone",
        );

        // the latest merged payload again: a normal merge (without deletes), bitcoin corrected, the checkpoint on the same payload
        const latest = await reprocessRun(source.sourcesFile, second.runId);
        assert.deepEqual(
          [latest.limited, latest.changes.desk!.updated, latest.changes.desk!.inserted, latest.changes.desk!.restored],
          [[], 1, 0, 0],
        );
        assert.equal((await records()).find((r) => r.source_key === 'bitcoin')!.price_usd, '120');
        assert.deepEqual(await quoteOf('bitcoin', '00:00'), { price_usd: '95', raw_payload_id: secondPayload });
        assert.equal((await checkpoint()).last_payload_id, state.last_payload_id);
        assert.equal((await records()).find((r) => r.source_key === 'solana')!.deleted, true);
      });
    });
  });
});
