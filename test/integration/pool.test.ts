// The connection budget: more concurrent multi-page normalizes than a pool can hold at once all complete
// (each waits its turn instead of holding two COPY streams while it waits for a third connection); a wait
// for a turn ends only with its attempt; a checkout that finds no connection within the acquire timeout
// fails with a clear, retryable error.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { asFailure } from '../../src/activities/common.ts';
import { openDatabase, type Database } from '../../src/db/orm.ts';
import { storePayload } from '../../src/db/raw.ts';
import { startRun } from '../../src/db/runs.ts';
import { PoolExhaustedError, connectionBudget, transaction, withConnections } from '../../src/db/sql.ts';
import { fetchAndLand } from '../../src/stages/extract.ts';
import { normalizePayload } from '../../src/stages/normalize.ts';
import { loadSourcesConfig } from '../../src/sources/config.ts';
import { CHUNK_BYTES } from '../../src/sources/transport.ts';
import { tempDir, testDatabase, truncateAll, waitFor } from '../helpers.ts';

/** A pool this small fits one normalize (three connections) and keeps one for single statements. */
const POOL = 4;
const SOURCES = 4;
const ROWS = 20_000;

/** A unit of work holding `n` connections: `holding` resolves, once it holds them, to what releases them. */
function heldUntilReleased(db: Database, n: number) {
  let held!: (release: () => void) => void;
  const holding = new Promise<() => void>((resolve) => (held = resolve));
  const done = withConnections(db.pool, n, () => new Promise<void>((release) => held(release)));
  return { holding, done };
}

describe('connection budget (real PostgreSQL)', () => {
  let admin: Database;
  let dir: string;
  before(async () => {
    admin = await testDatabase();
    dir = tempDir('pool');
    // rows long enough that every file spans two pages: the second page is read while the COPY streams are open
    const padding = 'x'.repeat(60);
    for (let s = 0; s < SOURCES; s++) {
      const rows = Array.from({ length: ROWS }, (_, i) => `coin-${s}-${i},C${i},${padding},${i + 1}`);
      fs.writeFileSync(path.join(dir, `desk-${s}.csv`), `${['id,symbol,name,price', ...rows].join('\n')}\n`);
      assert.ok(fs.statSync(path.join(dir, `desk-${s}.csv`)).size > CHUNK_BYTES, 'more than one page');
    }
    fs.writeFileSync(
      path.join(dir, 'sources.yaml'),
      `sources:\n${Array.from({ length: SOURCES }, (_, s) => `  - id: desk-${s}\n    kind: csv\n    url: ./desk-${s}.csv\n`).join('')}`,
    );
  });
  beforeEach(() => truncateAll(admin));
  after(() => admin?.close());

  it(`runs ${SOURCES} concurrent multi-page normalizes on a pool of ${POOL} to the end, each with all its records`, async () => {
    const sources = loadSourcesConfig(path.join(dir, 'sources.yaml'));
    const ids = sources.map((s) => s.id);
    const runId = await startRun(
      admin.em(),
      { workflowId: 'pool', temporalRunId: 'pool-temporal', originalRunId: 'pool-temporal' },
      ids,
    );
    const payloads: number[] = [];
    for (const source of sources) {
      const { payloadId, pages } = await fetchAndLand(admin, runId, source, {
        attempt: 1,
        signal: new AbortController().signal,
        onPage: () => {},
      });
      assert.ok(pages > 1);
      await storePayload(admin.pool, payloadId, source.id);
      payloads.push(payloadId);
    }

    const small = await openDatabase(process.env.TEST_DATABASE_URL!, { poolMax: POOL, acquireTimeoutMs: 60_000 });
    try {
      assert.equal(connectionBudget(small.pool).capacity, POOL - 1);
      // the budget held until every normalize waits for it, so all of them want connections at once whatever
      // the machine's speed; with the budget taken, the pool has one connection left for their statements
      const gate = heldUntilReleased(small, POOL - 1);
      const quiet = { info: () => {}, warn: () => {} };
      const normalizes = Promise.all(
        sources.map((source, i) =>
          normalizePayload(small, { runId, payloadId: payloads[i]! }, source, {
            attempt: 1,
            resumeFrom: 0,
            onCheckpoint: () => {},
            log: quiet,
          }),
        ),
      );
      await waitFor('every normalize to wait for its connections', async () =>
        connectionBudget(small.pool).queued === SOURCES ? true : undefined,
      );
      (await gate.holding)();
      await gate.done;
      const counts = await normalizes;
      for (const c of counts)
        assert.deepEqual(c, { parsed: ROWS, staged: ROWS, quarantined: 0, fieldIssues: 0, driftEvents: 0 });
      assert.equal(connectionBudget(small.pool).inUse, 0, 'all gave back what they took');
    } finally {
      await small.close();
    }
    const { rows } = await admin.pool.query<{ source_id: string; n: number }>(
      'SELECT source_id, count(*)::int AS n FROM stage_record WHERE run_id = $1 GROUP BY source_id ORDER BY source_id',
      [runId],
    );
    assert.deepEqual(
      rows,
      ids.map((source_id) => ({ source_id, n: ROWS })),
    );
  });

  it('fails a unit of work that gets no connection within the acquire timeout, in words an operator can act on', async () => {
    const small = await openDatabase(process.env.TEST_DATABASE_URL!, { poolMax: POOL, acquireTimeoutMs: 200 });
    try {
      // every connection taken around the budget, as a leak would take them
      const held = await Promise.all(Array.from({ length: POOL }, () => small.pool.connect()));
      try {
        await assert.rejects(
          transaction(small.pool, (client) => client.query('SELECT 1')),
          (error: Error) =>
            error instanceof PoolExhaustedError &&
            /no PostgreSQL connection was free within 200 ms \(pool of 4: 4 open, 0 idle, \d+ waiting\); the attempt fails and is retried/.test(
              error.message,
            ),
        );
        // a single statement times out the same way, and an activity turns either into a retryable failure
        await assert.rejects(
          asFailure(() => small.pool.query('SELECT 1')),
          (failure: unknown) =>
            failure instanceof ApplicationFailure &&
            failure.type === 'PoolExhaustedError' &&
            !failure.nonRetryable &&
            /no PostgreSQL connection was free/.test(failure.message),
        );
      } finally {
        for (const client of held) client.release();
      }
      // a unit waiting for its turn in the budget waits (a turn is not a deadlock) until its attempt is
      // cancelled, and then leaves the queue; the one behind it gets its turn when the holder gives back
      const holder = heldUntilReleased(small, 3);
      const cancel = new AbortController();
      const cancelled = withConnections(small.pool, 1, async () => 'ran', cancel.signal);
      const patient = withConnections(small.pool, 1, async () => 'ran');
      assert.equal(connectionBudget(small.pool).queued, 2);
      cancel.abort(new Error('the activity was cancelled'));
      await assert.rejects(cancelled, /the activity was cancelled/);
      assert.equal(connectionBudget(small.pool).queued, 1, 'the cancelled unit left the queue');
      (await holder.holding)();
      await holder.done;
      assert.equal(await patient, 'ran');
      assert.equal(connectionBudget(small.pool).inUse, 0, 'every unit gave back what it took');
      // the budget was given back: once the connections are free, a unit needing three runs
      const sum = await withConnections(small.pool, 3, async (clients) => {
        const answers = await Promise.all(clients.map((c) => c.query<{ one: number }>('SELECT 1 AS one')));
        return answers.reduce((n, a) => n + a.rows[0]!.one, 0);
      });
      assert.equal(sum, 3);
      await assert.rejects(
        withConnections(small.pool, POOL, async () => 0),
        /needs 4 connections at once but the pool allows 3/,
      );
    } finally {
      await small.close();
    }
  });
});
