// The five demo sources, served over HTTP by the local source server, ingested by the real workflow on a
// real Temporal dev server into the real database: first run, the unchanged re-run (304s), schema drift
// under each policy, credentials, and a source asking to be retried later.
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { RunSummary } from '../../src/activities/index.ts';
import type { Database } from '../../src/db/orm.ts';
import { projectRoot } from '../../src/settings.ts';
import { createSourceServer, type SourceServer } from '../../src/sourceserver/server.ts';
import { createWorker } from '../../src/temporal/worker.ts';
import { ingest } from '../../src/workflows/index.ts';
import { startTemporal, taskQueue, tempDir, testDatabase, truncateAll } from '../helpers.ts';

describe('sources over HTTP (local source server, real Temporal, real PostgreSQL)', () => {
  let env: TestWorkflowEnvironment;
  let db: Database;
  let server: SourceServer;
  let root: string;
  let configDir: string;
  const saved = { url: process.env.ETL_SOURCE_SERVER_URL, key: process.env.COINGECKO_API_KEY };

  before(async function () {
    this.timeout(30_000);
    // one after the other: a failed database start must not strand a running dev server
    db = await testDatabase();
    env = await startTemporal();
    root = tempDir('demo');
    configDir = tempDir('config');
    fs.cpSync(path.join(projectRoot, 'data', 'demo'), root, { recursive: true });
    server = createSourceServer({ root, coingeckoApiKey: 'test-key' });
    process.env.ETL_SOURCE_SERVER_URL = await server.listen(0);
    process.env.COINGECKO_API_KEY = 'test-key';
  });
  after(async () => {
    // only what this suite set: later suites share the process environment
    restoreEnv('ETL_SOURCE_SERVER_URL', saved.url);
    restoreEnv('COINGECKO_API_KEY', saved.key);
    await server?.close();
    await db?.close();
    await env?.teardown();
  });
  beforeEach(async () => {
    await truncateAll(db);
    fs.cpSync(path.join(projectRoot, 'data', 'demo'), root, { recursive: true });
    server.setFaults([]);
    server.requests.length = 0;
  });

  async function run(
    sourcesFile = path.join(projectRoot, 'config', 'sources.demo.yaml'),
    sourceIds?: string[],
  ): Promise<RunSummary> {
    const queue = taskQueue('sources');
    const worker = await createWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue: queue,
      db,
      sourcesFile,
    });
    return worker.runUntil(
      env.client.workflow.execute(ingest, { taskQueue: queue, workflowId: `sources-${queue}`, args: [{ sourceIds }] }),
    );
  }
  const counts = async (runId: number): Promise<Record<string, any>> =>
    Object.fromEntries(
      (await db.pool.query('SELECT * FROM run_source WHERE run_id = $1', [runId])).rows.map((r) => [r.source_id, r]),
    );
  const coingecko = (drift: 'evolve' | 'warn' | 'freeze') => {
    const file = path.join(configDir, `coingecko-${drift}.yaml`);
    fs.writeFileSync(
      file,
      `sources:\n  - id: coingecko\n    kind: coingecko\n    url: ${process.env.ETL_SOURCE_SERVER_URL}/coingecko/api/v3/coins/markets?vs_currency=usd\n` +
        `    auth: { env: COINGECKO_API_KEY, header: x-cg-demo-api-key }\n    paging: { per_page: 40 }\n    drift_policy: ${drift}\n`,
    );
    return file;
  };
  /** Renames current_price to price_current in the served CoinGecko payload, and reprices bitcoin. */
  const renamePrice = () => {
    const file = path.join(root, 'coingecko-markets.json');
    const coins = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>[];
    const renamed = coins.map(({ current_price, ...rest }) => ({
      ...rest,
      price_current: rest.id === 'bitcoin' ? 33000 : current_price,
    }));
    fs.writeFileSync(file, JSON.stringify(renamed));
  };
  const price = async (sourceId: string, key: string) =>
    (
      await db.pool.query<{ price_usd: string | null }>(
        'SELECT price_usd FROM record WHERE source_id = $1 AND source_key = $2',
        [sourceId, key],
      )
    ).rows[0]?.price_usd;

  it('ingests all five demo sources: records for each id, bad ones quarantined with reasons', async () => {
    const summary = await run();
    assert.equal(summary.status, 'succeeded');
    const c = await counts(summary.runId);
    assert.deepEqual(
      Object.fromEntries(Object.entries(c).map(([id, r]) => [id, [r.status, r.inserted, r.quarantined, r.duplicates]])),
      {
        coinpaprika: ['succeeded', 150, 0, 0],
        coingecko: ['succeeded', 100, 0, 0],
        'csv-assets': ['succeeded', 50, 0, 0],
        'csv-quirky': ['succeeded', 11, 3, 0],
        'rss-news': ['succeeded', 7, 1, 0],
      },
    );
    // CoinGecko was paged: 4 pages of 25, then the empty page that ends the listing
    assert.deepEqual(
      server.requests.filter((r) => r.path.startsWith('/coingecko')).map((r) => r.query.page),
      ['1', '2', '3', '4', '5'],
    );
    assert.ok(
      server.requests.filter((r) => r.path.startsWith('/coingecko')).every((r) => r.hasApiKey),
      'the credential is sent',
    );
    assert.equal(await price('coinpaprika', 'btc-bitcoin'), '10913.27425377');
    assert.equal(
      (await db.pool.query(`SELECT max_supply FROM record WHERE source_key = 'eth-ethereum'`)).rows[0].max_supply,
      null,
      "CoinPaprika's max_supply 0 means none",
    );
    assert.equal(await price('csv-quirky', 'BTC'), '32797.00');
    const cafe = (await db.pool.query(`SELECT name FROM record WHERE source_id = 'csv-quirky' AND symbol = 'MIOTA'`))
      .rows[0];
    assert.equal(cafe.name, 'IOTA Café', 'Windows-1252 decoded');
    const reasons = (
      await db.pool.query<{ reason: string }>(
        `SELECT reason FROM quarantine WHERE source_id = 'csv-quirky' ORDER BY raw_position`,
      )
    ).rows.map((r) => r.reason);
    // a bad time or key costs the record; a bad price or volume only the field, kept beside the record
    assert.deepEqual(
      reasons.map((r) => r.split(':')[0]),
      [
        'source_updated_at not a valid date',
        'source_updated_at not a dd-mm-yyyy date',
        'source_key is required; symbol is required',
      ],
    );
    const issues = (
      await db.pool.query(
        `SELECT source_key, field, value, reason FROM field_issue WHERE source_id = 'csv-quirky' ORDER BY raw_position`,
      )
    ).rows;
    assert.deepEqual(
      issues.map((i) => [i.source_key, i.field, i.value]),
      [
        ['ETH', 'price_usd', '"1.913,88"'],
        ['LTC', 'volume_24h_usd', '"3,1 Mrd"'],
        ['XMR', 'price_usd', '"€ 219,45"'],
      ],
    );
    assert.equal(await price('csv-quirky', 'XMR'), null);
    assert.equal(c['csv-quirky']!.field_issues, 3);
    assert.deepEqual(c['csv-quirky']!.warnings, [
      'source_updated_at: read as UTC in 12 records, written without a time zone (e.g. "24-06-2021 03:32"); set timezone in the sources file',
    ]);
  });

  it('re-runs unchanged sources as unchanged, asking with If-None-Match and writing no row', async () => {
    await run();
    const before = (await db.pool.query('SELECT id, xmin::text FROM record ORDER BY id')).rows;
    server.requests.length = 0;
    const second = await run();
    assert.ok(
      second.sources.every((s) => s.status === 'unchanged'),
      JSON.stringify(second.sources),
    );
    assert.deepEqual((await db.pool.query('SELECT id, xmin::text FROM record ORDER BY id')).rows, before);
    const conditional = server.requests.filter((r) => r.ifNoneMatch);
    assert.deepEqual(conditional.map((r) => [r.path, r.status]).sort(), [
      ['/coinpaprika/v1/tickers', 304],
      ['/files/news.rss', 304],
      ['/files/quirky.csv', 304],
    ]);
    const payloads = (
      await db.pool.query(`SELECT source_id, status FROM raw_payload WHERE run_id = $1 ORDER BY source_id`, [
        second.runId,
      ])
    ).rows;
    assert.deepEqual(
      payloads.map((p) => [p.source_id, p.status]),
      [
        ['coingecko', 'unchanged'],
        ['coinpaprika', 'not_modified'],
        ['csv-assets', 'unchanged'],
        ['csv-quirky', 'not_modified'],
        ['rss-news', 'not_modified'],
      ],
    );
  });

  it('evolve: a renamed field is detected with a confidence score and the price is still ingested', async () => {
    const sources = coingecko('evolve');
    await run(sources);
    renamePrice();
    const second = await run(sources);
    const events = (
      await db.pool.query(
        `SELECT change, field, previous_field, confidence, action FROM drift_event WHERE run_id = $1`,
        [second.runId],
      )
    ).rows;
    assert.deepEqual(events, [
      { change: 'renamed', field: 'price_current', previous_field: 'current_price', confidence: 1, action: 'applied' },
    ]);
    assert.equal(await price('coingecko', 'bitcoin'), '33000');
    assert.equal(await price('coingecko', 'ethereum'), '1913.88');
    const c = (await counts(second.runId)).coingecko;
    assert.deepEqual([c.updated, c.unchanged, c.drift_events], [1, 99, 1]);
    // the rename is remembered: the next run maps price_current without a new event
    fs.writeFileSync(
      path.join(root, 'coingecko-markets.json'),
      fs
        .readFileSync(path.join(root, 'coingecko-markets.json'), 'utf8')
        .replace('"price_current":33000', '"price_current":34000'),
    );
    const third = await run(sources);
    assert.equal(await price('coingecko', 'bitcoin'), '34000');
    assert.equal((await counts(third.runId)).coingecko.drift_events, 0);
  });

  it('warn: the rename is reported and the records keep the configured mapping', async () => {
    const sources = coingecko('warn');
    await run(sources);
    renamePrice();
    const second = await run(sources);
    const events = (await db.pool.query(`SELECT change, action FROM drift_event WHERE run_id = $1`, [second.runId]))
      .rows;
    assert.deepEqual(events, [{ change: 'renamed', action: 'reported' }]);
    assert.equal(await price('coingecko', 'bitcoin'), null, 'current_price is gone and nothing was remapped');
  });

  it('freeze: every record the rename touches is quarantined, and nothing is deleted', async () => {
    const sources = coingecko('freeze');
    await run(sources);
    renamePrice();
    const second = await run(sources);
    const c = (await counts(second.runId)).coingecko;
    assert.deepEqual([c.staged, c.quarantined, c.soft_deleted], [0, 100, 0]);
    const reason = (await db.pool.query(`SELECT reason FROM quarantine WHERE run_id = $1 LIMIT 1`, [second.runId]))
      .rows[0].reason;
    assert.match(reason, /schema drift \(freeze\): field 'price_current' looks like a rename of 'current_price'/);
    assert.equal(await price('coingecko', 'bitcoin'), '32797', 'the last good price stays');
  });

  it('fails a source whose credential is wrong without retrying, and the others still run', async () => {
    process.env.COINGECKO_API_KEY = 'wrong';
    try {
      const started = Date.now();
      const summary = await run(undefined, ['coingecko', 'csv-assets']);
      assert.equal(summary.status, 'partial');
      const failed = summary.sources.find((s) => s.sourceId === 'coingecko')!;
      assert.match(failed.error!, /answered 401/);
      assert.equal(server.requests.filter((r) => r.path.startsWith('/coingecko')).length, 1, 'a 401 is not retried');
      assert.ok(Date.now() - started < 10_000);
    } finally {
      process.env.COINGECKO_API_KEY = 'test-key';
    }
  });

  it('waits as long as a 503 Retry-After asks before trying again', async () => {
    // 4 s, where the activity's own retry policy would have tried again after 2 s
    server.setFaults([{ path: '/coinpaprika', status: 503, retryAfter: 4, times: 1 }]);
    const summary = await run(undefined, ['coinpaprika']);
    assert.equal(summary.status, 'succeeded');
    const asked = server.requests.filter((r) => r.path.startsWith('/coinpaprika'));
    assert.deepEqual(
      asked.map((r) => r.status),
      [503, 200],
    );
    // measured between the two requests the source saw, so nothing else in the run can make up the wait
    assert.ok(asked[1]!.at - asked[0]!.at >= 4000, `asked again ${asked[1]!.at - asked[0]!.at} ms after the 503`);
  });

  it('stops a paged source at max_pages: the snapshot is incomplete, its records are kept, nothing is deleted', async () => {
    const file = path.join(configDir, 'coingecko-capped.yaml');
    const source = (maxPages: number) =>
      `sources:\n  - id: coingecko\n    kind: coingecko\n    url: ${process.env.ETL_SOURCE_SERVER_URL}/coingecko/api/v3/coins/markets?vs_currency=usd\n` +
      `    auth: { env: COINGECKO_API_KEY, header: x-cg-demo-api-key }\n    paging: { per_page: 10, max_pages: ${maxPages} }\n    delete_policy: snapshot\n    max_delete_ratio: 1\n`;
    fs.writeFileSync(file, source(20));
    const whole = await run(file);
    assert.equal(whole.status, 'succeeded');
    const served = (JSON.parse(fs.readFileSync(path.join(root, 'coingecko-markets.json'), 'utf8')) as unknown[]).length;
    assert.equal((await counts(whole.runId)).coingecko.inserted, served);

    fs.writeFileSync(file, source(3));
    server.requests.length = 0;
    const capped = await run(file);
    assert.equal(capped.sources[0]!.status, 'succeeded');
    assert.deepEqual(
      server.requests.map((r) => r.query.page),
      ['1', '2', '3'],
      'no page past the cap is asked for',
    );
    const rs = (await counts(capped.runId)).coingecko;
    assert.equal(rs.parsed, 30);
    assert.equal(rs.soft_deleted, 0);
    assert.match(rs.delete_guard, /the snapshot is incomplete \(stopped at max_pages 3 before an empty page\)/);
    const payload = (
      await db.pool.query('SELECT status, incomplete_reason FROM raw_payload WHERE id = $1', [rs.payload_id])
    ).rows[0];
    assert.equal(payload.incomplete_reason, 'stopped at max_pages 3 before an empty page');
    const live = (
      await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM record WHERE source_id = 'coingecko' AND deleted_at IS NULL`,
      )
    ).rows[0]!.n;
    assert.equal(live, served, 'the coins past the cap are still live');
  });

  describe('faults: in the sources file (ETL_FAULT_INJECTION=1)', () => {
    const injection = process.env.ETL_FAULT_INJECTION;
    before(() => {
      process.env.ETL_FAULT_INJECTION = '1';
    });
    after(() => restoreEnv('ETL_FAULT_INJECTION', injection));
    const csvWith = (faults: string) => {
      const file = path.join(configDir, `csv-${faults.replace(/\W+/g, '-')}.yaml`);
      fs.writeFileSync(
        file,
        `sources:\n  - id: csv-assets\n    kind: csv\n    url: ${process.env.ETL_SOURCE_SERVER_URL}/files/assets.csv\n    faults: { ${faults} }\n`,
      );
      return file;
    };
    const attempts = async (runId: number) => (await counts(runId))['csv-assets'].attempts as Record<string, number>;

    it('fetch_failures: the first N fetch attempts fail and are retried; the run succeeds', async () => {
      const summary = await run(csvWith('fetch_failures: 2'));
      assert.equal(summary.status, 'succeeded');
      assert.equal((await attempts(summary.runId)).fetchSource, 3);
      const errors = (await counts(summary.runId))['csv-assets'].errors as { stage: string; error: string }[];
      assert.deepEqual(
        errors.map((e) => e.stage),
        ['fetchSource', 'fetchSource'],
      );
      assert.match(errors[0]!.error, /injected fetch failure \(attempt 1 of the first 2\)/);
      assert.equal(server.requests.length, 1, 'an injected failure happens before the request');
    });

    it('fail_at_record: the first normalize attempt fails at that record, the retry stages every record once', async () => {
      const summary = await run(csvWith('fail_at_record: 7'));
      assert.equal(summary.status, 'succeeded');
      assert.equal((await attempts(summary.runId)).normalize, 2);
      const rs = (await counts(summary.runId))['csv-assets'];
      assert.match(rs.errors[0].error, /injected failure at record 7/);
      const rows = (
        await db.pool.query<{ n: number; keys: number }>(
          `SELECT count(*)::int AS n, count(DISTINCT source_key)::int AS keys FROM record WHERE source_id = 'csv-assets'`,
        )
      ).rows[0]!;
      assert.equal(rs.inserted, rows.n);
      assert.equal(rows.n, rows.keys);
      assert.equal(rs.duplicates, 0, 'nothing the first attempt staged is counted twice');
    });

    it('latency_ms: every fetch attempt waits that long before it asks', async () => {
      const summary = await run(csvWith('latency_ms: 1500'));
      assert.equal(summary.status, 'succeeded');
      const started = new Date(
        (await db.pool.query<{ at: string }>('SELECT started_at AS at FROM run WHERE id = $1', [summary.runId]))
          .rows[0]!.at,
      ).getTime();
      assert.ok(
        server.requests[0]!.at - started >= 1500,
        `asked ${server.requests[0]!.at - started} ms after the run started`,
      );
    });
  });
});

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}
