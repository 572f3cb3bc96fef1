// Real-world inputs end to end (real Temporal, real PostgreSQL, the API): a bad optional field costs the
// field, not the record; a header-only file says it is empty and deletes nothing; a product catalogue is
// refused as market data unless the sources file maps its symbol column; a feed with the slips feed readers
// forgive is read, its zone-less times in the source's zone. The files are written by the tests.
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import path from 'node:path';
import { createApp } from '../../src/api/app.ts';
import type { RunSummary } from '../../src/activities/index.ts';
import type { Database } from '../../src/db/orm.ts';
import { loadSettings } from '../../src/settings.ts';
import { createWorker } from '../../src/temporal/worker.ts';
import { ingest } from '../../src/workflows/index.ts';
import { quietLog, startTemporal, taskQueue, tempDir, testDatabase, truncateAll } from '../helpers.ts';

describe('real-world inputs (real Temporal, real PostgreSQL)', () => {
  let env: TestWorkflowEnvironment;
  let db: Database;
  let api: Server;
  let url: string;
  let dir: string;

  before(async function () {
    this.timeout(30_000);
    db = await testDatabase();
    env = await startTemporal();
    api = createApp({
      db,
      temporal: env.client,
      log: quietLog,
      settings: loadSettings({ API_KEY: 'real-world-key-0123456789' }),
    }).listen(0, '127.0.0.1');
    await once(api, 'listening');
    url = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  });
  after(async () => {
    api?.close();
    await db?.close();
    await env?.teardown();
  });
  beforeEach(async () => {
    await truncateAll(db);
    dir = tempDir('real-world');
  });

  function sources(entries: string): string {
    const file = path.join(dir, 'sources.yaml');
    fs.writeFileSync(file, `sources:\n${entries}`);
    return file;
  }
  const write = (name: string, text: string) => fs.writeFileSync(path.join(dir, name), text);

  async function runIngest(sourcesFile: string): Promise<RunSummary> {
    const queue = taskQueue('real-world');
    const worker = await createWorker({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue: queue,
      db,
      sourcesFile,
    });
    return worker.runUntil(
      env.client.workflow.execute(ingest, { taskQueue: queue, workflowId: `real-world-${queue}`, args: [{}] }),
    );
  }
  const get = async (p: string) => (await fetch(url + p)).json() as Promise<any>;

  it('keeps a record whose optional field does not parse, and shows the field, value and reason in the run, the record and the metrics', async () => {
    write(
      'quotes.csv',
      `${[
        'id,symbol,name,rank,price,last_updated',
        'bitcoin,BTC,Bitcoin,1,twelve,2024-03-01T00:00:00Z',
        'ether,ETH,Ether,first,3000,2024-03-01T00:00:00Z',
        'sol,SOL,Solana,5,150,2024-03-01T00:00:00Z',
      ].join('\n')}\n`,
    );
    const summary = await runIngest(sources('  - id: quotes\n    kind: csv\n    url: ./quotes.csv\n'));
    assert.equal(summary.status, 'succeeded');

    const run = await get(`/runs/${summary.runId}`);
    const source = run.data.sources[0];
    assert.deepEqual([source.staged, source.quarantined, source.field_issues, source.warnings], [3, 0, 2, []]);
    const bitcoin = (await db.pool.query(`SELECT id, price_usd, rank FROM record WHERE source_key = 'bitcoin'`))
      .rows[0];
    assert.deepEqual([bitcoin.price_usd, bitcoin.rank], [null, 1]);
    const detail = await get(`/data/${bitcoin.id}`);
    assert.deepEqual(detail.field_issues, [
      { run_id: summary.runId, field: 'price_usd', value: '"twelve"', reason: 'not a number: "twelve"' },
    ]);
    assert.deepEqual(detail.quarantine, []);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /^etl_field_issues\{source="quotes"\} 2$/m);
  });

  it('keeps every field issue of a file with more of them than are held in memory, each once', async () => {
    // two rows in five with a price that does not parse (most values must look like prices, or the column is not taken for one)
    const rows = Array.from({ length: 30_000 }, (_, i) => `coin-${i},C${i},${i % 5 < 2 ? 'n/a?' : '1.5'},${i + 1}`);
    write('many.csv', `${['id,symbol,price,rank', ...rows].join('\n')}\n`);
    const summary = await runIngest(sources('  - id: many\n    kind: csv\n    url: ./many.csv\n'));
    assert.equal(summary.status, 'succeeded');
    const counts = (
      await db.pool.query(`SELECT count(*)::int AS n, count(DISTINCT raw_position)::int AS positions FROM field_issue`)
    ).rows[0];
    assert.deepEqual([counts.n, counts.positions], [12_000, 12_000]);
    assert.equal((await get(`/runs/${summary.runId}`)).data.sources[0].field_issues, 12_000);
    assert.equal(
      (await db.pool.query(`SELECT count(*)::int AS n FROM record WHERE price_usd IS NULL`)).rows[0].n,
      12_000,
    );
  });

  it('says a header-only file is empty, and deletes nothing because of it', async () => {
    const file = sources('  - id: quotes\n    kind: csv\n    url: ./quotes.csv\n');
    write('quotes.csv', 'id,symbol,price\nbitcoin,BTC,1\nether,ETH,2\n');
    assert.equal((await runIngest(file)).status, 'succeeded');
    write('quotes.csv', 'id,symbol,price\n');
    const empty = await runIngest(file);
    assert.equal(empty.status, 'succeeded');
    const source = (await get(`/runs/${empty.runId}`)).data.sources[0];
    assert.deepEqual([source.parsed, source.soft_deleted], [0, 0]);
    assert.deepEqual(source.warnings, ['the payload has no records (a file with a header only, or an empty list)']);
    assert.match(source.delete_guard, /empty/);
    assert.equal((await db.pool.query('SELECT count(*)::int AS n FROM record WHERE deleted_at IS NULL')).rows[0].n, 2);
    assert.match(await (await fetch(`${url}/metrics`)).text(), /^etl_source_warnings\{source="quotes"\} 1$/m);
  });

  it('refuses a product catalogue as asset quotes, saying what its symbol column holds, and reads it when the sources file maps the symbol', async () => {
    const products = [
      'Mechanical Keyboard',
      'USB-C Hub 7-in-1',
      'Wireless Mouse',
      'Laptop Stand Pro',
      'Noise Cancelling Headphones',
      'HDMI',
    ];
    write(
      'products.csv',
      ['id,symbol,name,price', ...products.map((p, i) => `${i + 1},${p},${p} by Acme,${(i + 1) * 10}.99`)].join('\n') +
        '\n',
    );
    const refused = await runIngest(sources('  - id: products\n    kind: csv\n    url: ./products.csv\n'));
    assert.equal(refused.status, 'failed');
    const source = (await get(`/runs/${refused.runId}`)).data.sources[0];
    assert.equal(source.status, 'failed');
    assert.match(
      source.error,
      /nothing maps to symbol; fields: id, name, price, symbol; closest below the threshold: symbol → symbol \(0\.5: its values are not tickers \("Mechanical Keyboard", "USB-C Hub 7-in-1"\)\)/,
    );
    assert.equal(source.attempts.normalize, 1, 'not retried: the file will not change its mind');
    assert.equal((await db.pool.query('SELECT count(*)::int AS n FROM record')).rows[0].n, 0);

    const forced = await runIngest(
      sources('  - id: products\n    kind: csv\n    url: ./products.csv\n    mapping: { symbol: symbol }\n'),
    );
    assert.equal(forced.status, 'succeeded');
    assert.equal((await db.pool.query('SELECT count(*)::int AS n FROM record')).rows[0].n, 6);
  });

  it('reads a feed with the slips feed readers forgive, its foreign and zone-less dates, in the zone the sources file gives', async () => {
    const feed = (items: string) =>
      `<?xml version="1.0" encoding="UTF-8"?>\n<rss><channel><title>Markt & Börse</title>\n${items}\n</channel></rss>\n`;
    write(
      'news.rss',
      feed(
        [
          '<item><title>Anleihen & Renditen</title><link>https://news.example/a?x=1&y=2</link><guid>a</guid><pubDate>Mi, 02 Okt 2024 13:00:00 +0200</pubDate></item>',
          '<item><title>Ohne Zone</title><guid>b</guid><pubDate>2024-10-02 09:30:00</pubDate></item>',
          '<item><title>Unlesbar</title><guid>c</guid><pubDate>gegen Mittag</pubDate></item>',
        ].join('\n'),
      ),
    );
    const entry = (extra = '') =>
      `  - id: news\n    kind: rss\n    url: ./news.rss\n    delete_policy: never\n${extra}`;
    const utc = await runIngest(sources(entry()));
    assert.equal(utc.status, 'succeeded');
    const articles = async () =>
      (await db.pool.query(`SELECT source_key, title, url, published_at FROM record ORDER BY source_key`)).rows;
    const read = await articles();
    assert.deepEqual(
      read.map((r) => [r.source_key, r.title]),
      [
        ['a', 'Anleihen & Renditen'],
        ['b', 'Ohne Zone'],
        ['c', 'Unlesbar'],
      ],
    );
    assert.equal(read[0].url, 'https://news.example/a?x=1&y=2');
    assert.deepEqual(
      read.map((r) => r.published_at && new Date(r.published_at).toISOString()),
      ['2024-10-02T11:00:00.000Z', '2024-10-02T09:30:00.000Z', null],
    );
    const issues = async (runId: number) =>
      (
        await db.pool.query(
          `SELECT source_key, field, value, reason FROM field_issue WHERE run_id = $1 ORDER BY raw_position`,
          [runId],
        )
      ).rows;
    assert.deepEqual(
      (await issues(utc.runId)).map((i) => [i.source_key, i.field, i.value]),
      [['c', 'published_at', '"gegen Mittag"']],
    );
    const warnings = async (runId: number) => (await get(`/runs/${runId}`)).data.sources[0].warnings;
    assert.deepEqual(await warnings(utc.runId), [
      'published_at: read as UTC in 1 record, written without a time zone (e.g. "2024-10-02 09:30:00"); set timezone in the sources file',
    ]);

    // the same feed from a source that says its zone: the zone-less time is Berlin's summer time, and not flagged
    await truncateAll(db);
    const berlin = await runIngest(sources(entry('    timezone: Europe/Berlin\n')));
    assert.equal(berlin.status, 'succeeded');
    assert.equal(new Date((await articles())[1].published_at).toISOString(), '2024-10-02T07:30:00.000Z');
    assert.deepEqual(
      (await issues(berlin.runId)).map((i) => i.source_key),
      ['c'],
    );
    assert.deepEqual(await warnings(berlin.runId), []);
  });
});
