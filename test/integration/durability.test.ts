// Durability: a worker killed with SIGKILL mid-run, a PostgreSQL outage mid-run, two workers sharing a run,
// a rate limit shared by workers, a workflow reset, and reprocessing stored payloads. Real Temporal dev
// server, real PostgreSQL; the crash test kills a real worker process (crash.test.ts kills them mid-fetch,
// mid-merge and mid-identity).
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { RunSummary } from '../../src/activities/index.ts';
import { openDatabase, type Database } from '../../src/db/orm.ts';
import { projectRoot } from '../../src/settings.ts';
import { createSourceServer, type SourceServer } from '../../src/sourceserver/server.ts';
import { createWorker } from '../../src/temporal/worker.ts';
import { ingest, reprocess, type ReprocessResult } from '../../src/workflows/index.ts';
import { testPostgres } from '../setup.ts';
import { resetWorkflow, startTemporal, taskQueue, tempDir, testDatabase, truncateAll } from '../helpers.ts';
import {
  pendingHeartbeat,
  startWorkerProcess as startProcess,
  waitUntil,
  type WorkerProcess,
} from '../worker-process.ts';

/** A deterministic CSV of `rows` asset quotes. */
function writeAssets(file: string, rows: number): void {
  const out = fs.createWriteStream(file);
  const lines = ['id,symbol,name,market_cap_rank,current_price,market_cap,total_volume,last_updated'];
  for (let i = 1; i <= rows; i++) {
    lines.push(
      `coin-${i},C${i},Coin ${i},${i},${((i * 7919) % 100000) / 100},${i * 1000},${i * 10},2024-01-01T00:00:00Z`,
    );
    if (lines.length === 10_000) out.write(`${lines.splice(0).join('\n')}\n`);
  }
  out.end(`${lines.join('\n')}\n`);
}

describe('durability (real Temporal, real PostgreSQL, real worker processes)', () => {
  let env: TestWorkflowEnvironment;
  let db: Database;
  let dir: string;
  let server: SourceServer;
  let baseUrl: string;

  before(async function () {
    this.timeout(60_000);
    // one after the other: a failed database start must not strand a running dev server
    db = await testDatabase();
    env = await startTemporal();
    dir = tempDir('durability');
    const root = tempDir('durability-root');
    fs.cpSync(path.join(projectRoot, 'data', 'demo'), root, { recursive: true });
    server = createSourceServer({ root });
    baseUrl = await server.listen(0);
  });
  after(async () => {
    await server?.close();
    await db?.close();
    await env?.teardown();
  });
  beforeEach(async () => {
    await truncateAll(db);
    server.setFaults([]);
    server.requests.length = 0;
  });

  function csvSources(name: string, rows: number): string {
    const csv = path.join(dir, `${name}.csv`);
    if (!fs.existsSync(csv)) writeAssets(csv, rows);
    const file = path.join(dir, `${name}.yaml`);
    fs.writeFileSync(file, `sources:\n  - id: ${name}\n    kind: csv\n    url: ${csv}\n`);
    return file;
  }
  async function runInProcess(sourcesFile: string, database: Database = db): Promise<RunSummary> {
    const queue = taskQueue('durable');
    const worker = await createWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue: queue,
      db: database,
      sourcesFile,
    });
    return worker.runUntil(
      env.client.workflow.execute(ingest, { taskQueue: queue, workflowId: `durable-${queue}`, args: [{}] }),
    );
  }
  /** A real worker process (src/worker.ts) on `queue`, with its output kept for assertions. */
  const startWorkerProcess = (queue: string, sourcesFile: string, maxActivities = 8) =>
    startProcess(env, { queue, sourcesFile, maxActivities });
  const count = async (sql: string, params: unknown[] = []) =>
    (await db.pool.query<{ n: number }>(sql, params)).rows[0]!.n;
  /** What the records say, independent of ids, runs and timestamps. */
  const contentChecksum = async () =>
    (
      await db.pool.query<{ sum: string }>(
        `SELECT md5(string_agg(concat_ws('|', source_id, source_key, symbol, name, rank, price_usd, market_cap_usd, volume_24h_usd, source_updated_at, content_hash, deleted_at IS NULL), ',' ORDER BY source_id, source_key)) AS sum FROM record`,
      )
    ).rows[0]!.sum;
  const waitFor = waitUntil;

  it('finishes a 200,000-row run after its worker is killed with SIGKILL mid-normalize: resumed, identical to a clean run, no duplicates', async function () {
    // a ceiling, not a measure: in a full make test on a busy machine it came within a second of the old one
    this.timeout(360_000);
    const sources = csvSources('big', 200_000);
    const clean = await runInProcess(sources);
    assert.equal(clean.status, 'succeeded');
    const cleanChecksum = await contentChecksum();
    await truncateAll(db);

    const queue = taskQueue('crash');
    const first = startWorkerProcess(queue, sources);
    let second: WorkerProcess | undefined;
    try {
      const handle = await env.client.workflow.start(ingest, {
        taskQueue: queue,
        workflowId: `crash-${queue}`,
        args: [{}],
      });
      // killed as soon as the server holds a heartbeat with a committed position: what a retry resumes from
      await waitFor('a heartbeat past the first checkpoint', async () => {
        const details = await pendingHeartbeat<{ position?: number }>(handle, 'normalize');
        return (details?.position ?? 0) >= 50_000;
      });
      await first.stop('SIGKILL');
      second = startWorkerProcess(queue, sources);
      const summary = (await handle.result()) as RunSummary;
      assert.equal(summary.status, 'succeeded');
      assert.equal(await contentChecksum(), cleanChecksum, 'the same records as a clean run');
      assert.equal(await count('SELECT count(*)::int AS n FROM record'), 200_000);
      assert.equal(
        await count('SELECT count(*)::int AS n FROM (SELECT source_key FROM record GROUP BY 1 HAVING count(*) > 1) d'),
        0,
      );
      const rs = (await db.pool.query('SELECT attempts, staged FROM run_source WHERE run_id = $1', [summary.runId]))
        .rows[0];
      assert.equal(rs.attempts.normalize, 2, 'normalize ran twice: killed, then retried on the new worker');
      assert.equal(rs.staged, 200_000);
      const resumed = second
        .output()
        .split('\n')
        .filter((l) => l.includes('normalize resumes'))
        .map((l) => JSON.parse(l));
      assert.equal(resumed.length, 1, second.output().slice(-2000));
      assert.ok(resumed[0].position >= 50_000, `resumed from record ${resumed[0].position}, not from the start`);
    } finally {
      await first.stop('SIGKILL');
      await second?.stop();
    }
  });

  it('finishes a run when PostgreSQL stops and comes back in the middle of it', async function () {
    const pg = testPostgres();
    if (!pg) this.skip(); // only a database the tests started can be stopped
    this.timeout(120_000);
    const sources = csvSources('outage', 100_000);
    const queue = taskQueue('outage');
    const workerDb = await openDatabase(process.env.TEST_DATABASE_URL!);
    const worker = await createWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue: queue,
      db: workerDb,
      sourcesFile: sources,
    });
    try {
      const summary = (await worker.runUntil(async () => {
        const handle = await env.client.workflow.start(ingest, {
          taskQueue: queue,
          workflowId: `outage-${queue}`,
          args: [{}],
        });
        await waitFor(
          'staging to start',
          async () => (await count('SELECT count(*)::int AS n FROM stage_record')) > 10_000,
        );
        await pg!.interrupt();
        try {
          await new Promise((r) => setTimeout(r, 3000));
        } finally {
          await pg!.restart(); // whatever happens, the suites after this one need their database
        }
        return handle.result();
      })) as RunSummary;
      // the test's own pool lost its connections with the server: read through a fresh one
      const after = await openDatabase(process.env.TEST_DATABASE_URL!);
      try {
        assert.equal(summary.status, 'succeeded');
        assert.equal((await after.pool.query('SELECT count(*)::int AS n FROM record')).rows[0].n, 100_000);
        const rs = (
          await after.pool.query('SELECT attempts, errors FROM run_source WHERE run_id = $1', [summary.runId])
        ).rows[0];
        const retried = Object.entries(rs.attempts as Record<string, number>)
          .filter(([, n]) => n > 1)
          .map(([stage]) => stage);
        assert.ok(retried.length, `a stage was retried: ${JSON.stringify(rs.attempts)}`);
        // the failed attempt could not record its error while the database was gone: a later attempt did
        const errors = rs.errors as { stage: string; attempt: number; error: string }[];
        assert.ok(
          errors.some((e) => retried.includes(e.stage)),
          `the retried attempt's error is recorded: ${JSON.stringify(errors)}`,
        );
      } finally {
        await after.close();
      }
    } finally {
      await workerDb.close();
      await db.close();
      db = await testDatabase();
    }
  });

  it('lets two worker processes share one run: activities of the run ran on both', async () => {
    const file = path.join(dir, 'five.yaml');
    const demo = fs
      .readFileSync(path.join(projectRoot, 'config', 'sources.demo.yaml'), 'utf8')
      .replaceAll('${ETL_SOURCE_SERVER_URL:-http://127.0.0.1:8787}', baseUrl)
      .replace('../data/demo/', `${path.join(projectRoot, 'data', 'demo')}/`);
    fs.writeFileSync(file, demo);
    const queue = taskQueue('shared');
    // one activity at a time each, so neither process can take the whole run
    const workers = [startWorkerProcess(queue, file, 1), startWorkerProcess(queue, file, 1)];
    try {
      await Promise.all(workers.map((w) => w.ready()));
      const handle = await env.client.workflow.start(ingest, {
        taskQueue: queue,
        workflowId: `shared-${queue}`,
        args: [{}],
      });
      const summary = (await handle.result()) as RunSummary;
      assert.equal(summary.status, 'succeeded');
      const history = await handle.fetchHistory();
      const identities = new Set(
        history
          .events!.filter((e) => e.activityTaskStartedEventAttributes)
          .map((e) => e.activityTaskStartedEventAttributes!.identity),
      );
      const pids = workers.map((w) => String(w.child.pid));
      assert.deepEqual(
        [...identities].map((id) => id!.split('@')[0]).sort(),
        [...pids].sort(),
        `activities ran on ${[...identities].join(', ')}`,
      );
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
  });

  it('holds a rate limit across worker processes: two sources of one provider stay under it together', async () => {
    const file = path.join(dir, 'limited.yaml');
    const gecko = (id: string) =>
      [
        `  - id: ${id}`,
        '    kind: coingecko',
        `    url: ${baseUrl}/coingecko/api/v3/coins/markets?vs_currency=usd`,
        '    paging: { per_page: 10 }',
        '    rate_limit: { requests_per_second: 4 }',
      ].join('\n');
    fs.writeFileSync(file, `sources:\n${gecko('gecko-a')}\n${gecko('gecko-b')}\n`);
    const queue = taskQueue('limited');
    const workers = [startWorkerProcess(queue, file, 1), startWorkerProcess(queue, file, 1)];
    try {
      await Promise.all(workers.map((w) => w.ready()));
      const handle = await env.client.workflow.start(ingest, {
        taskQueue: queue,
        workflowId: `limited-${queue}`,
        args: [{}],
      });
      const summary = (await handle.result()) as RunSummary;
      assert.equal(summary.status, 'succeeded');
      const fetchedBy = (await handle.fetchHistory())
        .events!.filter((e) => e.activityTaskStartedEventAttributes)
        .map((e) => e.activityTaskStartedEventAttributes!.identity);
      assert.equal(new Set(fetchedBy).size, 2, 'both processes worked on the run');
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
    const times = server.requests
      .filter((r) => r.path.startsWith('/coingecko'))
      .map((r) => r.at)
      .sort((x, y) => x - y);
    assert.equal(times.length, 22, 'each source read 10 pages and the empty one');
    // a bucket of 4 tokens refilled at 4 per second: never more than 4 + 4 requests in any second
    const busiest = Math.max(...times.map((t) => times.filter((u) => u >= t && u < t + 1000).length));
    assert.ok(busiest <= 8, `${busiest} requests within one second`);
    assert.ok(times.at(-1)! - times[0]! >= 4000, `22 requests took ${times.at(-1)! - times[0]!} ms`);
  });

  it('completes a run reset to just after its fetch, without duplicates, under the new run id', async () => {
    const sources = csvSources('reset', 1000);
    const queue = taskQueue('reset');
    const worker = await createWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue: queue,
      db,
      sourcesFile: sources,
    });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(ingest, {
        taskQueue: queue,
        workflowId: `reset-${queue}`,
        args: [{}],
      });
      const first = (await handle.result()) as RunSummary;
      const checksum = await contentChecksum();
      const events = (await handle.fetchHistory()).events!;
      const scheduled = new Map(
        events
          .filter((e) => e.activityTaskScheduledEventAttributes)
          .map((e) => [Number(e.eventId), e.activityTaskScheduledEventAttributes!.activityType!.name]),
      );
      const stored = events.findIndex(
        (e) =>
          e.activityTaskCompletedEventAttributes &&
          scheduled.get(Number(e.activityTaskCompletedEventAttributes.scheduledEventId)) === 'storeRaw',
      );
      const resetPoint = events.slice(stored).find((e) => e.workflowTaskCompletedEventAttributes)!;
      const newRunId = await resetWorkflow(
        env,
        { workflowId: handle.workflowId },
        String(resetPoint.eventId),
        'test: re-run after fetch',
      );
      const second = (await env.client.workflow.getHandle(handle.workflowId, newRunId).result()) as RunSummary;
      assert.equal(second.runId, first.runId, 'the same run row');
      assert.equal(second.status, 'succeeded');
      assert.equal(await contentChecksum(), checksum);
      assert.equal(await count('SELECT count(*)::int AS n FROM record'), 1000);
      const row = (
        await db.pool.query(
          'SELECT r.temporal_run_id, s.merged_in_run, s.attempts FROM run r JOIN run_source s ON s.run_id = r.id WHERE r.id = $1',
          [first.runId],
        )
      ).rows[0];
      assert.equal(row.temporal_run_id, newRunId);
      assert.equal(row.merged_in_run, newRunId, 'the reset run merged again (and wrote nothing new)');
    });
  });

  it('keeps a run row per execution: another one under the same workflow id has its own, a reset from the start keeps it', async () => {
    const sources = csvSources('same-id', 50);
    const queue = taskQueue('same-id');
    const worker = await createWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue: queue,
      db,
      sourcesFile: sources,
    });
    await worker.runUntil(async () => {
      // what two schedule triggers in one second do: the scheduler names both executions alike
      const workflowId = `same-id-${queue}`;
      const first = await env.client.workflow.start(ingest, { taskQueue: queue, workflowId, args: [{}] });
      const firstSummary = (await first.result()) as RunSummary;
      const second = await env.client.workflow.start(ingest, { taskQueue: queue, workflowId, args: [{}] });
      const secondSummary = (await second.result()) as RunSummary;
      assert.notEqual(secondSummary.runId, firstSummary.runId, 'a run row of its own');
      const rows = async () =>
        (
          await db.pool.query('SELECT id, temporal_run_id, status FROM run WHERE workflow_id = $1 ORDER BY id', [
            workflowId,
          ])
        ).rows.map((r) => ({ id: Number(r.id), temporalRunId: r.temporal_run_id, status: r.status }));
      const before = await rows();
      assert.deepEqual(before, [
        { id: firstSummary.runId, temporalRunId: first.firstExecutionRunId, status: 'succeeded' },
        { id: secondSummary.runId, temporalRunId: second.firstExecutionRunId, status: 'succeeded' },
      ]);

      // reset to its first workflow task: the run starts again (startRun too) and keeps its row
      const events = (await second.fetchHistory()).events!;
      const firstTask = events.find((e) => e.workflowTaskCompletedEventAttributes)!;
      const resetRunId = await resetWorkflow(
        env,
        { workflowId, runId: second.firstExecutionRunId },
        String(firstTask.eventId),
        'test: from the start',
      );
      const reset = (await env.client.workflow.getHandle(workflowId, resetRunId).result()) as RunSummary;
      assert.equal(reset.runId, secondSummary.runId, 'the reset run kept its row');
      assert.deepEqual(await rows(), [before[0], { ...before[1]!, temporalRunId: resetRunId }]);
    });
  });

  it('reprocesses a past run from its stored payload without calling the source: a dry run first, then for real', async () => {
    const file = path.join(dir, 'reprocess.yaml');
    fs.writeFileSync(
      file,
      `sources:\n  - id: coinpaprika\n    kind: coinpaprika\n    url: ${baseUrl}/coinpaprika/v1/tickers\n`,
    );
    const first = await runInProcess(file);
    // what a normalization bug would have left behind
    await db.pool.query(`UPDATE record SET price_usd = 1, content_hash = 'stale' WHERE source_key = 'btc-bitcoin'`);
    server.requests.length = 0;
    const reprocessRun = async (dryRun: boolean) => {
      const queue = taskQueue('reprocess');
      const worker = await createWorker({
        connection: env.nativeConnection,
        namespace: 'default',
        taskQueue: queue,
        db,
        sourcesFile: file,
      });
      return worker.runUntil(
        env.client.workflow.execute(reprocess, {
          taskQueue: queue,
          workflowId: `reprocess-${dryRun}-${queue}`,
          args: [{ runId: first.runId, dryRun }],
        }),
      ) as Promise<ReprocessResult>;
    };
    const preview = await reprocessRun(true);
    assert.equal(preview.status, 'succeeded');
    assert.deepEqual(
      {
        updated: preview.changes.coinpaprika!.updated,
        inserted: preview.changes.coinpaprika!.inserted,
        sample: (preview.changes.coinpaprika as { sample: unknown }).sample,
      },
      { updated: 1, inserted: 0, sample: [{ key: 'btc-bitcoin', change: 'update' }] },
    );
    assert.equal(
      (await db.pool.query(`SELECT price_usd FROM record WHERE source_key = 'btc-bitcoin'`)).rows[0].price_usd,
      '1',
      'a dry run writes nothing',
    );
    const real = await reprocessRun(false);
    assert.equal(real.changes.coinpaprika!.updated, 1);
    assert.equal(
      (await db.pool.query(`SELECT price_usd FROM record WHERE source_key = 'btc-bitcoin'`)).rows[0].price_usd,
      '10913.27425377',
    );
    assert.equal(server.requests.length, 0, 'the source was not called');
    assert.equal(await count('SELECT count(*)::int AS n FROM record WHERE deleted_at IS NOT NULL'), 0);
  });
});
