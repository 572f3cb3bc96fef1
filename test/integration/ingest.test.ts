// The ingest workflow end to end on a real Temporal dev server and a real PostgreSQL, with a CSV source
// whose file each test rewrites.
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import type { Database } from '../../src/db/orm.ts';
import { createWorker } from '../../src/temporal/worker.ts';
import type { RunSummary } from '../../src/activities/index.ts';
import { ingest } from '../../src/workflows/index.ts';
import { HEADER, assetRow } from '../../bench/generate.ts';
import {
  csvSourceFixture,
  demoCsv,
  startTemporal,
  taskQueue,
  tempDir,
  testDatabase,
  truncateAll,
  reopenFlushed,
} from '../helpers.ts';

describe('ingest workflow (real Temporal, real PostgreSQL)', () => {
  let env: TestWorkflowEnvironment;
  let db: Database;

  before(async function () {
    this.timeout(30_000);
    // one after the other: a failed database start must not strand a running dev server
    db = await testDatabase();
    env = await startTemporal();
  });
  after(async () => {
    await db?.close();
    await env?.teardown();
  });
  beforeEach(() => truncateAll(db)); // run_anomaly goes with run (cascade)

  async function runIngest(sourcesFile: string, database: Database = db): Promise<RunSummary> {
    const queue = taskQueue('ingest');
    const worker = await createWorker({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue: queue,
      db: database,
      sourcesFile,
    });
    return worker.runUntil(
      env.client.workflow.execute(ingest, { taskQueue: queue, workflowId: `ingest-${queue}`, args: [{}] }),
    );
  }

  const runSource = async (runId: number) =>
    (await db.pool.query('SELECT * FROM run_source WHERE run_id = $1', [runId])).rows[0];
  const liveRecords = async () =>
    (
      await db.pool.query<{ source_key: string; price_usd: string | null }>(
        'SELECT source_key, price_usd FROM record WHERE deleted_at IS NULL ORDER BY source_key',
      )
    ).rows;
  const lines = demoCsv().trimEnd().split('\n');
  const header = lines[0]!;
  const rows = lines.slice(1);

  it('lands the bundled CSV: raw payload, 50 records with lineage, a succeeded run', async () => {
    const source = csvSourceFixture(tempDir('first'));
    source.write(demoCsv());
    const summary = await runIngest(source.sourcesFile);
    assert.equal(summary.status, 'succeeded');
    assert.deepEqual(summary.sources, [{ sourceId: 'csv-assets', status: 'succeeded' }]);

    const counts = await runSource(summary.runId);
    assert.equal(counts.parsed, 50);
    assert.equal(counts.staged, 50);
    assert.equal(counts.inserted, 50);
    assert.equal(counts.quarantined, 0);
    assert.equal(counts.status, 'succeeded');

    const btc = (
      await db.pool.query(
        'SELECT r.*, p.status AS payload_status, p.content_hash AS payload_hash, p.size_bytes FROM record r JOIN raw_payload p ON p.id = r.raw_payload_id WHERE source_key = $1',
        ['bitcoin'],
      )
    ).rows[0];
    assert.equal(btc.symbol, 'BTC');
    assert.equal(btc.price_usd, '32797');
    assert.equal(btc.circulating_supply, '18741512.0');
    assert.equal(new Date(btc.source_updated_at).toISOString(), '2021-06-24T03:32:13.383Z');
    assert.equal(btc.raw_position, 0);
    assert.equal(Number(btc.run_id), summary.runId);
    assert.equal(btc.payload_status, 'stored');
    assert.equal(Number(btc.size_bytes), Buffer.byteLength(demoCsv()));

    const run = (await db.pool.query('SELECT * FROM run WHERE id = $1', [summary.runId])).rows[0];
    assert.equal(run.status, 'succeeded');
    assert.ok(run.finished_at >= run.started_at);
    assert.equal(
      (await db.pool.query('SELECT count(*)::int AS n FROM stage_record')).rows[0].n,
      0,
      'staging is emptied when the run ends',
    );
  });

  it('does not rewrite a single row when the source has not changed', async () => {
    const source = csvSourceFixture(tempDir('rerun'));
    source.write(demoCsv());
    await runIngest(source.sourcesFile);
    const before = (await db.pool.query('SELECT id, xmin::text, ctid::text FROM record ORDER BY id')).rows;

    const second = await runIngest(source.sourcesFile);
    assert.deepEqual(second.sources, [{ sourceId: 'csv-assets', status: 'unchanged' }]);
    const after = (await db.pool.query('SELECT id, xmin::text, ctid::text FROM record ORDER BY id')).rows;
    assert.deepEqual(after, before, 'same row versions: nothing was updated');
    const payload = (
      await db.pool.query(
        'SELECT status, same_as_payload_id, (SELECT count(*)::int FROM raw_page WHERE payload_id = raw_payload.id) AS pages FROM raw_payload WHERE run_id = $1',
        [second.runId],
      )
    ).rows[0];
    assert.equal(payload.status, 'unchanged');
    assert.equal(payload.pages, 0, 'identical bytes are not stored twice');
    assert.ok(payload.same_as_payload_id);
  });

  it('re-fetches a multi-page file without rewriting its pages: identical bytes land none, a change lands all, exactly', async () => {
    const source = csvSourceFixture(tempDir('pages'));
    const assets = (last: number) =>
      `${[HEADER, ...Array.from({ length: 30_000 }, (_, i) => assetRow(i, i === last))].join('\n')}\n`;
    source.write(assets(-1));
    const pages = async (runId: number) =>
      (
        await db.pool.query(
          `SELECT g.seq, g.hash FROM raw_page g JOIN raw_payload p ON p.id = g.payload_id WHERE p.run_id = $1 ORDER BY g.seq`,
          [runId],
        )
      ).rows;

    // the worker's own connections, closed after the run, so their table statistics are flushed before we read them
    const rawPageInserts = async () =>
      Number(
        (await db.pool.query(`SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = 'raw_page'`)).rows[0].n_tup_ins,
      );
    const backends = async () =>
      (await db.pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database()`))
        .rows[0].n;
    const runFlushed = async () => {
      const [inserts, connections] = [await rawPageInserts(), await backends()];
      const workerDb = await testDatabase();
      const summary = await runIngest(source.sourcesFile, workerDb);
      await workerDb.close();
      for (let i = 0; i < 200 && (await backends()) > connections; i++) await new Promise((r) => setTimeout(r, 25));
      return { summary, pagesWritten: (await rawPageInserts()) - inserts };
    };
    // the first run, too, on connections of its own, and after the suite's connections were replaced: earlier
    // inserts must be flushed before the second run's are counted
    db = await reopenFlushed(db);
    const first = (await runFlushed()).summary;
    const firstPages = await pages(first.runId);
    assert.ok(firstPages.length >= 3, `a file of several pages: ${firstPages.length}`);
    const same = await runFlushed();
    assert.deepEqual(same.summary.sources, [{ sourceId: 'csv-assets', status: 'unchanged' }]);
    assert.equal(same.pagesWritten, 0, 'identical bytes write no raw page at all');

    // the last row repriced: the pages before it are landed from the database, the last one from the file
    source.write(assets(29_999));
    const third = await runFlushed();
    assert.equal(third.summary.status, 'succeeded');
    const thirdPages = await pages(third.summary.runId);
    assert.equal(thirdPages.length, firstPages.length);
    assert.deepEqual(thirdPages.slice(0, -1), firstPages.slice(0, -1));
    assert.notEqual(thirdPages.at(-1).hash, firstPages.at(-1).hash);
    const landed = (
      await db.pool.query(
        `SELECT string_agg(g.body, ''::bytea ORDER BY g.seq) AS bytes FROM raw_page g JOIN raw_payload p ON p.id = g.payload_id WHERE p.run_id = $1`,
        [third.summary.runId],
      )
    ).rows[0].bytes;
    assert.ok(
      Buffer.compare(landed, Buffer.from(assets(29_999))) === 0,
      'the landed payload is the file, byte for byte',
    );
    assert.equal((await runSource(third.summary.runId)).updated, 1);
  });

  it('merges a changed snapshot: insert, update, duplicate, quarantine and soft-delete, each counted', async () => {
    const source = csvSourceFixture(tempDir('changes'));
    source.write(demoCsv());
    const first = await runIngest(source.sourcesFile);
    assert.equal(first.status, 'succeeded');

    const changed = rows.slice(1).map((r) => (r.startsWith('ethereum,') ? r.replace(',1913.88,', ',2000.5,') : r)); // drop bitcoin, reprice ether
    const newcomer = 'newcoin,new,New Coin,999,1.5,100,10,1,1,,0.1,2021-06-24T04:00:00Z';
    const olderTether = rows
      .find((r) => r.startsWith('tether,'))!
      .replace(',1.0,', ',0.99,')
      .replace(/,[^,]*$/, ',2021-06-01T00:00:00Z');
    const badRow = 'brokencoin,brk,Broken,7,-12.5,1,1,1,1,,0,2021-06-24T04:00:00Z'; // a negative price: not market data
    source.write(`${[header, ...changed, newcomer, newcomer, olderTether, badRow].join('\n')}\n`);
    const second = await runIngest(source.sourcesFile);
    assert.equal(second.status, 'succeeded');

    const counts = await runSource(second.runId);
    assert.equal(counts.parsed, 49 + 4);
    assert.equal(counts.quarantined, 1);
    assert.equal(
      counts.duplicates,
      1,
      'the newcomer twice at the same time; tether twice at two times is history, not a duplicate',
    );
    assert.equal(counts.inserted, 1);
    assert.equal(counts.updated, 1, 'only ether changed: the older tether row does not replace the newer one');
    assert.equal(counts.soft_deleted, 1);
    assert.equal(counts.unchanged, 48, 'the other 48 of the first snapshot');
    // observations: the newcomer's and tether's older quote are new; ether re-sent its timestamp with another price
    assert.deepEqual([counts.quotes_appended, counts.quotes_revised], [2, 1]);
    const tether = await db.pool.query(
      `SELECT q.price_usd, q.observed_at FROM quote q JOIN record r ON r.id = q.record_id WHERE r.source_key = 'tether' ORDER BY q.observed_at`,
    );
    assert.deepEqual(
      tether.rows.map((q) => [q.price_usd, new Date(q.observed_at).toISOString()]),
      [
        ['0.99', '2021-06-01T00:00:00.000Z'],
        ['1.0', '2021-06-24T03:05:22.478Z'],
      ],
    );

    const live = await liveRecords();
    assert.ok(!live.some((r) => r.source_key === 'bitcoin'));
    assert.equal(live.find((r) => r.source_key === 'ethereum')?.price_usd, '2000.5');
    assert.equal(live.find((r) => r.source_key === 'tether')?.price_usd, '1.0');
    const deleted = (await db.pool.query('SELECT deleted_run_id FROM record WHERE source_key = $1', ['bitcoin']))
      .rows[0];
    assert.equal(Number(deleted.deleted_run_id), second.runId);
    const quarantined = (
      await db.pool.query('SELECT reason, source_key, fields FROM quarantine WHERE run_id = $1', [second.runId])
    ).rows[0];
    assert.equal(quarantined.source_key, 'brokencoin');
    assert.match(quarantined.reason, /price_usd must not be negative/);
    assert.equal(quarantined.fields.current_price, '-12.5');

    // bitcoin comes back: restored, not duplicated
    source.write(demoCsv());
    const third = await runIngest(source.sourcesFile);
    const restored = await runSource(third.runId);
    assert.equal(restored.restored, 1);
    assert.equal((await liveRecords()).length, 50, 'bitcoin is back; newcoin left the snapshot and is soft-deleted');
    assert.equal(
      (await db.pool.query('SELECT count(*)::int AS n FROM record WHERE source_key = $1', ['bitcoin'])).rows[0].n,
      1,
    );
  });

  it('holds deletes when a snapshot loses more than max_delete_ratio of its records', async () => {
    const source = csvSourceFixture(tempDir('guard'));
    source.write(demoCsv());
    await runIngest(source.sourcesFile);
    source.write(`${[header, ...rows.slice(0, 25)].join('\n')}\n`);
    const second = await runIngest(source.sourcesFile);
    const counts = await runSource(second.runId);
    assert.equal(counts.soft_deleted, 0);
    assert.match(counts.delete_guard, /held 25 of 50 live records \(50%\)/);
    assert.equal((await liveRecords()).length, 50);
  });

  it("stores a run's anomalies against the source's recent history, for metrics and the API", async () => {
    const source = csvSourceFixture(tempDir('anomalies'), 'csv-assets', { maxDeleteRatio: 1 });
    source.write(demoCsv());
    const first = await runIngest(source.sourcesFile);
    assert.equal(first.anomalies, 0, 'no history yet, nothing to compare with');
    source.write(`${[header, ...rows.slice(0, 20)].join('\n')}\n`);
    const second = await runIngest(source.sourcesFile);
    assert.equal(second.anomalies, 1);
    const stored = (
      await db.pool.query('SELECT rule, source_id, current, reference, message FROM run_anomaly WHERE run_id = $1', [
        second.runId,
      ])
    ).rows;
    assert.deepEqual(stored, [
      {
        rule: 'record_count_change',
        source_id: 'csv-assets',
        current: 20,
        reference: 50,
        message: 'csv-assets: 20 records parsed, -60.0 % against 50',
      },
    ]);
  });

  it('fails only the broken source, deletes nothing, and ends the run failed with the reason', async () => {
    const source = csvSourceFixture(tempDir('missing'));
    source.write(demoCsv());
    await runIngest(source.sourcesFile);
    source.remove();
    const second = await runIngest(source.sourcesFile);
    assert.equal(second.status, 'failed');
    assert.equal(second.sources[0]!.status, 'failed');
    assert.match(second.sources[0]!.error!, /cannot read .*csv-assets\.csv \(ENOENT\)/);
    assert.equal((await liveRecords()).length, 50);
    const run = (await db.pool.query('SELECT status, error FROM run WHERE id = $1', [second.runId])).rows[0];
    assert.equal(run.status, 'failed');
    assert.match(run.error, /csv-assets: .*ENOENT/);
  });
});
