// Crash recovery inside the stages that write: a worker process killed with SIGKILL in the middle of a paged
// fetch, of the merge and of identity resolution, and the run finished by another worker process. The window
// is made certain from outside the product: a source server of the test's own holds the next page until the
// test lets it go, and the test's own database session holds a row or advisory lock the worker's transaction
// waits on, seen in pg_stat_activity. Each run is compared with the same run made without a crash.
// (The SIGKILL mid-normalize is in durability.test.ts.)
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { PoolClient } from 'pg';
import type { RunSummary } from '../../src/activities/index.ts';
import type { Database } from '../../src/db/orm.ts';
import { createWorker } from '../../src/temporal/worker.ts';
import { ingest } from '../../src/workflows/index.ts';
import { startTemporal, taskQueue, tempDir, testDatabase, truncateAll } from '../helpers.ts';
import {
  buildWorkflowBundle,
  pendingHeartbeat,
  startWorkerProcess,
  waitUntil,
  type WorkerProcess,
} from '../worker-process.ts';

/** A CSV of asset quotes; `revised` rows have a new price at a later time. */
function assetsCsv(rows: number, revised: (i: number) => boolean = () => false): string {
  const lines = ['id,symbol,name,market_cap_rank,current_price,market_cap,total_volume,last_updated'];
  for (let i = 1; i <= rows; i++) {
    const later = revised(i);
    const price = ((i * 7919) % 100000) / 100 + (later ? 1 : 0);
    const at = later ? '2024-01-02T00:00:00Z' : '2024-01-01T00:00:00Z';
    lines.push(`coin-${i},C${i},Coin ${i},${i},${price},${i * 1000},${i * 10},${at}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * A CoinGecko-like /coins/markets of `pages` full pages (then the empty one), counting requests per page.
 * `hold(page)` keeps every request for that page or a later one waiting until `release()`.
 */
async function pagedSource(pages: number, perPage: number) {
  const coins = Array.from({ length: pages * perPage }, (_, n) => {
    const i = n + 1;
    return {
      id: `coin-${i}`,
      symbol: `c${i}`,
      name: `Coin ${i}`,
      market_cap_rank: i,
      current_price: ((i * 7919) % 100000) / 100,
      market_cap: i * 1000,
      total_volume: i * 10,
      last_updated: '2024-01-01T00:00:00.000Z',
    };
  });
  const requests = new Map<number, number>();
  const arrivals = new EventEmitter();
  let heldFrom = Number.POSITIVE_INFINITY;
  let release: () => void = () => {};
  let released = Promise.resolve();
  const held = new Set<http.IncomingMessage>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://paged');
    const page = Number(url.searchParams.get('page'));
    const size = Number(url.searchParams.get('per_page'));
    requests.set(page, (requests.get(page) ?? 0) + 1);
    const answer = () => {
      if (req.socket.destroyed) return;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(coins.slice((page - 1) * size, page * size)));
    };
    if (page < heldFrom) return answer();
    held.add(req);
    req.socket.once('close', () => {
      held.delete(req);
      arrivals.emit('dropped', page);
    });
    arrivals.emit('held', page);
    void released.then(answer);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api/v3/coins/markets?vs_currency=usd`,
    /** Requests received per page number. */
    requests,
    held,
    arrivals,
    hold(page: number) {
      heldFrom = page;
      released = new Promise((resolve) => {
        release = resolve;
      });
    },
    release() {
      heldFrom = Number.POSITIVE_INFINITY;
      release();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface Session {
  pid: number;
  state: string | null;
  wait_event_type: string | null;
  wait_event: string | null;
  query: string;
}

describe('crash recovery mid-fetch, mid-merge and mid-identity (real worker processes killed with SIGKILL)', () => {
  let env: TestWorkflowEnvironment;
  let db: Database;
  let dir: string;
  let bundle: string;
  /** Database sessions the test holds open (a lock the worker waits on), rolled back whatever happens. */
  const holders: PoolClient[] = [];
  const workers: WorkerProcess[] = [];

  before(async function () {
    this.timeout(120_000);
    db = await testDatabase();
    env = await startTemporal();
    dir = tempDir('crash');
    bundle = await buildWorkflowBundle(dir);
    // every write of a source's checkpoint that committed, in order: a test-side trigger, not a product hook
    await db.pool.query(`
      CREATE TABLE IF NOT EXISTS test_checkpoint_write (n bigserial PRIMARY KEY, source_id text, last_payload_id bigint, last_run_id bigint);
      CREATE OR REPLACE FUNCTION test_log_checkpoint() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        IF NEW.last_run_id IS NOT NULL AND (TG_OP = 'INSERT' OR (NEW.last_payload_id, NEW.last_run_id, NEW.updated_at)
             IS DISTINCT FROM (OLD.last_payload_id, OLD.last_run_id, OLD.updated_at)) THEN
          INSERT INTO test_checkpoint_write (source_id, last_payload_id, last_run_id) VALUES (NEW.source_id, NEW.last_payload_id, NEW.last_run_id);
        END IF;
        RETURN NEW;
      END $$;
      DROP TRIGGER IF EXISTS test_log_checkpoint ON source_state;
      CREATE TRIGGER test_log_checkpoint AFTER INSERT OR UPDATE ON source_state FOR EACH ROW EXECUTE FUNCTION test_log_checkpoint();`);
  });
  after(async () => {
    await db?.pool.query(
      'DROP TRIGGER IF EXISTS test_log_checkpoint ON source_state; DROP FUNCTION IF EXISTS test_log_checkpoint(); DROP TABLE IF EXISTS test_checkpoint_write',
    );
    await db?.close();
    await env?.teardown();
  });
  beforeEach(async () => {
    await truncateAll(db);
    await db.pool.query('TRUNCATE test_checkpoint_write RESTART IDENTITY');
  });
  afterEach(async () => {
    for (const holder of holders.splice(0)) {
      await holder.query('ROLLBACK').catch(() => undefined);
      holder.release();
    }
    for (const worker of workers.splice(0)) await worker.stop('SIGKILL');
  });

  const sourcesFile = (name: string, yaml: string) => {
    const file = path.join(dir, `${name}.yaml`);
    fs.writeFileSync(file, `sources:\n${yaml}`);
    return file;
  };
  const csvSource = (id: string) => `  - id: ${id}\n    kind: csv\n    url: ${path.join(dir, `${id}.csv`)}\n`;
  const writeCsv = (id: string, content: string) => fs.writeFileSync(path.join(dir, `${id}.csv`), content);

  /** One ingest run on an in-process worker: the clean runs and the ones before a crash. */
  async function runInProcess(file: string, sourceIds?: string[]): Promise<RunSummary> {
    const queue = taskQueue('clean');
    const worker = await createWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue: queue,
      db,
      sourcesFile: file,
      workflowBundlePath: bundle,
    });
    const summary = await worker.runUntil(
      env.client.workflow.execute(ingest, { taskQueue: queue, workflowId: `clean-${queue}`, args: [{ sourceIds }] }),
    );
    assert.equal(summary.status, 'succeeded', JSON.stringify(summary));
    return summary;
  }
  function worker(queue: string, file: string, name: string): WorkerProcess {
    const started = startWorkerProcess(env, {
      queue,
      sourcesFile: file,
      appName: `${name}-${process.pid}`,
      workflowBundle: bundle,
    });
    workers.push(started);
    return started;
  }
  /** A session of the test's own, inside a transaction, for holding a lock the worker will wait on. */
  async function holder(): Promise<PoolClient> {
    const client = await db.pool.connect();
    holders.push(client);
    await client.query('BEGIN');
    return client;
  }
  async function releaseHolder(client: PoolClient): Promise<void> {
    holders.splice(holders.indexOf(client), 1);
    await client.query('ROLLBACK');
    client.release();
  }
  const sessionsOf = async (appName: string) =>
    (
      await db.pool.query<Session>(
        `SELECT pid, state, wait_event_type, wait_event, query FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = $1`,
        [appName],
      )
    ).rows;
  /** Waits for a session of the worker to wait on a lock inside a statement matching `statement`. */
  async function blockedIn(w: WorkerProcess, statement: RegExp, timeoutMs = 60_000): Promise<Session> {
    let found: Session | undefined;
    await waitUntil(
      `a session of ${w.appName} to wait on a lock in ${statement}`,
      async () => {
        if (w.child.exitCode !== null) throw new Error(`the worker exited: ${w.output().slice(-2000)}`);
        found = (await sessionsOf(w.appName)).find((s) => s.wait_event_type === 'Lock' && statement.test(s.query));
        return found !== undefined;
      },
      timeoutMs,
    );
    return found!;
  }
  /** The tables a session holds write locks on, and whether it holds an advisory lock: what its transaction did. */
  const locksOf = async (pid: number) =>
    (
      await db.pool.query<{ what: string }>(
        `SELECT coalesce(c.relname, l.locktype) AS what FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation
         WHERE l.pid = $1 AND l.granted AND (l.locktype = 'advisory' OR l.mode = 'RowExclusiveLock')`,
        [pid],
      )
    ).rows.map((r) => r.what);
  /** Kills the worker, lets its orphaned session finish and roll back, and waits until the database has none left. */
  async function kill(w: WorkerProcess, release: () => Promise<void>): Promise<void> {
    await w.stop('SIGKILL');
    await release();
    await waitUntil(`the sessions of ${w.appName} to end`, async () => (await sessionsOf(w.appName)).length === 0);
  }

  const rows = async <T = Record<string, unknown>>(sql: string, params: unknown[] = []) =>
    (await db.pool.query(sql, params)).rows as T[];
  const one = async <T = Record<string, unknown>>(sql: string, params: unknown[] = []) =>
    (await rows<T>(sql, params))[0]!;
  /** What the records say, independent of ids and timestamps. */
  const recordsChecksum = async () =>
    (
      await one<{ sum: string }>(
        `SELECT md5(string_agg(concat_ws('|', source_id, source_key, symbol, name, rank, price_usd, market_cap_usd, volume_24h_usd, source_updated_at, content_hash, deleted_at IS NULL), ',' ORDER BY source_id, source_key)) AS sum FROM record`,
      )
    ).sum;
  const duplicateKeys = async () =>
    (
      await one<{ n: number }>(
        'SELECT count(*)::int AS n FROM (SELECT 1 FROM record WHERE deleted_at IS NULL GROUP BY source_id, source_key HAVING count(*) > 1) d',
      )
    ).n;
  const attemptsOf = async (runId: number, sourceId: string) =>
    (
      await one<{ attempts: Record<string, number> }>(
        'SELECT attempts FROM run_source WHERE run_id = $1 AND source_id = $2',
        [runId, sourceId],
      )
    ).attempts;

  it('resumes a paged fetch after the pages it landed when its worker is killed mid-fetch: no page fetched twice, the same bytes as a clean fetch', async function () {
    this.timeout(180_000);
    const [pages, perPage, landedBeforeKill] = [8, 40, 3];
    const source = await pagedSource(pages, perPage);
    try {
      const file = sourcesFile(
        'paged',
        `  - id: paged\n    kind: coingecko\n    url: ${source.url}\n    paging: { per_page: ${perPage} }\n`,
      );
      /** The payload as landed: its bytes, hash, size, and how its pages split into documents. */
      const landed = async (runId: number) =>
        one(
          `SELECT p.status, p.content_hash, p.size_bytes::int AS size, p.page_count, p.landed_documents,
                  md5(string_agg(g.body, ''::bytea ORDER BY g.seq)) AS bytes,
                  string_agg(g.document || ':' || length(g.body), ',' ORDER BY g.seq) AS layout
           FROM raw_payload p JOIN raw_page g ON g.payload_id = p.id WHERE p.run_id = $1 AND p.source_id = 'paged'
           GROUP BY p.id`,
          [runId],
        );

      const clean = await runInProcess(file);
      const cleanPayload = await landed(clean.runId);
      const cleanRecords = await recordsChecksum();
      assert.deepEqual(
        [...source.requests.entries()],
        Array.from({ length: pages + 1 }, (_, i) => [i + 1, 1]),
        'a clean fetch asks for every page once, and the empty one that ends the listing',
      );
      await truncateAll(db);
      source.requests.clear();

      // the pages after the first few wait until the test lets them go: the worker dies with one in flight
      source.hold(landedBeforeKill + 1);
      const queue = taskQueue('crash-fetch');
      const heldArrival = once(source.arrivals, 'held');
      const first = worker(queue, file, 'crash-fetch-1');
      const handle = await env.client.workflow.start(ingest, {
        taskQueue: queue,
        workflowId: `crash-fetch-${queue}`,
        args: [{}],
      });
      const [heldPage] = (await heldArrival) as [number];
      assert.equal(heldPage, landedBeforeKill + 1);
      // killed once Temporal holds a heartbeat saying how many pages are landed, with the next one in flight
      await waitUntil('a fetch heartbeat with the landed pages', async () => {
        const beat = await pendingHeartbeat<{ document: number; pages: number }>(handle, 'fetchSource');
        return beat?.pages === landedBeforeKill;
      });
      const atKill = await one<{ pages: number; documents: number }>(
        `SELECT (SELECT count(*) FROM raw_page g WHERE g.payload_id = p.id)::int AS pages, p.landed_documents AS documents
         FROM raw_payload p WHERE p.source_id = 'paged'`,
      );
      assert.deepEqual(atKill, { pages: landedBeforeKill, documents: landedBeforeKill });
      const dropped = once(source.arrivals, 'dropped');
      await first.stop('SIGKILL');
      await dropped; // the request in flight died with the worker
      source.release();
      worker(queue, file, 'crash-fetch-2');
      const summary = (await handle.result()) as RunSummary;

      assert.equal(summary.status, 'succeeded');
      assert.equal(
        (await attemptsOf(summary.runId, 'paged')).fetchSource,
        2,
        'the fetch was killed once, then retried',
      );
      const expected = Array.from({ length: pages + 1 }, (_, i) => [i + 1, i + 1 === landedBeforeKill + 1 ? 2 : 1]);
      assert.deepEqual(
        [...source.requests.entries()].sort(([a], [b]) => a - b),
        expected,
        'the retry asked again only for the page that was in flight, none of the landed ones',
      );
      assert.deepEqual(await landed(summary.runId), cleanPayload, 'the payload is byte for byte a clean fetch');
      assert.equal(await recordsChecksum(), cleanRecords);
      assert.equal(await duplicateKeys(), 0);
    } finally {
      source.release();
      await source.close();
    }
  });

  it('merges once when its worker is killed mid-merge, and its retry killed after the merge committed: no duplicate, the counts of a clean run, the checkpoint moved once', async function () {
    this.timeout(240_000);
    // enough rows written that the merge analyzes the table after its commit: the second kill's window
    const [before, after] = [12_000, 13_000];
    const revised = (i: number) => i % 4 !== 0;
    const file = sourcesFile('merge', csvSource('merge'));
    /** What the runs wrote: records, quotes, the second run's counts, and every checkpoint write. */
    const outcome = async (runId: number) => ({
      records: await recordsChecksum(),
      live: (await one<{ n: number }>('SELECT count(*)::int AS n FROM record WHERE deleted_at IS NULL')).n,
      quotes: await one(
        `SELECT (SELECT count(*) FROM quote)::int AS quotes, (SELECT count(*) FROM quote_daily)::int AS daily,
                (SELECT md5(string_agg(concat_ws('|', r.source_key, q.observed_at, q.price_usd, q.run_id), ',' ORDER BY r.source_key, q.observed_at))
                 FROM quote q JOIN record r ON r.id = q.record_id) AS quotes_sum,
                (SELECT md5(string_agg(concat_ws('|', r.source_key, d.day, d.open_usd, d.close_usd, d.observations, d.last_at), ',' ORDER BY r.source_key, d.day))
                 FROM quote_daily d JOIN record r ON r.id = d.record_id) AS daily_sum`,
      ),
      counts: await one(
        `SELECT status, staged, duplicates, inserted, updated, unchanged, restored, soft_deleted,
                quotes_appended, quotes_revised, quotes_rolled_up
         FROM run_source WHERE run_id = $1 AND source_id = 'merge'`,
        [runId],
      ),
      checkpoints: await rows(
        'SELECT source_id, last_payload_id::int, last_run_id::int FROM test_checkpoint_write ORDER BY n',
      ),
      state: await one(
        `SELECT s.last_run_id::int, s.last_payload_id = rs.payload_id AS at_payload FROM source_state s
         JOIN run_source rs ON rs.run_id = s.last_run_id AND rs.source_id = s.source_id WHERE s.source_id = 'merge'`,
      ),
    });
    const mergedInRun = async (runId: number) =>
      (
        await one<{ merged_in_run: string | null }>(
          `SELECT merged_in_run FROM run_source WHERE run_id = $1 AND source_id = 'merge'`,
          [runId],
        )
      ).merged_in_run;

    writeCsv('merge', assetsCsv(before));
    await runInProcess(file);
    writeCsv('merge', assetsCsv(after, revised));
    const clean = await runInProcess(file);
    const cleanOutcome = await outcome(clean.runId);
    const { inserted, updated, unchanged } = cleanOutcome.counts as Record<string, number>;
    assert.ok(inserted! > 0 && updated! > 0 && unchanged! > 0, JSON.stringify(cleanOutcome.counts));
    await truncateAll(db);
    await db.pool.query('TRUNCATE test_checkpoint_write RESTART IDENTITY');

    writeCsv('merge', assetsCsv(before));
    const previous = await runInProcess(file);
    const beforeCrash = await recordsChecksum();
    writeCsv('merge', assetsCsv(after, revised));
    // a record the merge is going to update, locked by the test: the merge statement waits on it mid-write
    const rowLock = await holder();
    await rowLock.query(`SELECT id FROM record WHERE source_id = 'merge' AND source_key = 'coin-5001' FOR UPDATE`);
    // a lock writes pass but the ANALYZE after the commit waits on: the retry stops there, its merge committed
    const analyzeLock = await holder();
    await analyzeLock.query('LOCK TABLE record IN SHARE UPDATE EXCLUSIVE MODE');
    const queue = taskQueue('crash-merge');
    const first = worker(queue, file, 'crash-merge-1');
    const handle = await env.client.workflow.start(ingest, {
      taskQueue: queue,
      workflowId: `crash-merge-${queue}`,
      args: [{}],
    });
    const merging = await blockedIn(first, /^\/\* merge all \*\//);
    const held = await locksOf(merging.pid);
    assert.ok(held.includes('advisory') && held.includes('record'), `inside the merge transaction: ${held}`);
    const runId = (await one<{ id: number }>('SELECT max(id)::int AS id FROM run')).id;
    await kill(first, () => releaseHolder(rowLock));

    // nothing of the killed merge is seen: its transaction rolled back whole
    assert.equal(await mergedInRun(runId), null);
    assert.equal(await recordsChecksum(), beforeCrash);
    assert.deepEqual(
      (await outcome(runId)).checkpoints.map((c) => c.last_run_id),
      [previous.runId],
    );

    const second = worker(queue, file, 'crash-merge-2');
    await blockedIn(second, /^ANALYZE record/, 120_000);
    // the retry's merge committed (records, counts, checkpoint), and its worker dies before the activity completes
    assert.equal(await mergedInRun(runId), handle.firstExecutionRunId);
    assert.equal(await recordsChecksum(), cleanOutcome.records);
    await kill(second, () => releaseHolder(analyzeLock));

    worker(queue, file, 'crash-merge-3');
    const summary = (await handle.result()) as RunSummary;
    assert.equal(summary.status, 'succeeded');
    assert.equal(summary.runId, runId);
    assert.equal(
      (await attemptsOf(runId, 'merge')).dedupe,
      3,
      'killed mid-merge, killed after its commit, then the first commit’s outcome',
    );
    assert.equal(await duplicateKeys(), 0, 'one live record per source key');
    const crashed = await outcome(runId);
    assert.deepEqual(crashed, cleanOutcome, 'the same records, quotes, counts and checkpoint writes as a clean run');
    assert.deepEqual(
      crashed.checkpoints.map((c) => c.last_run_id),
      [previous.runId, runId],
      'the checkpoint moved once per run',
    );
  });

  it('links every record exactly once when its worker is killed mid-identity, and its retry killed after resolution committed: no duplicate entity, no lost link', async function () {
    this.timeout(240_000);
    // the right source has the left one's coins and more; enough links that resolution analyzes its tables
    // after its commit: the second kill's window
    const [leftCoins, rightCoins] = [10_000, 10_500];
    const file = sourcesFile('identity', csvSource('left') + csvSource('right'));
    writeCsv('left', assetsCsv(leftCoins));
    writeCsv('right', assetsCsv(rightCoins));
    /** The entities as sets of records, independent of ids, and what the crashed run counted. */
    const outcome = async (runId: number) => ({
      entities: (await one<{ n: number }>('SELECT count(*)::int AS n FROM entity')).n,
      groups: (
        await one<{ sum: string }>(
          `SELECT md5(string_agg(g, ',' ORDER BY g)) AS sum FROM (
             SELECT e.live_sources || ':' || string_agg(r.source_id || '/' || r.source_key || '/' || l.rule, ';' ORDER BY r.source_id, r.source_key) AS g
             FROM entity e JOIN entity_link l ON l.entity_id = e.id JOIN record r ON r.id = l.record_id GROUP BY e.id) s`,
        )
      ).sum,
      unlinked: (
        await one<{ n: number }>(
          'SELECT count(*)::int AS n FROM record r WHERE NOT EXISTS (SELECT 1 FROM entity_link l WHERE l.record_id = r.id)',
        )
      ).n,
      empty: (
        await one<{ n: number }>(
          'SELECT count(*)::int AS n FROM entity e WHERE NOT EXISTS (SELECT 1 FROM entity_link l WHERE l.entity_id = e.id)',
        )
      ).n,
      counted: await one(
        `SELECT entities_linked, entities_created FROM run_source WHERE run_id = $1 AND source_id = 'right'`,
        [runId],
      ),
    });

    await runInProcess(file, ['left']);
    const clean = await runInProcess(file, ['right']);
    const cleanOutcome = await outcome(clean.runId);
    assert.deepEqual(
      cleanOutcome.counted,
      { entities_linked: leftCoins, entities_created: rightCoins - leftCoins },
      'the right source joins the left one’s entities, and adds its own',
    );
    await truncateAll(db);

    await runInProcess(file, ['left']);
    // resolution waits for the test's identity lock; meanwhile the test locks the checkpoint row resolution
    // writes last, so the worker's transaction stops after writing its links and entities, uncommitted
    const identityLock = await holder();
    await identityLock.query(`SELECT pg_advisory_xact_lock(hashtext('identity:asset'))`);
    // a lock writes pass but the ANALYZE after the commit waits on: the retry stops there, its links committed
    const analyzeLock = await holder();
    await analyzeLock.query('LOCK TABLE entity IN SHARE UPDATE EXCLUSIVE MODE');
    const queue = taskQueue('crash-identity');
    const first = worker(queue, file, 'crash-identity-1');
    const handle = await env.client.workflow.start(ingest, {
      taskQueue: queue,
      workflowId: `crash-identity-${queue}`,
      args: [{ sourceIds: ['right'] }],
    });
    await blockedIn(first, /pg_advisory_xact_lock/);
    const checkpointLock = await holder();
    await checkpointLock.query(`SELECT 1 FROM source_state WHERE source_id = 'right' FOR UPDATE`);
    await releaseHolder(identityLock);
    const resolving = await blockedIn(first, /UPDATE source_state SET resolved_payload_id/);
    const held = await locksOf(resolving.pid);
    assert.ok(
      ['advisory', 'entity', 'entity_link', 'run_source'].every((t) => held.includes(t)),
      `links and entities written, uncommitted: ${held}`,
    );
    await kill(first, () => releaseHolder(checkpointLock));

    // nothing of the killed resolution is seen: the right source's records are all still unlinked
    assert.deepEqual(
      await one(
        `SELECT (SELECT count(*) FROM entity)::int AS entities,
                (SELECT count(*) FROM entity_link l JOIN record r ON r.id = l.record_id WHERE r.source_id = 'right')::int AS links`,
      ),
      { entities: leftCoins, links: 0 },
    );

    const second = worker(queue, file, 'crash-identity-2');
    await blockedIn(second, /^ANALYZE entity/, 120_000);
    // the retry's resolution committed (links, entities, counts), and its worker dies before the activity completes
    assert.deepEqual(
      await one(
        `SELECT (SELECT count(*) FROM entity)::int AS entities,
                (SELECT count(*) FROM entity_link l JOIN record r ON r.id = l.record_id WHERE r.source_id = 'right')::int AS links`,
      ),
      { entities: rightCoins, links: rightCoins },
    );
    await kill(second, () => releaseHolder(analyzeLock));

    worker(queue, file, 'crash-identity-3');
    const summary = (await handle.result()) as RunSummary;
    assert.equal(summary.status, 'succeeded');
    assert.equal(
      (await attemptsOf(summary.runId, 'right')).resolveEntities,
      3,
      'killed mid-resolution, killed after its commit, then nothing left to resolve',
    );
    const crashed = await outcome(summary.runId);
    assert.equal(crashed.unlinked, 0, 'no record lost its link');
    assert.equal(crashed.empty, 0, 'no entity without a record');
    assert.deepEqual(crashed, cleanOutcome, 'the same entities, links and counts as a clean run');
  });
});
