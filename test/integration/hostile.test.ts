// Hostile and broken input, the standing suite: what an attacker or an unlucky operator sends must never leak a
// secret, fail the run's bookkeeping, fail a source for one value, let the API answer without bounds, or walk the
// delete guard down. Real worker processes, real Temporal dev server, real PostgreSQL, payloads the tests write,
// served by two local source servers. Each case checks that the good data arrived, nothing was soft-deleted
// that should not be, the API still answers, and the outcome names the cause.
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import type { RunSummary } from '../../src/activities/index.ts';
import { createApp } from '../../src/api/app.ts';
import { openDatabase, type Database } from '../../src/db/orm.ts';
import { loadSettings, projectRoot } from '../../src/settings.ts';
import { MAX_FEED_BYTES } from '../../src/sources/rss.ts';
import { createSourceServer, type SourceServer } from '../../src/sourceserver/server.ts';
import { createWorker } from '../../src/temporal/worker.ts';
import { ingest } from '../../src/workflows/index.ts';
import { freePort } from '../setup.ts';
import { fetchJson, quietLog, startTemporal, taskQueue, tempDir, testDatabase, truncateAll } from '../helpers.ts';

const HEADER_SECRET = 'planted-header-secret-7f3a9c';
const QUERY_SECRET = 'planted-query-secret-51d2e8';
const API_KEY = 'hostile-test-key-0123456789';
/** A worker's peak resident set while it refuses every document of the memory case, together. */
const WORKER_RSS_BOUND_MB = 700;

describe('hostile and broken input (real Temporal, real PostgreSQL, real worker processes)', () => {
  let env: TestWorkflowEnvironment;
  let db: Database;
  let home: SourceServer;
  let elsewhere: SourceServer;
  let homeUrl: string;
  let elsewhereUrl: string;
  let dir: string;
  let root: string;
  let api: Server;
  let url: string;

  before(async function () {
    this.timeout(60_000);
    db = await testDatabase();
    env = await startTemporal();
    dir = tempDir('hostile');
    root = tempDir('hostile-root');
    fs.cpSync(path.join(projectRoot, 'data', 'demo'), root, { recursive: true });
    home = createSourceServer({ root, coingeckoApiKey: HEADER_SECRET });
    elsewhere = createSourceServer({ root });
    homeUrl = await home.listen(0);
    elsewhereUrl = await elsewhere.listen(0);
    api = createApp({ db, temporal: env.client, log: quietLog, settings: loadSettings({ API_KEY }) }).listen(
      0,
      '127.0.0.1',
    );
    await once(api, 'listening');
    url = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  });
  // a test that times out never reaches its finally: its worker process must not outlive the suite
  const workers = new Set<ChildProcess>();
  afterEach(() => {
    for (const child of workers) child.kill('SIGKILL');
    workers.clear();
  });
  after(async () => {
    api?.close();
    await home?.close();
    await elsewhere?.close();
    await db?.close();
    await env?.teardown();
  });
  beforeEach(async () => {
    await truncateAll(db);
    home.setFaults([]);
    home.requests.length = 0;
    elsewhere.requests.length = 0;
  });

  /** A real worker process (src/worker.ts) with its output kept: every log line it writes is searched for secrets. */
  async function runInWorkerProcess(sourcesFile: string, extraEnv: Record<string, string> = {}) {
    const queue = taskQueue('hostile');
    const child = spawn(process.execPath, [path.join(projectRoot, 'src', 'worker.ts')], {
      env: {
        ...process.env,
        DATABASE_URL: process.env.TEST_DATABASE_URL,
        TEMPORAL_ADDRESS: env.address,
        TEMPORAL_NAMESPACE: 'default',
        ETL_TASK_QUEUE: queue,
        ETL_SOURCES_FILE: sourcesFile,
        ETL_WORKER_METRICS_ADDRESS: '127.0.0.1:0',
        LOG_LEVEL: 'debug',
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    workers.add(child);
    child.once('exit', () => workers.delete(child));
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    try {
      const handle = await env.client.workflow.start(ingest, {
        taskQueue: queue,
        workflowId: `hostile-${queue}`,
        args: [{}],
      });
      const summary = (await handle.result()) as RunSummary;
      return {
        summary,
        output: () => output,
        history: JSON.stringify(await handle.fetchHistory()),
        peakRssMb: peakRssMb(child.pid!),
      };
    } finally {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
  }

  /** A process's peak resident set size so far (VmHWM), in MiB. */
  const peakRssMb = (pid: number) =>
    Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

  async function runInProcess(sourcesFile: string): Promise<RunSummary> {
    const queue = taskQueue('hostile');
    const worker = await createWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue: queue,
      db,
      sourcesFile,
    });
    return worker.runUntil(
      env.client.workflow.execute(ingest, { taskQueue: queue, workflowId: `hostile-${queue}`, args: [{}] }),
    );
  }

  const write = (name: string, content: string | Buffer) => fs.writeFileSync(path.join(dir, name), content);
  const sources = (name: string, body: string) => {
    const file = path.join(dir, `${name}.yaml`);
    fs.writeFileSync(file, `sources:\n${body}`);
    return file;
  };
  /** Every text the database holds about runs, payloads and records, as one string. */
  const databaseText = async () =>
    (
      await db.pool.query(
        `SELECT string_agg(t, ' ') AS text FROM (
         SELECT row_to_json(x)::text AS t FROM raw_payload x UNION ALL SELECT row_to_json(x)::text FROM run x
         UNION ALL SELECT row_to_json(x)::text FROM run_source x UNION ALL SELECT row_to_json(x)::text FROM quarantine x
         UNION ALL SELECT row_to_json(x)::text FROM record x UNION ALL SELECT row_to_json(x)::text FROM drift_event x) s`,
      )
    ).rows[0].text as string;

  it('keeps the credential with its origin across a redirect, and plants it nowhere: logs, database, API, workflow history', async function () {
    this.timeout(120_000);
    home.setFaults([{ path: '/coingecko', redirectTo: elsewhereUrl }]);
    const file = sources(
      'secrets',
      [
        '  - id: gecko',
        '    kind: coingecko',
        `    url: ${homeUrl}/coingecko/api/v3/coins/markets?vs_currency=usd&api_key=\${PLANTED_QUERY_KEY}`,
        '    auth: { env: PLANTED_HEADER_KEY, header: x-cg-demo-api-key }',
        '    paging: { per_page: 50 }',
        '',
      ].join('\n'),
    );
    const { summary, output, history } = await runInWorkerProcess(file, {
      PLANTED_HEADER_KEY: HEADER_SECRET,
      PLANTED_QUERY_KEY: QUERY_SECRET,
    });
    assert.equal(summary.status, 'succeeded', JSON.stringify(summary));
    const asked = home.requests.filter((r) => r.path.startsWith('/coingecko'));
    const followed = elsewhere.requests.filter((r) => r.path.startsWith('/coingecko'));
    assert.ok(asked.length > 0 && asked.every((r) => r.hasApiKey), 'the configured origin gets the credential');
    assert.ok(followed.length > 0 && followed.every((r) => !r.hasApiKey), 'the host it redirects to does not');
    assert.equal(
      (await db.pool.query(`SELECT count(*)::int AS n FROM record WHERE source_id = 'gecko'`)).rows[0].n,
      100,
    );

    const record = (await db.pool.query(`SELECT id, run_id FROM record WHERE source_id = 'gecko' LIMIT 1`)).rows[0];
    const responses = await Promise.all(
      [`/runs/${record.run_id}`, `/data/${record.id}`, '/health', '/stats', '/runs'].map(async (p) =>
        (await fetch(url + p)).text(),
      ),
    );
    const everywhere = [output(), await databaseText(), history, ...responses].join('\n');
    for (const secret of [HEADER_SECRET, QUERY_SECRET]) assert.ok(!everywhere.includes(secret), `${secret} leaked`);
    assert.match(await databaseText(), /api_key=REDACTED/, 'the stored URL says a credential was there');
    assert.ok(!output().includes('taskToken'), 'no activity task token in the logs');
  });

  it('ingests the good rows of a file with hostile values, keeps a record whose bad value is an optional field, quarantines the rest, and the API stays small', async function () {
    this.timeout(60_000);
    const rows = [
      'id,symbol,name,rank,price,last_updated',
      'good-1,AAA,Good One,1,1.5,2024-03-01T00:00:00Z',
      'huge,BBB,Huge,2,1e131000,2024-03-01T00:00:00Z',
      `long,CCC,Long,3,${'9'.repeat(140_000)},2024-03-01T00:00:00Z`,
      'rank,DDD,Rank,2147483648,1,2024-03-01T00:00:00Z',
      'year,EEE,Year,5,1,0000-01-01T00:00:00Z',
      `${'k'.repeat(10_000)},FFF,Key,6,1,2024-03-01T00:00:00Z`,
      'nul,GGG,Nul\u0000Name,7,1,2024-03-01T00:00:00Z',
      'good-2,HHH,Good Two,8,2.5,2024-03-01T00:00:00Z',
    ];
    write('values.csv', `${rows.join('\n')}\n`);
    const summary = await runInProcess(sources('values', '  - id: values\n    kind: csv\n    url: ./values.csv\n'));
    assert.equal(summary.status, 'succeeded', JSON.stringify(summary));
    // the observation time and the key cost the record; a price or rank out of its domain costs only the field
    const reasons = (await db.pool.query(`SELECT reason FROM quarantine ORDER BY raw_position`)).rows.map(
      (r) => r.reason,
    );
    assert.equal(reasons.length, 2);
    assert.match(reasons[0], /source_updated_at is out of range/);
    assert.match(reasons[1], /source_key is longer than 200 characters/);
    const issues = (
      await db.pool.query(`SELECT source_key, field, value, reason FROM field_issue ORDER BY raw_position`)
    ).rows;
    assert.deepEqual(
      issues.map((i) => [i.source_key, i.field]),
      [
        ['huge', 'price_usd'],
        ['long', 'price_usd'],
        ['rank', 'rank'],
      ],
    );
    assert.match(issues[0].reason, /is out of range \(about 1e131000/);
    assert.match(issues[1].reason, /has more than 40 significant digits/);
    assert.match(issues[2].reason, /is out of range/);
    assert.ok(
      [...reasons, ...issues.flatMap((i) => [i.reason, i.value])].every((r) => r.length < 300),
      'a reason quotes a value, it does not repeat it',
    );
    assert.equal((await db.pool.query(`SELECT field_issues FROM run_source`)).rows[0].field_issues, 3);
    const live = (await db.pool.query(`SELECT source_key, name, price_usd, rank FROM record ORDER BY source_key`)).rows;
    assert.deepEqual(
      live.map((r) => r.source_key),
      ['good-1', 'good-2', 'huge', 'long', 'nul', 'rank'],
    );
    assert.deepEqual(
      live.filter((r) => ['huge', 'long'].includes(r.source_key)).map((r) => r.price_usd),
      [null, null],
    );
    assert.equal(live.find((r) => r.source_key === 'rank').rank, null);
    assert.equal(
      live.find((r) => r.source_key === 'nul').name,
      'Nul\uFFFDName',
      'a NUL in a cell is kept visibly, not a failed COPY',
    );
    const page = await fetch(`${url}/data?limit=1000`);
    assert.equal(page.status, 200);
    assert.ok((await page.text()).length < 20_000);
  });

  it('bounds what one document may cost the worker: a decompression bomb, a line without end, nesting without end, feeds too big or self-expanding', async function () {
    this.timeout(240_000);
    // a quarter of a GiB of zeros in a few hundred KiB, answered as gzip-encoded JSON
    const gzip = zlib.createGzip({ level: 9 });
    const compressed: Buffer[] = [];
    gzip.on('data', (c: Buffer) => compressed.push(c));
    const zeros = Buffer.alloc(1 << 20);
    for (let i = 0; i < 256; i++) if (!gzip.write(zeros)) await once(gzip, 'drain');
    gzip.end();
    await once(gzip, 'end');
    const bomb = Buffer.concat(compressed);
    const bombServer = http.createServer(
      (_req, res) =>
        void res
          .writeHead(200, {
            'content-type': 'application/json',
            'content-encoding': 'gzip',
            'content-length': bomb.length,
          })
          .end(bomb),
    );
    bombServer.listen(0, '127.0.0.1');
    await once(bombServer, 'listening');
    try {
      const bombUrl = `http://127.0.0.1:${(bombServer.address() as AddressInfo).port}/v1/tickers`;
      write('endless.csv', `symbol,name,price_usd\nAAA,Alpha,1\nBAD,${'x'.repeat(64 << 20)}\nBBB,Beta,2\n`);
      // (a coinpaprika source is read over http: the source server serves the file)
      fs.writeFileSync(
        path.join(root, 'deep.json'),
        `[{"id":"deep-deep","symbol":"DEEP","quotes":{"USD":{"price":1}},"x":${'{"a":'.repeat(200_000)}1${'}'.repeat(200_000)}}]`,
      );
      // a feed just under the limit loads (parsed whole, the costliest document the worker holds), one over it is refused
      const item = (i: number) =>
        `<item><title>Item ${i}</title><link>https://example.com/${i}</link><guid>${i}</guid><description>${'words of a &lt;b&gt;summary&lt;/b&gt; '.repeat(20)}</description></item>`;
      const feed = (items: number) =>
        `<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>${Array.from({ length: items }, (_, i) => item(i)).join('')}</channel></rss>`;
      let itemsUnder = Math.floor(MAX_FEED_BYTES / item(0).length);
      while (Buffer.byteLength(feed(itemsUnder)) > MAX_FEED_BYTES) itemsUnder -= 100;
      write('full.rss', feed(itemsUnder));
      write('huge.rss', feed(itemsUnder + 200));
      const entities = Array.from(
        { length: 9 },
        (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`,
      ).join('');
      write(
        'laughs.rss',
        `<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol "lol">${entities}]><rss version="2.0"><channel><title>t</title><item><title>&lol9;</title><guid>a</guid></item></channel></rss>`,
      );
      const file = sources(
        'bounded',
        [
          `  - { id: bomb, kind: coinpaprika, url: "${bombUrl}", http: { max_bytes: 16777216 } }`,
          '  - { id: endless-line, kind: csv, url: ./endless.csv }',
          `  - { id: deep-json, kind: coinpaprika, url: "${homeUrl}/files/deep.json" }`,
          '  - { id: full-feed, kind: rss, url: ./full.rss }',
          '  - { id: huge-feed, kind: rss, url: ./huge.rss }',
          '  - { id: laughs, kind: rss, url: ./laughs.rss }',
          '',
        ].join('\n'),
      );
      const { summary, peakRssMb } = await runInWorkerProcess(file);
      const outcome = Object.fromEntries(summary.sources.map((s) => [s.sourceId, s.error ?? s.status]));
      assert.match(outcome.bomb!, /larger than max_bytes \(16777216 bytes\) once decompressed/);
      assert.equal(outcome['endless-line'], 'succeeded');
      assert.match(outcome['deep-json']!, /nests objects deeper than 32 levels/);
      assert.equal(outcome['full-feed'], 'succeeded');
      assert.equal(
        (await db.pool.query(`SELECT count(*)::int AS n FROM record WHERE source_id = 'full-feed'`)).rows[0].n,
        itemsUnder,
      );
      assert.match(outcome['huge-feed']!, new RegExp(`a feed larger than ${MAX_FEED_BYTES} bytes`));
      assert.match(outcome.laughs!, /not an RSS or Atom feed .*Invalid character entity/);
      // the rows around the endless line arrived; the line is quarantined, by an excerpt
      const live = (
        await db.pool.query(`SELECT source_key FROM record WHERE source_id = 'endless-line' ORDER BY 1`)
      ).rows.map((r) => r.source_key);
      assert.deepEqual(live, ['AAA', 'BBB']);
      const quarantined = (
        await db.pool.query(
          `SELECT reason, length(fields::text) AS size FROM quarantine WHERE source_id = 'endless-line'`,
        )
      ).rows;
      assert.equal(quarantined.length, 1);
      assert.match(quarantined[0].reason, /a record longer than 1048576 characters \(from line 3\)/);
      assert.ok(quarantined[0].size < 20_000);
      // one attempt per stage: a refusal is final (the document cannot change), and no stage starved another's heartbeat
      const attempts = (
        await db.pool.query(`SELECT source_id, attempts FROM run_source WHERE run_id = $1`, [summary.runId])
      ).rows;
      assert.equal(attempts.length, 6);
      for (const { source_id, attempts: perStage } of attempts)
        assert.ok(
          Object.values(perStage as Record<string, number>).every((n) => n === 1),
          `${source_id}: ${JSON.stringify(perStage)}`,
        );
      // the bound stated in the README ("Failure modes and recovery")
      assert.ok(peakRssMb < WORKER_RSS_BOUND_MB, `worker peak RSS ${peakRssMb.toFixed(0)} MiB`);
    } finally {
      bombServer.close();
    }
  });

  it('closes the run with every outcome when a source sends UTF-16 without a byte-order mark or NULs in its texts', async function () {
    this.timeout(60_000);
    const feed = (title: string) =>
      `<?xml version="1.0" encoding="UTF-16"?><rss version="2.0"><channel><title>t</title>` +
      `<item><title>${title}</title><link>https://news.example/a</link><guid>a</guid><pubDate>Fri, 01 Mar 2024 10:00:00 GMT</pubDate></item>` +
      `<item><title>Second</title><link>https://news.example/b</link><guid>b</guid></item></channel></rss>`;
    write('utf16.rss', Buffer.from(feed('Über den Wolken'), 'utf16le')); // no BOM
    write('nul.rss', feed('Broken\u0000Title').replace('encoding="UTF-16"', 'encoding="UTF-8"'));
    write('nulheader.csv', 'na\u0000me,price\nBitcoin,1\n'); // fails, with a NUL in the reason (its field list)
    const file = sources(
      'bookkeeping',
      [
        '  - { id: utf16, kind: rss, url: ./utf16.rss, delete_policy: never }',
        '  - { id: nulfeed, kind: rss, url: ./nul.rss, delete_policy: never }',
        '  - { id: nulheader, kind: csv, url: ./nulheader.csv }',
        '  - { id: nofile, kind: csv, url: ./missing.csv }',
        '',
      ].join('\n'),
    );
    const summary = await runInProcess(file);
    assert.equal(summary.status, 'partial', JSON.stringify(summary));
    const run = (await db.pool.query(`SELECT status, finished_at, error FROM run WHERE id = $1`, [summary.runId]))
      .rows[0];
    assert.equal(run.status, 'partial', 'the run row is closed');
    assert.ok(run.finished_at);
    const outcomes = Object.fromEntries(
      (
        await db.pool.query(`SELECT source_id, status, error FROM run_source WHERE run_id = $1`, [summary.runId])
      ).rows.map((r) => [r.source_id, r]),
    );
    assert.equal(outcomes.utf16.status, 'succeeded', 'UTF-16 without a BOM is read as UTF-16');
    assert.deepEqual(
      (await db.pool.query(`SELECT title FROM record WHERE source_id = 'utf16' ORDER BY title`)).rows.map(
        (r) => r.title,
      ),
      ['Second', 'Über den Wolken'],
    );
    assert.equal(outcomes.nulheader.status, 'failed');
    assert.match(
      outcomes.nulheader.error,
      /nothing maps to source_key, symbol; fields: na\uFFFDme, price/,
      'the reason is stored, its NUL made visible',
    );
    assert.equal(outcomes.nofile.status, 'failed');
    assert.match(outcomes.nofile.error, /cannot read \.\/missing\.csv \(ENOENT\)/);
    assert.ok(!JSON.stringify(outcomes).includes(dir), 'no server path: a file is named as the sources file names it');
    assert.equal(outcomes.nulfeed.status, 'succeeded');
    assert.deepEqual(
      (await db.pool.query(`SELECT title FROM record WHERE source_id = 'nulfeed' ORDER BY title`)).rows.map(
        (r) => r.title,
      ),
      ['Broken\uFFFDTitle', 'Second'],
    );
  });

  it('closes a run whose workflow ended without closing it, when the next run starts', async function () {
    this.timeout(60_000);
    write('small.csv', 'id,symbol,price\nbtc,BTC,1\n');
    const file = sources('abandoned', '  - { id: small, kind: csv, url: ./small.csv }\n');
    // a run whose workflow was terminated between startRun and finishRun
    const handle = await env.client.workflow.start(ingest, {
      taskQueue: taskQueue('nobody'),
      workflowId: `abandoned-${Date.now()}`,
      args: [{}],
    });
    await handle.terminate('test: an operator terminated it');
    await db.pool.query(
      `INSERT INTO run (workflow_id, temporal_run_id, original_run_id, status, started_at) VALUES ($1, $2, $2, 'running', now() - interval '10 minutes')`,
      [handle.workflowId, handle.firstExecutionRunId],
    );
    await db.pool.query(
      `INSERT INTO run_source (run_id, source_id) SELECT id, 'small' FROM run WHERE workflow_id = $1`,
      [handle.workflowId],
    );
    const next = await runInProcess(file);
    assert.equal(next.status, 'succeeded');
    const stale = (
      await db.pool.query(
        `SELECT r.status, r.error, s.status AS source_status FROM run r JOIN run_source s ON s.run_id = r.id WHERE r.workflow_id = $1`,
        [handle.workflowId],
      )
    ).rows[0];
    assert.deepEqual([stale.status, stale.source_status], ['failed', 'failed']);
    assert.match(
      stale.error,
      new RegExp(`the workflow ended terminated without closing its run; closed by run ${next.runId}`),
    );
  });

  it('cannot be walked down by snapshots that each stay under max_delete_ratio, and an operator can approve a real shrink', async function () {
    this.timeout(120_000);
    const snapshot = (count: number) =>
      `${['id,symbol,price', ...Array.from({ length: count }, (_, i) => `coin-${i},C${i},${i + 1}`)].join('\n')}\n`;
    const file = sources('shrink', '  - { id: shrinking, kind: csv, url: ./shrinking.csv, max_delete_ratio: 0.2 }\n');
    const guard = async (runId: number) =>
      (await db.pool.query(`SELECT soft_deleted, delete_guard FROM run_source WHERE run_id = $1`, [runId])).rows[0];
    const live = async () =>
      (await db.pool.query(`SELECT count(*)::int AS n FROM record WHERE deleted_at IS NULL`)).rows[0].n;
    write('shrinking.csv', snapshot(150));
    await runInProcess(file);
    write('shrinking.csv', snapshot(123)); // 18 % fewer: allowed
    const first = await runInProcess(file);
    assert.equal((await guard(first.runId)).soft_deleted, 27);
    write('shrinking.csv', snapshot(101)); // 18 % fewer again, but 33 % fewer than the 150 of the window
    const second = await runInProcess(file);
    const held = await guard(second.runId);
    assert.equal(held.soft_deleted, 0);
    assert.match(
      held.delete_guard,
      /held 22 deletes: 101 live records would remain, 32\.7% fewer than the 150 the source had since .*: more than max_delete_ratio 20%/,
    );
    assert.equal(await live(), 123);

    const refused = await fetchJson(`${url}/sources/shrinking/approve-shrink`, { method: 'POST' });
    assert.equal(refused.status, 401);
    const approved = await fetchJson(`${url}/sources/shrinking/approve-shrink`, {
      method: 'POST',
      headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
      body: '{"note":"the exchange delisted them"}',
    });
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    const third = await runInProcess(file);
    assert.deepEqual([(await guard(third.runId)).soft_deleted, await live()], [22, 101]);
    // the approval was used once: the baseline starts again at 101
    write('shrinking.csv', snapshot(60));
    const fourth = await runInProcess(file);
    assert.match((await guard(fourth.runId)).delete_guard, /held 41 of 101 live records/);
    assert.equal(
      (await fetchJson(`${url}/sources/nowhere/approve-shrink`, { method: 'POST', headers: { 'x-api-key': API_KEY } }))
        .status,
      404,
    );
  });

  it('bounds what a request may cost: offsets, strict ids, a statement timeout on every API session', async () => {
    const deep = await fetchJson(`${url}/data?offset=10001`);
    assert.equal(deep.status, 400);
    assert.match(deep.body.invalid_params[0].reason, /page deeper with cursor/);
    for (const id of ['0x1', '+1', '1e0', '01', '%201'])
      assert.equal((await fetchJson(`${url}/data/${id}`)).status, 400, id);
    const timed = await openDatabase(process.env.TEST_DATABASE_URL!, { statementTimeoutMs: 50 });
    try {
      await assert.rejects(
        timed.pool.query('SELECT pg_sleep(1)'),
        (error: { code?: string }) => error.code === '57014',
      );
    } finally {
      await timed.close();
    }
  });

  it('answers the source server control endpoints only from this machine', async function () {
    const address = Object.values(os.networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    if (!address) this.skip(); // a machine without a network interface has no one else to refuse
    const server = createSourceServer({ root: dir });
    const port = await freePort();
    await server.listen(port, '0.0.0.0');
    try {
      const remote = await fetch(`http://${address}:${port}/_control/faults`, {
        method: 'PUT',
        body: '[{"path":"/","status":500}]',
      });
      assert.equal(remote.status, 403);
      const local = await fetch(`http://127.0.0.1:${port}/_control/faults`);
      assert.equal(local.status, 200);
      assert.deepEqual(await local.json(), [], 'the remote request changed nothing');
    } finally {
      await server.close();
    }
  });
});
