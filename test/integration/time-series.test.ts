// The time series: every observation kept in `quote` (partitioned by month, partitions made by the pipeline),
// `record` as the newest one, snapshot and history sources, corrections, retention into daily rollups,
// cross-source divergence, the quotes API (buckets checked against OHLC computed by hand, CSV, bad
// parameters), and reset and reprocess leaving the same observations as a clean run. Real workflow on a
// real Temporal dev server, real PostgreSQL, files written by the tests.
import { Client, Connection } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import path from 'node:path';
import type { RunSummary } from '../../src/activities/index.ts';
import { createApp } from '../../src/api/app.ts';
import { EntityQuotes, ObservationPage } from '../../src/api/schemas.ts';
import { partitionNames } from '../../src/db/quotes.ts';
import type { Database } from '../../src/db/orm.ts';
import { loadSettings } from '../../src/settings.ts';
import { createWorker } from '../../src/temporal/worker.ts';
import { ingest, reprocess, retention, type ReprocessResult } from '../../src/workflows/index.ts';
import { freePort } from '../setup.ts';
import {
  fetchJson,
  quietLog,
  resetWorkflow,
  startTemporal,
  taskQueue,
  tempDir,
  testDatabase,
  truncateAll,
} from '../helpers.ts';
import { recorded } from '../recorded.ts';

describe('time series (real Temporal, real PostgreSQL)', () => {
  let env: TestWorkflowEnvironment;
  let db: Database;
  let dir: string;
  let api: Server;
  let url: string;
  let temporal: Client;
  let runs = 0;

  before(async function () {
    this.timeout(60_000);
    db = await testDatabase();
    env = await startTemporal();
    dir = tempDir('series');
    // the series endpoints read PostgreSQL only: Temporal is left unreachable for the API
    temporal = new Client({ connection: Connection.lazy({ address: `127.0.0.1:${await freePort()}` }) });
    api = createApp({
      db,
      temporal,
      log: quietLog,
      settings: loadSettings({ API_KEY: 'series-test-key-0123456789' }),
    }).listen(0, '127.0.0.1');
    await once(api, 'listening');
    url = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  });
  after(async () => {
    api?.close();
    await temporal?.connection.close().catch(() => undefined);
    await db?.close();
    await env?.teardown();
  });
  beforeEach(async () => {
    await truncateAll(db);
    await db.pool.query('TRUNCATE entity, entity_link, entity_override, run_anomaly RESTART IDENTITY CASCADE');
  });

  /** A sources file of CSV sources; each gets its file and the extra lines given. */
  function csvSources(
    name: string,
    entries: Record<string, string[]>,
  ): { file: string; write: (id: string, csv: string) => void } {
    const file = path.join(dir, `${name}.yaml`);
    const body = Object.entries(entries).map(([id, lines]) =>
      [`  - id: ${id}`, '    kind: csv', `    url: ./${name}-${id}.csv`, ...lines.map((l) => `    ${l}`)].join('\n'),
    );
    fs.writeFileSync(file, `sources:\n${body.join('\n')}\n`);
    return { file, write: (id, csv) => fs.writeFileSync(path.join(dir, `${name}-${id}.csv`), csv) };
  }

  async function run(sourcesFile: string, queue = taskQueue('series')): Promise<RunSummary> {
    const worker = await createWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue: queue,
      db,
      sourcesFile,
    });
    return worker.runUntil(
      env.client.workflow.execute(ingest, { taskQueue: queue, workflowId: `series-${queue}-${++runs}`, args: [{}] }),
    );
  }

  const runSource = async (runId: number, sourceId: string) =>
    (await db.pool.query('SELECT * FROM run_source WHERE run_id = $1 AND source_id = $2', [runId, sourceId])).rows[0];
  const count = async (sql: string, params: unknown[] = []) =>
    (await db.pool.query<{ n: number }>(sql, params)).rows[0]!.n;
  const observations = async (sourceKey: string) =>
    (
      await db.pool.query(
        `SELECT to_char(q.observed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS at, q.price_usd AS price FROM quote q JOIN record r ON r.id = q.record_id
       WHERE r.source_key = $1 ORDER BY q.observed_at`,
        [sourceKey],
      )
    ).rows as { at: string; price: string }[];
  /** Everything the time series holds, independent of ids and runs. */
  const seriesChecksum = async () =>
    (
      await db.pool.query(
        `SELECT md5(string_agg(concat_ws('|', r.source_id, r.source_key, q.observed_at, ${['rank', 'price_usd', 'market_cap_usd', 'volume_24h_usd', 'open_usd', 'high_usd', 'low_usd'].map((c) => `q.${c}`).join(', ')}), ',' ORDER BY r.source_id, r.source_key, q.observed_at)) AS sum
       FROM quote q JOIN record r ON r.id = q.record_id`,
      )
    ).rows[0].sum as string;

  const HISTORY_HEADER = 'SNo,Name,Symbol,Date,High,Low,Open,Close,Volume,Marketcap';
  /** A daily history of two coins from 2024-01-01, one row per coin per day (the shape of a Kaggle/CoinMarketCap export). */
  function history(days: number, priceOf = (coin: number, day: number) => 100 * (coin + 1) + day): string[] {
    const rows: string[] = [];
    for (let day = 0; day < days; day++) {
      const date = new Date(Date.UTC(2024, 0, 1 + day)).toISOString().slice(0, 10);
      for (const [coin, [name, symbol]] of [
        ['Bitcoin', 'BTC'],
        ['Ethereum', 'ETH'],
      ].entries()) {
        const close = priceOf(coin, day);
        rows.push(
          `${rows.length + 1},${name},${symbol},${date} 23:59:59,${close + 5},${close - 5},${close - 1},${close},${1000 + day},${close * 1000}`,
        );
      }
    }
    return rows;
  }

  it('keeps every row of a history file as an observation: only the same key at the same time is a duplicate', async () => {
    const source = csvSources('history', { desk: [] });
    const rows = history(40);
    source.write('desk', `${[HISTORY_HEADER, ...rows, rows[7]!.replace(/^\d+,/, '999,')].join('\n')}\n`);
    const first = await run(source.file);
    assert.equal(first.status, 'succeeded');
    const counts = await runSource(first.runId, 'desk');
    assert.equal(counts.series, 'history');
    assert.deepEqual(
      [counts.parsed, counts.staged, counts.duplicates, counts.quotes_appended],
      [81, 81, 1, 80],
      'one repeated row of 81; 80 observations',
    );
    assert.equal(await count('SELECT count(*)::int AS n FROM record'), 2, 'one record per coin: the current view');
    const btc = await observations('BTC');
    assert.equal(btc.length, 40);
    assert.deepEqual(btc[0], { at: '2024-01-01T23:59:59Z', price: '100' });
    // the record is the newest observation, with its open, high and low
    const record = (
      await db.pool.query(
        `SELECT price_usd, open_usd, high_usd, low_usd, observed_at FROM record WHERE source_key = 'BTC'`,
      )
    ).rows[0];
    assert.deepEqual(
      [record.price_usd, record.open_usd, record.high_usd, record.low_usd],
      ['139', '138', '144', '134'],
    );
    assert.equal(new Date(record.observed_at).toISOString(), '2024-02-09T23:59:59.000Z');
    // January and February: two partitions, made by the pipeline
    assert.deepEqual(await partitionNames(db.pool), ['quote_y2024m01', 'quote_y2024m02']);

    // a later export lacks ETH and adds a day for BTC: nothing is deleted from a history, the new day is appended
    source.write('desk', `${[HISTORY_HEADER, ...history(41).filter((r) => r.includes(',BTC,'))].join('\n')}\n`);
    const second = await run(source.file);
    const again = await runSource(second.runId, 'desk');
    assert.deepEqual([again.soft_deleted, again.quotes_appended, again.quotes_revised], [0, 1, 0]);
    assert.equal(await count('SELECT count(*)::int AS n FROM record WHERE deleted_at IS NULL'), 2);
  });

  it('ingests an export without a symbol column through constants, with a declared two-digit-year date format', async () => {
    const source = csvSources('constants', {
      btc: ['constants: { symbol: BTC, name: Bitcoin }', "csv: { date_format: 'dd/mm/yy' }", 'series: history'],
    });
    source.write(
      'btc',
      `${[
        'Date,Open,High,Low,Close,Volume,Market Cap',
        '05/09/17,4228.29,4427.84,3998.11,4376.53,"2,697,970,000","69,954,400,000"',
        '04/09/17,4591.63,4591.63,4108.40,4236.31,-,"75,955,500,000"',
        '31/02/17,1,1,1,1,1,1',
      ].join('\n')}\n`,
    );
    const summary = await run(source.file);
    assert.equal(summary.status, 'succeeded');
    const counts = await runSource(summary.runId, 'btc');
    assert.deepEqual([counts.staged, counts.quarantined], [2, 1]);
    assert.match(
      (await db.pool.query(`SELECT reason FROM quarantine`)).rows[0].reason,
      /source_updated_at not a valid date: "31\/02\/17"/,
    );
    assert.deepEqual(await observations('BTC'), [
      { at: '2017-09-04T00:00:00Z', price: '4236.31' },
      { at: '2017-09-05T00:00:00Z', price: '4376.53' },
    ]);
    const record = (await db.pool.query(`SELECT symbol, name, volume_24h_usd FROM record`)).rows[0];
    assert.deepEqual([record.symbol, record.name, record.volume_24h_usd], ['BTC', 'Bitcoin', '2697970000']);
  });

  it('reads the recorded Kaggle export without a symbol column once the sources file gives its constants', async function () {
    const csvDir = recorded('csv');
    if (!csvDir) return this.skip();
    const file = path.join(csvDir, 'kaggle-cmc-history__kartik31_bitcoin_price.csv');
    const sourcesFile = path.join(dir, 'kaggle.yaml');
    fs.writeFileSync(
      sourcesFile,
      `sources:\n  - id: kaggle\n    kind: csv\n    url: ${file}\n    constants: { symbol: BTC, name: Bitcoin }\n    csv: { date_format: 'mon dd, yyyy' }\n`,
    );
    const summary = await run(sourcesFile);
    assert.equal(summary.status, 'succeeded');
    const counts = await runSource(summary.runId, 'kaggle');
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n').length - 1;
    assert.equal(counts.series, 'history');
    assert.equal(counts.parsed, lines);
    assert.equal(
      counts.quotes_appended + counts.quarantined + counts.duplicates,
      lines,
      'every row is an observation, a duplicate or quarantined with a reason',
    );
    assert.ok(counts.quotes_appended > 1500, `${counts.quotes_appended} daily observations`);
  });

  it('appends one observation per changed snapshot quote, nothing for an unchanged one, and corrects a re-sent timestamp', async () => {
    const source = csvSources('snapshot', { desk: [] });
    const header = 'id,symbol,name,price,last_updated';
    const write = (btc: string, eth: string) =>
      source.write('desk', `${[header, `bitcoin,btc,Bitcoin,${btc}`, `ethereum,eth,Ethereum,${eth}`].join('\n')}\n`);
    write('100,2024-03-01T10:00:00Z', '10,2024-03-01T10:00:00Z');
    await run(source.file);
    write('101,2024-03-01T11:00:00Z', '10,2024-03-01T10:00:00Z'); // bitcoin moved, ether did not
    const second = await run(source.file);
    assert.deepEqual(
      [(await runSource(second.runId, 'desk')).quotes_appended, (await runSource(second.runId, 'desk')).quotes_revised],
      [1, 0],
    );
    assert.deepEqual(await observations('bitcoin'), [
      { at: '2024-03-01T10:00:00Z', price: '100' },
      { at: '2024-03-01T11:00:00Z', price: '101' },
    ]);
    assert.equal((await observations('ethereum')).length, 1, 'the same quote twice is one observation');

    write('102,2024-03-01T11:00:00Z', '10,2024-03-01T10:00:00Z'); // the 11:00 quote again, with another price
    const third = await run(source.file);
    const corrected = await runSource(third.runId, 'desk');
    assert.deepEqual([corrected.quotes_appended, corrected.quotes_revised, corrected.updated], [0, 1, 1]);
    assert.deepEqual(await observations('bitcoin'), [
      { at: '2024-03-01T10:00:00Z', price: '100' },
      { at: '2024-03-01T11:00:00Z', price: '102' },
    ]);

    // the same bytes again: unchanged, not a row written
    const before = await count('SELECT count(*)::int AS n FROM quote');
    const fourth = await run(source.file);
    assert.deepEqual(fourth.sources, [{ sourceId: 'desk', status: 'unchanged' }]);
    assert.equal(await count('SELECT count(*)::int AS n FROM quote'), before);
  });

  it('observes a snapshot without timestamps at its fetch time, and only when the quote changed', async () => {
    const source = csvSources('untimed', { desk: [] });
    source.write('desk', 'id,symbol,price\nbitcoin,btc,100\nethereum,eth,10\n');
    const first = await run(source.file);
    source.write('desk', 'id,symbol,price\nbitcoin,btc,100\nethereum,eth,11\n\n'); // other bytes: ether moved, bitcoin did not
    const second = await run(source.file);
    assert.equal((await runSource(second.runId, 'desk')).quotes_appended, 1);
    assert.equal((await observations('bitcoin')).length, 1);
    const ether = await observations('ethereum');
    assert.deepEqual(
      ether.map((o) => o.price),
      ['10', '11'],
    );
    const fetched = (await db.pool.query('SELECT run_id, fetched_at FROM raw_payload ORDER BY run_id')).rows.map(
      (r) => `${new Date(r.fetched_at).toISOString().slice(0, 19)}Z`,
    );
    assert.deepEqual(
      ether.map((o) => o.at),
      fetched,
      'each observation at the fetch time of its payload',
    );
    assert.equal(first.status, 'succeeded');
  });

  it('rolls expired partitions up into daily OHLC and drops them, and the daily series still answers', async () => {
    const source = csvSources('retention', { desk: [] });
    source.write('desk', `${[HISTORY_HEADER, ...history(40)].join('\n')}\n`);
    await run(source.file);
    const daysOld = Math.floor((Date.now() - Date.UTC(2024, 1, 1)) / 86_400_000) - 1; // January 2024 has expired, February not yet
    const queue = taskQueue('retention');
    const worker = await createWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue: queue,
      db,
      sourcesFile: source.file,
    });
    const outcome = await worker.runUntil(
      env.client.workflow.execute(retention, {
        taskQueue: queue,
        workflowId: `retention-${queue}`,
        args: [{ olderThanDays: 90, quoteRetentionDays: daysOld }],
      }),
    );
    assert.deepEqual(outcome.quotes?.dropped, ['quote_y2024m01']);
    assert.equal(outcome.quotes?.days, 62, '31 days of two coins');
    assert.equal(outcome.quotes?.rawFrom, '2024-02-01T00:00:00.000Z');
    assert.ok(!(await partitionNames(db.pool)).includes('quote_y2024m01'));
    assert.equal(await count(`SELECT count(*)::int AS n FROM quote WHERE observed_at < '2024-02-01'`), 0);

    const btc = (
      await db.pool.query(
        `SELECT l.entity_id FROM entity_link l JOIN record r ON r.id = l.record_id WHERE r.source_key = 'BTC'`,
      )
    ).rows[0].entity_id;
    const daily = await fetchJson(
      `${url}/entities/${btc}/quotes?interval=1d&from=2024-01-01T00:00:00Z&to=2024-02-10T00:00:00Z`,
    );
    assert.equal(daily.status, 200, JSON.stringify(daily.body));
    EntityQuotes.parse(daily.body);
    assert.equal(daily.body.data.length, 40, 'January from the rollup, February from raw observations');
    assert.deepEqual(
      pick(daily.body.data[0].sources[0], ['open_usd', 'high_usd', 'low_usd', 'close_usd', 'observations']),
      { open_usd: '99', high_usd: '105', low_usd: '95', close_usd: '100', observations: 1 },
    );
    assert.deepEqual(pick(daily.body.data[39].sources[0], ['open_usd', 'close_usd']), {
      open_usd: '138',
      close_usd: '139',
    });
    assert.equal(daily.body.raw_from, '2024-02-01T00:00:00.000Z');
    const weekly = await fetchJson(
      `${url}/entities/${btc}/quotes?interval=1w&from=2024-01-01T00:00:00Z&to=2024-02-12T00:00:00Z`,
    );
    // the week of Monday 29 January straddles the horizon: days from the rollup and from raw observations combine
    const straddling = weekly.body.data.find((b: { start: string }) => b.start === '2024-01-29T00:00:00.000Z');
    assert.deepEqual(pick(straddling.sources[0], ['open_usd', 'high_usd', 'low_usd', 'close_usd', 'observations']), {
      open_usd: '127',
      high_usd: '139',
      low_usd: '123',
      close_usd: '134',
      observations: 7,
    });
    const hourly = await fetchJson(
      `${url}/entities/${btc}/quotes?interval=1h&from=2024-01-20T00:00:00Z&to=2024-01-21T00:00:00Z`,
    );
    assert.equal(hourly.status, 400);
    assert.match(hourly.body.invalid_params[0].reason, /daily rollups only/);

    // a history re-loaded later: the rolled-up days are known, nothing is appended twice
    source.write(
      'desk',
      `${[HISTORY_HEADER, ...history(40), '999,Bitcoin,BTC,2024-01-15 23:59:59,1,1,1,1,1,1'].join('\n')}\n`,
    );
    const reload = await run(source.file);
    const counts = await runSource(reload.runId, 'desk');
    assert.deepEqual(
      [counts.quotes_appended, counts.quotes_revised, counts.quotes_rolled_up],
      [0, 0, 0],
      'a rolled-up day is closed to what it already holds',
    );
  });

  it('raises a price divergence when two sources disagree about one asset at the same time, and not otherwise', async () => {
    const source = csvSources('divergence', { 'desk-a': [], 'desk-b': [] });
    const quote = (price: string, at: string) =>
      `id,symbol,name,price,last_updated\nbitcoin,btc,Bitcoin,${price},${at}\nether,eth,Ether,10,${at}\n`;
    source.write('desk-a', quote('100', '2024-03-01T10:00:00Z'));
    source.write('desk-b', quote('101', '2024-03-01T10:20:00Z'));
    const calm = await run(source.file);
    assert.equal(
      await count(`SELECT count(*)::int AS n FROM run_anomaly WHERE run_id = $1 AND rule = 'price_divergence'`, [
        calm.runId,
      ]),
      0,
      '1 % apart',
    );

    source.write('desk-b', quote('112', '2024-03-01T10:30:00Z'));
    const diverged = await run(source.file);
    const anomalies = (
      await db.pool.query(`SELECT * FROM run_anomaly WHERE run_id = $1 AND rule = 'price_divergence'`, [diverged.runId])
    ).rows;
    assert.equal(anomalies.length, 1);
    const [anomaly] = anomalies;
    const btc = (
      await db.pool.query(
        `SELECT l.entity_id FROM entity_link l JOIN record r ON r.id = l.record_id WHERE r.source_key = 'bitcoin' AND r.source_id = 'desk-a'`,
      )
    ).rows[0].entity_id;
    assert.equal(anomaly.entity_id, btc);
    assert.equal(anomaly.details.median_usd, '106');
    assert.equal(anomaly.details.spread, 0.113208);
    assert.deepEqual(
      anomaly.details.quotes.map((q: { source: string; price_usd: string; observed_at: string }) => [
        q.source,
        q.price_usd,
        q.observed_at,
      ]),
      [
        ['desk-a', '100', '2024-03-01T10:00:00.000Z'],
        ['desk-b', '112', '2024-03-01T10:30:00.000Z'],
      ],
    );
    assert.match(anomaly.message, /BTC \(entity \d+\): desk-a 100, desk-b 112 spread 11\.3 %/);
    // shown on the entity, by the run, and counted in the metrics
    const entity = await fetchJson(`${url}/entities/${btc}`);
    assert.equal(entity.body.anomalies[0].rule, 'price_divergence');
    assert.equal(entity.body.anomalies[0].run_id, diverged.runId);
    const runDetail = await fetchJson(`${url}/runs/${diverged.runId}`);
    assert.ok(
      runDetail.body.anomalies.some(
        (a: { rule: string; entity_id: number }) => a.rule === 'price_divergence' && a.entity_id === Number(btc),
      ),
    );
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /etl_run_anomalies_total\{rule="price_divergence",source=""\} 1/);

    // hours apart, the same prices are no divergence: they are not the same moment
    source.write('desk-b', quote('113', '2024-03-01T14:00:00Z'));
    const apart = await run(source.file);
    assert.equal(
      await count(`SELECT count(*)::int AS n FROM run_anomaly WHERE run_id = $1 AND rule = 'price_divergence'`, [
        apart.runId,
      ]),
      0,
    );
  });

  it('answers buckets with OHLC per source and the cross-source median and spread, as computed by hand', async () => {
    const source = csvSources('buckets', { 'desk-a': ['series: history'], 'desk-b': ['series: history'] });
    const rows = (prices: [string, number][]) =>
      `${[
        'id,symbol,name,price,high,low,volume,last_updated',
        ...prices.map(([at, p]) => `bitcoin,btc,Bitcoin,${p},,,${p * 10},${at}`),
      ].join('\n')}\n`;
    source.write(
      'desk-a',
      rows([
        ['2024-03-01T00:00:00Z', 100],
        ['2024-03-01T00:20:00Z', 104],
        ['2024-03-01T00:40:00Z', 98],
        ['2024-03-01T01:10:00Z', 101],
      ]),
    );
    source.write(
      'desk-b',
      rows([
        ['2024-03-01T00:05:00Z', 110],
        ['2024-03-01T00:50:00Z', 106],
      ]),
    );
    await run(source.file);
    const btc = (
      await db.pool.query(
        `SELECT l.entity_id FROM entity_link l JOIN record r ON r.id = l.record_id WHERE r.source_id = 'desk-a'`,
      )
    ).rows[0].entity_id;
    const res = await fetchJson(
      `${url}/entities/${btc}/quotes?interval=1h&from=2024-03-01T00:00:00Z&to=2024-03-01T02:00:00Z`,
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    EntityQuotes.parse(res.body);
    const [first, second] = res.body.data;
    assert.equal(first.start, '2024-03-01T00:00:00.000Z');
    assert.equal(first.end, '2024-03-01T01:00:00.000Z');
    const [a, b] = first.sources;
    // desk-a 00:00–01:00: 100, 104, 98 → open 100, high 104, low 98, close 98, mean 302 / 3
    assert.deepEqual(
      pick(a, ['source', 'open_usd', 'high_usd', 'low_usd', 'close_usd', 'volume_24h_usd', 'observations']),
      {
        source: 'desk-a',
        open_usd: '100',
        high_usd: '104',
        low_usd: '98',
        close_usd: '98',
        volume_24h_usd: '980',
        observations: 3,
      },
    );
    assert.equal(Number(a.mean_usd).toFixed(6), (302 / 3).toFixed(6));
    assert.deepEqual(pick(b, ['source', 'open_usd', 'high_usd', 'low_usd', 'close_usd', 'mean_usd', 'observations']), {
      source: 'desk-b',
      open_usd: '110',
      high_usd: '110',
      low_usd: '106',
      close_usd: '106',
      mean_usd: '108',
      observations: 2,
    });
    // closes 98 and 106: median 102, spread 8 / 102
    assert.equal(first.median_usd, '102');
    assert.equal(first.spread, Math.round((8 / 102) * 1e6) / 1e6);
    assert.deepEqual(
      [second.sources.length, second.median_usd, second.spread],
      [1, null, null],
      'one source: nothing to compare',
    );

    // raw observations page by keyset, in order, across both sources
    const page1 = await fetchJson(`${url}/entities/${btc}/quotes?limit=4`);
    ObservationPage.parse(page1.body);
    assert.deepEqual(
      page1.body.data.map((o: { source: string; price_usd: string }) => `${o.source}:${o.price_usd}`),
      ['desk-a:100', 'desk-b:110', 'desk-a:104', 'desk-a:98'],
    );
    const page2 = await fetchJson(`${url}/entities/${btc}/quotes?limit=4&cursor=${page1.body.next_cursor}`);
    assert.deepEqual(
      page2.body.data.map((o: { source: string; price_usd: string }) => `${o.source}:${o.price_usd}`),
      ['desk-b:106', 'desk-a:101'],
    );
    assert.equal(page2.body.next_cursor, null);
    assert.equal(
      page1.body.data[0].raw_payload_id > 0 && page1.body.data[0].run_id > 0,
      true,
      'each observation leads back to its payload and run',
    );
    const onlyB = await fetchJson(`${url}/entities/${btc}/quotes?source=desk-b`);
    assert.equal(onlyB.body.data.length, 2);

    // CSV: the same rows, for a spreadsheet
    const csv = await fetch(
      `${url}/entities/${btc}/quotes?interval=1h&from=2024-03-01T00:00:00Z&to=2024-03-01T02:00:00Z`,
      { headers: { accept: 'text/csv' } },
    );
    assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
    const lines = (await csv.text()).trim().split('\r\n');
    assert.equal(
      lines[0],
      'start,end,source,record_id,open_usd,high_usd,low_usd,close_usd,mean_usd,volume_24h_usd,observations,median_usd,spread',
    );
    assert.equal(lines.length, 4);
    assert.match(
      lines[2]!,
      /^2024-03-01T00:00:00.000Z,2024-03-01T01:00:00.000Z,desk-b,\d+,110,110,106,106,108,1060,2,102,0.078431$/,
    );
    const rawCsv = await fetch(`${url}/entities/${btc}/quotes?limit=2&format=csv`);
    assert.match(
      rawCsv.headers.get('link') ?? '',
      /^<\/entities\/\d+\/quotes\?limit=2&format=csv&cursor=[\w-]+>; rel="next"$/,
    );
    assert.equal((await rawCsv.text()).trim().split('\r\n').length, 3);

    // one record's history
    const recordId = a.record_id;
    const hist = await fetchJson(`${url}/data/${recordId}/history`);
    ObservationPage.parse(hist.body);
    assert.deepEqual(
      hist.body.data.map((o: { price_usd: string }) => o.price_usd),
      ['100', '104', '98', '101'],
    );
    const detail = await fetchJson(`${url}/data/${recordId}`);
    assert.equal(detail.body.data.observed_at, '2024-03-01T01:10:00.000Z');
    assert.equal(detail.body.data.price_usd, '101', 'the record is the newest observation');
  });

  it('answers bad series parameters with a 400 that names the parameter', async () => {
    const source = csvSources('bad', { desk: [] });
    source.write('desk', 'id,symbol,price,last_updated\nbitcoin,btc,1,2024-03-01T00:00:00Z\n');
    await run(source.file);
    const entity = (await db.pool.query('SELECT id FROM entity')).rows[0].id;
    const cases: [string, string][] = [
      ['interval=2h', 'interval'],
      ['from=yesterday', 'from'],
      ['from=2024-03-02T00:00:00Z&to=2024-03-01T00:00:00Z', 'from'],
      ['interval=1h&from=2024-03-02T00:00:00Z&to=2024-03-01T00:00:00Z', 'from'],
      ['interval=5m&from=2023-01-01T00:00:00Z&to=2024-01-01T00:00:00Z', 'from'],
      ['interval=1d&cursor=abc', 'cursor'],
      ['limit=0', 'limit'],
      ['limit=10001', 'limit'],
      ['cursor=not-a-cursor', 'cursor'],
      ['format=xml', 'format'],
      ['source=Not_A_Source', 'source'],
    ];
    for (const [query, param] of cases) {
      const res = await fetchJson(`${url}/entities/${entity}/quotes?${query}`);
      assert.equal(res.status, 400, `${query}: ${JSON.stringify(res.body)}`);
      assert.ok(
        res.body.invalid_params.some((p: { name: string }) => p.name === param),
        `${query} names ${param}: ${JSON.stringify(res.body)}`,
      );
    }
    // a cursor of /data is not a cursor of a series, nor one of another entity's series
    const page = await fetchJson(`${url}/entities/${entity}/quotes?limit=1`);
    const other = await fetchJson(
      `${url}/data/1/history?cursor=${page.body.next_cursor ?? encodeURIComponent('eyJ2IjoxLCJhZnRlciI6MSwiZiI6IngifQ')}`,
    );
    assert.equal(other.status, 400);
    assert.equal((await fetchJson(`${url}/entities/999999/quotes`)).status, 404);
    assert.equal((await fetchJson(`${url}/data/999999/history`)).status, 404);
  });

  it('moves an observation history with its record when an override re-links the record', async () => {
    const source = csvSources('relink', { 'desk-a': [], 'desk-b': [] });
    source.write('desk-a', 'id,symbol,name,price,last_updated\nbitcoin,btc,Bitcoin,100,2024-03-01T10:00:00Z\n');
    source.write('desk-b', 'id,symbol,name,price,last_updated\nbitcoin,btc,Bitcoin,101,2024-03-01T10:00:00Z\n');
    await run(source.file);
    const entityOf = async (sourceId: string) =>
      (
        await db.pool.query(
          `SELECT l.entity_id FROM entity_link l JOIN record r ON r.id = l.record_id WHERE r.source_id = $1`,
          [sourceId],
        )
      ).rows[0].entity_id;
    assert.equal(await entityOf('desk-a'), await entityOf('desk-b'));
    const shared = await fetchJson(`${url}/entities/${await entityOf('desk-a')}/quotes`);
    assert.equal(shared.body.data.length, 2);
    await db.pool.query(`INSERT INTO entity_override (kind, action, left_source_id, left_source_key, right_source_id, right_source_key, reason)
                         VALUES ('asset', 'forbid', 'desk-a', 'bitcoin', 'desk-b', 'bitcoin', 'two different coins')`);
    await run(source.file);
    assert.notEqual(await entityOf('desk-a'), await entityOf('desk-b'));
    const [a, b] = [
      await fetchJson(`${url}/entities/${await entityOf('desk-a')}/quotes`),
      await fetchJson(`${url}/entities/${await entityOf('desk-b')}/quotes`),
    ];
    assert.deepEqual(
      [a.body.data.map((o: { source: string }) => o.source), b.body.data.map((o: { source: string }) => o.source)],
      [['desk-a'], ['desk-b']],
    );
  });

  it('leaves the same observations after a reset and a reprocess of an older payload as a clean run, and the record at the newest quote', async () => {
    const source = csvSources('replay', { desk: [] });
    const snapshot = (day: number, price: number) =>
      `id,symbol,name,price,last_updated\nbitcoin,btc,Bitcoin,${price},2024-03-0${day}T00:00:00Z\nether,eth,Ether,${price / 10},2024-03-0${day}T00:00:00Z\n`;
    // one task queue for the runs and the reset: a reset run continues on the queue of its workflow
    const queue = taskQueue('replay');
    source.write('desk', snapshot(1, 100));
    const first = await run(source.file, queue);
    source.write('desk', snapshot(2, 120));
    const second = await run(source.file, queue);
    assert.equal(second.status, 'succeeded', JSON.stringify(second));
    assert.equal(await count('SELECT count(*)::int AS n FROM quote'), 4);
    const clean = await seriesChecksum();
    const record = async () =>
      (await db.pool.query(`SELECT price_usd, observed_at, content_hash FROM record WHERE source_key = 'bitcoin'`))
        .rows[0];
    const current = await record();

    // reprocess the first (older) payload: no observation twice, and the record stays at the newest quote
    const worker = await createWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue: queue,
      db,
      sourcesFile: source.file,
    });
    const reprocessed = (await worker.runUntil(
      env.client.workflow.execute(reprocess, {
        taskQueue: queue,
        workflowId: `reprocess-${queue}`,
        args: [{ runId: first.runId }],
      }),
    )) as ReprocessResult;
    assert.equal(reprocessed.status, 'succeeded');
    assert.deepEqual(
      [
        reprocessed.changes.desk!.quotesAppended,
        reprocessed.changes.desk!.quotesRevised,
        reprocessed.changes.desk!.updated,
      ],
      [0, 0, 0],
    );
    assert.equal(await seriesChecksum(), clean);
    assert.deepEqual(await record(), current, 'an old payload never moves the record back');

    // reset the newest run to just after its fetch: it merges again under a new run id and writes nothing new
    const handle = env.client.workflow.getHandle(
      (await db.pool.query(`SELECT workflow_id FROM run ORDER BY id DESC OFFSET 1 LIMIT 1`)).rows[0].workflow_id,
    );
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
    const resetWorker = await createWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue: queue,
      db,
      sourcesFile: source.file,
    });
    await resetWorker.runUntil(async () => {
      const resetRunId = await resetWorkflow(
        env,
        { workflowId: handle.workflowId },
        String(resetPoint.eventId),
        'test',
      );
      const reset = (await env.client.workflow.getHandle(handle.workflowId, resetRunId).result()) as RunSummary;
      assert.equal(reset.status, 'succeeded');
    });
    assert.equal(await seriesChecksum(), clean);
    assert.deepEqual(await record(), current);
    assert.equal(await count('SELECT count(*)::int AS n FROM quote'), 4);
  });
});

function pick(object: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, object[k]]));
}
