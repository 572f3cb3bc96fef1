// Normalize in parts: a payload over the part size (lowered here to a few kilobytes) is cut into parts that
// stage side by side; what lands is exactly what normalizing it whole lands, position for position. Real
// activities and real PostgreSQL; the workflow case also runs on a real Temporal dev server with two workers.
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment, type TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  createActivities,
  type NormalizeOutcome,
  type PartOutcome,
  type PlannedParts,
  type RunSummary,
} from '../../src/activities/index.ts';
import type { Database } from '../../src/db/orm.ts';
import { transaction } from '../../src/db/sql.ts';
import { placeParts } from '../../src/db/stage.ts';
import { createWorker } from '../../src/temporal/worker.ts';
import { ingest } from '../../src/workflows/index.ts';
import { startTemporal, taskQueue, tempDir, testDatabase, truncateAll } from '../helpers.ts';
import { buildWorkflowBundle, startWorkerProcess } from '../worker-process.ts';

/**
 * A CSV export with the quirks a cut could break: a BOM and comment banner before the header, CRLF line ends,
 * quoted fields holding delimiters, quotes and line ends, multi-byte characters, blank lines, a record without a
 * key (quarantined), a bad optional value (a field issue), repeated keys and times without a zone.
 */
function quirkyCsv(rows: number): string {
  const lines = ['\uFEFF# exported by the desk', '# prices in USD', '', 'id,symbol,name,price,market_cap,last_updated'];
  for (let i = 0; i < rows; i++) {
    const id = i % 13 === 5 ? '' : `coin-${i % 23 === 7 ? i - 1 : i}`;
    const name = i % 7 === 0 ? `"Coin, ${i}\r\nsecond line"` : i % 11 === 0 ? `"The ""${i}"" coin"` : `Café ₿ ${i}`;
    const cap = i % 17 === 3 ? '12x' : String(i * 1000);
    const at =
      i % 29 === 0
        ? `2026-11-01 00:${String(i % 60).padStart(2, '0')}:00`
        : `2026-11-01T00:00:${String(i % 60).padStart(2, '0')}Z`;
    lines.push(`${id},C${i},${name},${(i + 1) / 4},${cap},${at}`);
    if (i % 19 === 0) lines.push('');
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** Everything normalize and the merge wrote for the source, in an order that does not depend on ids. */
async function landed(db: Database) {
  const q = async (sql: string) => (await db.pool.query(sql)).rows;
  return {
    records: await q(
      'SELECT source_key, symbol, name, price_usd, market_cap_usd, source_updated_at, content_hash, raw_position FROM record ORDER BY source_key',
    ),
    quotes: await q(
      'SELECT r.source_key, q.observed_at, q.price_usd, q.raw_position FROM quote q JOIN record r ON r.id = q.record_id ORDER BY 1, 2',
    ),
    quarantine: await q('SELECT raw_position, source_key, reason, fields FROM quarantine ORDER BY raw_position'),
    issues: await q(
      'SELECT raw_position, source_key, field, value, reason FROM field_issue ORDER BY raw_position, field',
    ),
    counts: await q(
      'SELECT parsed, staged, quarantined, field_issues, warnings, duplicates, inserted FROM run_source ORDER BY run_id',
    ),
  };
}

describe('normalize in parts (real activities, real PostgreSQL)', () => {
  let db: Database;
  let dir: string;
  let sourcesFile: string;
  const csvFile = () => path.join(dir, 'desk.csv');

  before(async () => {
    db = await testDatabase();
    dir = tempDir('parts');
    sourcesFile = path.join(dir, 'sources.yaml');
    fs.writeFileSync(sourcesFile, 'sources:\n  - id: desk\n    kind: csv\n    url: ./desk.csv\n');
  });
  beforeEach(() => truncateAll(db));
  after(() => db?.close());

  const env = () =>
    new MockActivityEnvironment(
      { workflowExecution: { workflowId: 'parts', runId: `temporal-${Date.now()}` } },
      { logger: new DefaultLogger('ERROR', () => {}) },
    );

  /** start, fetch, store, and normalize asking for parts: what the workflow does before the parts. */
  async function planned(partBytes?: number) {
    const activities = createActivities({ db, sourcesFile, partBytes });
    const { runId } = (await env().run(activities.startRun, { sourceIds: ['desk'] })) as { runId: number };
    const step = { runId, sourceId: 'desk' };
    const { payloadId } = (await env().run(activities.fetchSource, step)) as { payloadId: number };
    const payload = { ...step, payloadId };
    await env().run(activities.storeRaw, payload);
    const result = (await env().run(activities.normalize, { ...payload, inParts: true })) as
      | NormalizeOutcome
      | PlannedParts;
    /** Stages every part, in the order given (workers finish them in any), and returns their outcomes. */
    const stageParts = async (order: (parts: number[]) => number[] = (parts) => parts) => {
      const outcomes: PartOutcome[] = [];
      const parts = 'parts' in result ? result.parts : 0;
      for (const part of order(Array.from({ length: parts }, (_, k) => k)))
        outcomes[part] = (await env().run(activities.normalizePart, { ...payload, part })) as PartOutcome;
      return outcomes;
    };
    return { activities, payload, result, stageParts };
  }

  /** The whole ingest up to the merge, normalizing in parts when `partBytes` and the file allow. */
  async function ingestWith(partBytes?: number): Promise<{ parts: number; counts: NormalizeOutcome }> {
    const { activities, payload, result, stageParts } = await planned(partBytes);
    let parts = 0;
    let counts: NormalizeOutcome;
    if ('parts' in result) {
      parts = result.parts;
      const outcomes = await stageParts((order) => order.reverse());
      counts = (await env().run(activities.finishParts, { ...payload, outcomes })) as NormalizeOutcome;
    } else counts = result;
    await env().run(activities.dedupe, payload);
    return { parts, counts };
  }

  it('lands a quirky CSV cut into parts exactly as it lands whole: records, observations, quarantine, issues, counts', async () => {
    // cuts fall in different places for each size: beside blank lines, quoted line ends, bad records
    for (const [rows, partBytes] of [
      [600, 4096],
      [1500, 8192],
      [1500, 3001],
    ] as const) {
      await truncateAll(db);
      fs.writeFileSync(csvFile(), quirkyCsv(rows));
      const whole = await ingestWith();
      assert.equal(whole.parts, 0);
      const expected = await landed(db);
      assert.ok(expected.quarantine.length > 10 && expected.issues.length > 10, 'the file has bad records and values');
      assert.ok(
        expected.counts[0].warnings.some((w: string) => /read as UTC/.test(w)),
        'zone-less times were read',
      );

      await truncateAll(db);
      const cut = await ingestWith(partBytes);
      assert.ok(cut.parts >= 5, `cut into ${cut.parts} parts`);
      assert.deepEqual(cut.counts, whole.counts, `${rows} rows in parts of ${partBytes} bytes`);
      assert.deepEqual(await landed(db), expected, `${rows} rows in parts of ${partBytes} bytes`);
    }
  });

  it('refuses to join parts whose staged rows a PostgreSQL crash emptied, and merges nothing', async () => {
    fs.writeFileSync(csvFile(), quirkyCsv(300));
    const { activities, payload, stageParts } = await planned(4096);
    const outcomes = await stageParts();
    assert.ok(outcomes.length > 1);
    // what crash recovery does to the unlogged table, after the first parts finished
    await db.pool.query('TRUNCATE stage_record');
    await assert.rejects(env().run(activities.finishParts, { ...payload, outcomes }), (error: Error) => {
      assert.ok(error instanceof ApplicationFailure && error.nonRetryable, `${error.name}: not retried`);
      assert.match(error.message, /records of its parts are gone from staging.*nothing was merged or deleted/);
      return true;
    });
    // and the join stays undone: the plan has no shifts, so nothing is placed and the counts stay unwritten
    const { rows } = await db.pool.query('SELECT normalize_plan ? $1 AS placed, staged FROM run_source', ['shifts']);
    assert.deepEqual(rows, [{ placed: false, staged: 0 }]);
  });

  it('a retried join places the positions once', async () => {
    fs.writeFileSync(csvFile(), quirkyCsv(300));
    await ingestWith();
    const expected = await landed(db);
    await truncateAll(db);
    const { activities, payload, stageParts } = await planned(4096);
    const outcomes = await stageParts();
    assert.ok(outcomes.length > 1);
    await env().run(activities.finishParts, { ...payload, outcomes });
    await env().run(activities.finishParts, { ...payload, outcomes }); // the retry of an attempt that committed
    // a part staged again after the join (a reset to the wrong point) would clear the other parts' rows
    await assert.rejects(env().run(activities.normalizePart, { ...payload, part: 0 }), /joined already/);
    await env().run(activities.dedupe, payload);
    assert.deepEqual((await landed(db)).quarantine, expected.quarantine);
    assert.deepEqual((await landed(db)).issues, expected.issues);
    assert.deepEqual((await landed(db)).records, expected.records);
  });

  it('moves quarantined positions down in one statement, also where a row lands on one not moved yet', async () => {
    // three parts of 8 quarantined records, stride 10: part 2's records go to 16..23, where part 1's 16 and 17
    // and its own 20..23 still are; written highest first and read in that order, each lands on an unmoved row
    const positions = [0, 1, 2].flatMap((k) => Array.from({ length: 8 }, (_, j) => k * 10 + j)).reverse();
    await db.pool.query(
      `INSERT INTO quarantine (run_id, source_id, raw_payload_id, raw_position, reason, fields)
       SELECT 1, 'x', 1, p, 'test', '{}' FROM unnest($1::int[]) p`,
      [positions],
    );
    await transaction(db.pool, async (client) => {
      await client.query('SET LOCAL enable_indexscan = off');
      await client.query('SET LOCAL enable_bitmapscan = off');
      await placeParts(client, 1, 'x', 10, [0, 2, 4]);
    });
    const { rows } = await db.pool.query<{ p: number }>(
      `SELECT raw_position AS p FROM quarantine WHERE run_id = 1 ORDER BY 1`,
    );
    assert.deepEqual(
      rows.map((r) => r.p),
      Array.from({ length: 24 }, (_, i) => i),
    );
  });

  it('normalizes whole what it cannot cut safely: UTF-16, a comment among the records, an unclosed quote', async () => {
    const text = quirkyCsv(200);
    const cases: [string, Buffer][] = [
      ['UTF-16', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text.replace('\uFEFF', ''), 'utf16le')])],
      ['a comment among the records', Buffer.from(text.replace('coin-100,', '# a note\r\ncoin-100,'))],
      ['an unclosed quote', Buffer.from(`${text}coin-x,CX,"never closed,1,2,2026-11-01T00:00:00Z\r\n`)],
    ];
    for (const [what, bytes] of cases) {
      await truncateAll(db);
      fs.writeFileSync(csvFile(), bytes);
      const whole = await ingestWith();
      const expected = await landed(db);
      await truncateAll(db);
      const cut = await ingestWith(2048);
      assert.equal(cut.parts, 0, `${what}: not cut`);
      assert.deepEqual(await landed(db), expected, what);
      assert.ok(whole.counts.staged > 150, what);
    }
  });
});

describe('normalize in parts in the ingest workflow (real Temporal, two worker processes)', () => {
  let env: TestWorkflowEnvironment;
  let db: Database;
  let dir: string;
  let bundle: string;
  const injection = process.env.ETL_FAULT_INJECTION;

  before(async function () {
    this.timeout(120_000);
    process.env.ETL_FAULT_INJECTION = '1';
    db = await testDatabase();
    env = await startTemporal();
    dir = tempDir('parts-workflow');
    bundle = await buildWorkflowBundle(dir);
    fs.writeFileSync(path.join(dir, 'desk.csv'), quirkyCsv(1500));
  });
  after(async () => {
    if (injection === undefined) delete process.env.ETL_FAULT_INJECTION;
    else process.env.ETL_FAULT_INJECTION = injection;
    await db?.close();
    await env?.teardown();
  });

  /**
   * One ingest: normalized whole by one worker, or (`partBytes`) in parts by this process's worker and a
   * second worker process of activities on the same task queue.
   */
  async function run(sourcesFile: string, partBytes?: number) {
    const queue = taskQueue('parts');
    const second = partBytes
      ? startWorkerProcess(env, {
          queue,
          sourcesFile,
          workflowBundle: bundle,
          env: {
            ETL_WORKER_ROLE: 'activities',
            ETL_PART_BYTES: String(partBytes),
            ETL_PART_CONCURRENCY: '3',
            ETL_FAULT_INJECTION: '1',
          },
        })
      : undefined;
    try {
      await second?.ready();
      const worker = await createWorker({
        connection: env.nativeConnection,
        namespace: env.namespace ?? 'default',
        taskQueue: queue,
        identity: 'in-process',
        workflowBundlePath: bundle,
        db,
        sourcesFile,
        partBytes,
        partConcurrency: 3,
      });
      const handle = await env.client.workflow.start(ingest, { taskQueue: queue, workflowId: queue, args: [{}] });
      const summary: RunSummary = await worker.runUntil(handle.result());
      return { summary, history: await handle.fetchHistory() };
    } finally {
      await second?.stop();
    }
  }

  it('fans the parts out over the workers, retries only the part that failed, and lands what a whole run lands', async () => {
    await truncateAll(db);
    const plain = path.join(dir, 'plain.yaml');
    fs.writeFileSync(plain, 'sources:\n  - id: desk\n    kind: csv\n    url: ./desk.csv\n');
    const whole = await run(plain);
    assert.equal(whole.summary.status, 'succeeded');
    const expected = await landed(db);
    await truncateAll(db);

    // the first attempt of part 2 fails at its 10th record
    const faulty = path.join(dir, 'faulty.yaml');
    fs.writeFileSync(
      faulty,
      'sources:\n  - id: desk\n    kind: csv\n    url: ./desk.csv\n    faults: { fail_at_record: 10, at_part: 1 }\n',
    );
    const cut = await run(faulty, 8192);
    assert.equal(cut.summary.status, 'succeeded');
    const events = cut.history.events ?? [];
    const partOf = new Map<string, number>();
    for (const e of events) {
      const scheduled = e.activityTaskScheduledEventAttributes;
      if (scheduled?.activityType?.name !== 'normalizePart') continue;
      const input = JSON.parse(Buffer.from(scheduled.input!.payloads![0]!.data!).toString()) as { part: number };
      partOf.set(String(e.eventId), input.part);
    }
    assert.ok(partOf.size >= 5, `${partOf.size} parts`);
    assert.deepEqual(
      [...partOf.values()].sort((a, b) => a - b),
      Array.from({ length: partOf.size }, (_, k) => k),
      'each part scheduled once',
    );
    const attempts = new Map<number, number>();
    for (const e of events) {
      const started = e.activityTaskStartedEventAttributes;
      const part = started && partOf.get(String(started.scheduledEventId));
      if (part !== undefined && part !== null) attempts.set(part, started!.attempt!);
    }
    assert.deepEqual(
      [...attempts].filter(([, attempt]) => attempt > 1),
      [[1, 2]],
      'only part 1 was retried, once',
    );
    const { counts, ...rest } = await landed(db);
    const { counts: wholeCounts, ...wholeRest } = expected;
    assert.deepEqual(counts, wholeCounts);
    assert.deepEqual(rest, wholeRest);
  });
});
