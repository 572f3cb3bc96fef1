// The stages as plain functions, with no Temporal anywhere: no worker, no activity context, no heartbeat.
// Extract and normalize run against a real PostgreSQL on a local CSV, are interrupted (an abort, an injected
// failure) and resumed from where they stopped, the way a retried activity would resume them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { mergeStaged } from '../../src/db/merge.ts';
import type { Database } from '../../src/db/orm.ts';
import { storePayload } from '../../src/db/raw.ts';
import { startRun } from '../../src/db/runs.ts';
import { fetchAndLand } from '../../src/stages/extract.ts';
import { deleteOrphans } from '../../src/stages/load.ts';
import { normalizePayload, type StageLog } from '../../src/stages/normalize.ts';
import { projectRoot } from '../../src/settings.ts';
import { loadSourcesConfig, type SourceConfig } from '../../src/sources/config.ts';
import { CHUNK_BYTES } from '../../src/sources/transport.ts';
import { tempDir, testDatabase, truncateAll } from '../helpers.ts';

const STAGE_MODULES = ['src/stages/extract.ts', 'src/stages/normalize.ts', 'src/stages/load.ts'];

/** Enough records for normalize to commit a checkpoint (every 50,000) and for the file to span two pages. */
const GOOD = 60_000;
/** Rows without an id: a record without a key is quarantined. */
const KEYLESS = [7, 30_000, 59_000];
const FAIL_AT = 55_000;

describe('stage modules without Temporal (real PostgreSQL)', () => {
  let db: Database;
  let dir: string;
  let csv: string;
  before(async () => {
    db = await testDatabase();
    dir = tempDir('stages');
    csv = path.join(dir, 'desk.csv');
    const rows = Array.from({ length: GOOD }, (_, i) => `coin-${i},C${i},${i + 1}`);
    for (const at of KEYLESS) rows.splice(at, 0, `,X${at},1`);
    fs.writeFileSync(csv, `${['id,symbol,price', ...rows].join('\n')}\n`);
    assert.ok(fs.statSync(csv).size > CHUNK_BYTES, 'the file spans more than one page');
  });
  beforeEach(() => truncateAll(db));
  after(() => db?.close());

  /** The source as the sources file declares it; `faults` needs the switch that allows fault injection. */
  function desk(faults = ''): SourceConfig {
    const file = path.join(dir, 'sources.yaml');
    fs.writeFileSync(
      file,
      `sources:\n  - id: desk\n    kind: csv\n    url: ./desk.csv\n${faults ? `    faults: { ${faults} }\n` : ''}`,
    );
    return loadSourcesConfig(file, { ETL_FAULT_INJECTION: '1' })[0]!;
  }
  const newRun = (name: string) =>
    startRun(db.em(), { workflowId: name, temporalRunId: `${name}-temporal`, originalRunId: `${name}-temporal` }, [
      'desk',
    ]);
  const never = () => new AbortController().signal;
  const pagesOf = async (payloadId: number) =>
    (
      await db.pool.query<{ seq: number; ctid: string; length: number }>(
        'SELECT seq, ctid::text, length(body) AS length FROM raw_page WHERE payload_id = $1 ORDER BY seq',
        [payloadId],
      )
    ).rows;
  const log = () => {
    const lines: { level: string; message: string; meta?: Record<string, unknown> }[] = [];
    const sink: StageLog = {
      info: (message, meta) => lines.push({ level: 'info', message, meta }),
      warn: (message, meta) => lines.push({ level: 'warn', message, meta }),
    };
    return { lines, sink };
  };

  it('import nothing of Temporal, directly or through what they import', () => {
    const script = `
      import { registerHooks } from 'node:module';
      const temporal = [];
      registerHooks({ resolve(specifier, context, next) {
        const resolved = next(specifier, context);
        if (resolved.url.includes('@temporalio')) temporal.push(resolved.url);
        return resolved;
      } });
      for (const file of ${JSON.stringify(STAGE_MODULES.map((f) => path.join(projectRoot, f)))}) await import(file);
      console.log(JSON.stringify(temporal));`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    assert.deepEqual(JSON.parse(child.stdout), []);
  });

  it('extract lands the file page by page, and an interrupted fetch resumes inside it', async () => {
    const source = desk();
    const runId = await newRun('extract');
    const abort = new AbortController();
    const beats: { document: number; pages: number }[] = [];
    // the first page lands, then the fetch is aborted as a cancelled activity would be
    await assert.rejects(
      fetchAndLand(db, runId, source, {
        attempt: 1,
        signal: abort.signal,
        onPage: (landed) => {
          beats.push(landed);
          abort.abort();
        },
      }),
      { name: 'AbortError' },
    );
    assert.deepEqual(beats, [{ document: 0, pages: 1 }]);
    const [payload] = (await db.pool.query<{ id: number }>('SELECT id::int FROM raw_payload')).rows;
    const first = await pagesOf(payload!.id);
    assert.deepEqual(
      first.map((p) => [p.seq, p.length]),
      [[0, CHUNK_BYTES]],
    );

    const resumed: number[] = [];
    const fetched = await fetchAndLand(db, runId, source, {
      attempt: 2,
      signal: never(),
      onPage: ({ pages }) => resumed.push(pages),
    });
    const size = fs.statSync(csv).size;
    const pageCount = Math.ceil(size / CHUNK_BYTES);
    assert.deepEqual(fetched, { payloadId: payload!.id, bytes: size, pages: pageCount, notModified: false });
    assert.deepEqual(
      resumed,
      Array.from({ length: pageCount - 1 }, (_, i) => i + 2),
      'only the pages after the landed one',
    );
    const pages = await pagesOf(payload!.id);
    assert.equal(pages[0]!.ctid, first[0]!.ctid, 'the landed page was kept, not written again');
    const { rows } = await db.pool.query<{ hash: string }>(
      `SELECT encode(sha256(string_agg(body, ''::bytea ORDER BY seq)), 'hex') AS hash FROM raw_page WHERE payload_id = $1`,
      [payload!.id],
    );
    assert.equal(rows[0]!.hash, crypto.createHash('sha256').update(fs.readFileSync(csv)).digest('hex'));
  });

  it('extract lands no page twice: the same bytes as the last merged payload are landed by reference', async () => {
    const source = desk();
    const merged = await newRun('first');
    const { payloadId } = await fetchAndLand(db, merged, source, { attempt: 1, signal: never(), onPage: () => {} });
    await storePayload(db.pool, payloadId, 'desk');
    await normalizePayload(db, { runId: merged, payloadId }, source, {
      attempt: 1,
      resumeFrom: 0,
      onCheckpoint: () => {},
      log: log().sink,
    });
    await mergeStaged(db.pool, merged, 'desk', 'asset', payloadId, 'first-temporal');

    const again = await newRun('second');
    const refetched = await fetchAndLand(db, again, source, { attempt: 1, signal: never(), onPage: () => {} });
    assert.notEqual(refetched.payloadId, payloadId);
    assert.equal(refetched.pages, Math.ceil(fs.statSync(csv).size / CHUNK_BYTES), 'described by the earlier pages');
    assert.deepEqual(await pagesOf(refetched.payloadId), [], 'no page written for it');
    assert.equal((await storePayload(db.pool, refetched.payloadId, 'desk')).status, 'unchanged');
  });

  it('normalize stages and quarantines, and resumes from its checkpoint after a failure', async () => {
    const runId = await newRun('normalize');
    const { payloadId } = await fetchAndLand(db, runId, desk(), { attempt: 1, signal: never(), onPage: () => {} });
    await storePayload(db.pool, payloadId, 'desk');
    const step = { runId, payloadId };

    // the first attempt commits a checkpoint, then fails at an injected record
    const source = desk(`fail_at_record: ${FAIL_AT}`);
    const checkpoints: number[] = [];
    await assert.rejects(
      normalizePayload(db, step, source, {
        attempt: 1,
        resumeFrom: 0,
        onCheckpoint: ({ position }) => checkpoints.push(position),
        log: log().sink,
      }),
      new RegExp(`injected failure at record ${FAIL_AT}`),
    );
    assert.equal(checkpoints.length, 1);
    const [committed] = checkpoints as [number];
    assert.ok(committed > 0 && committed < FAIL_AT);
    const kept = (
      await db.pool.query<{ ctid: string }>('SELECT ctid::text FROM stage_record WHERE run_id = $1 AND position = $2', [
        runId,
        committed - 1,
      ])
    ).rows[0]?.ctid;
    assert.ok(kept, 'the rows before the checkpoint are committed');

    // the retry starts from the checkpoint its predecessor reported
    const second = log();
    const counts = await normalizePayload(db, step, source, {
      attempt: 2,
      resumeFrom: committed,
      onCheckpoint: () => {},
      log: second.sink,
    });
    const total = GOOD + KEYLESS.length;
    assert.deepEqual(counts, {
      parsed: total,
      staged: GOOD,
      quarantined: KEYLESS.length,
      fieldIssues: 0,
      driftEvents: 0,
    });
    assert.ok(second.lines.some((l) => l.message.includes('resumes') && l.meta?.position === committed));
    const { rows } = await db.pool.query<{ ctid: string; staged: number }>(
      `SELECT (SELECT ctid::text FROM stage_record WHERE run_id = $1 AND position = $2) AS ctid,
              (SELECT count(DISTINCT position)::int FROM stage_record WHERE run_id = $1) AS staged`,
      [runId, committed - 1],
    );
    assert.equal(rows[0]!.ctid, kept, 'what the first attempt committed was not staged again');
    assert.equal(rows[0]!.staged, GOOD, 'every good record staged once');
    const quarantined = await db.pool.query<{ position: number; reason: string }>(
      'SELECT raw_position AS position, reason FROM quarantine WHERE run_id = $1 ORDER BY raw_position',
      [runId],
    );
    assert.deepEqual(
      quarantined.rows.map((q) => q.position),
      KEYLESS,
      'the rows without an id, where the file has them',
    );
    for (const q of quarantined.rows) assert.match(q.reason, /source_key/);
  });

  it('load refuses to delete from a payload that is not a stored snapshot', async () => {
    const runId = await newRun('load');
    const source = desk();
    const { payloadId } = await fetchAndLand(db, runId, source, { attempt: 1, signal: never(), onPage: () => {} });
    await assert.rejects(deleteOrphans(db, { runId, payloadId }, source, 'load-temporal'), {
      name: 'IncompleteSnapshot',
      message: new RegExp(`payload ${payloadId} is landing, not a stored snapshot`),
    });
  });
});
