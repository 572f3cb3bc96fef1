// Staging is an unlogged table: a PostgreSQL crash empties it. The real activities (MockActivityEnvironment,
// real database) must notice instead of merging nothing, deleting everything or resuming past lost rows.
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createActivities, type NormalizeOutcome } from '../../src/activities/index.ts';
import type { Database } from '../../src/db/orm.ts';
import { tempDir, testDatabase, truncateAll } from '../helpers.ts';

describe('unlogged staging (real activities, real PostgreSQL)', () => {
  let db: Database;
  let sourcesFile: string;
  before(async () => {
    db = await testDatabase();
    const dir = tempDir('staging');
    sourcesFile = path.join(dir, 'sources.yaml');
    fs.writeFileSync(sourcesFile, 'sources:\n  - id: desk\n    kind: csv\n    url: ./desk.csv\n');
    fs.writeFileSync(
      path.join(dir, 'desk.csv'),
      `${['id,symbol,price', ...Array.from({ length: 120 }, (_, i) => `coin-${i},C${i},${i + 1}`)].join('\n')}\n`,
    );
  });
  beforeEach(() => truncateAll(db));
  after(() => db?.close());

  const environment = (heartbeatDetails?: unknown) =>
    new MockActivityEnvironment(
      {
        workflowExecution: { workflowId: 'staging', runId: 'temporal-1' },
        ...(heartbeatDetails ? { heartbeatDetails } : {}),
      },
      { logger: new DefaultLogger('ERROR', () => {}) },
    );
  async function normalized() {
    const activities = createActivities({ db, sourcesFile });
    const env = environment();
    const { runId } = (await env.run(activities.startRun, { sourceIds: ['desk'] })) as { runId: number };
    const step = { runId, sourceId: 'desk' };
    const { payloadId } = (await env.run(activities.fetchSource, step)) as { payloadId: number };
    await env.run(activities.storeRaw, { ...step, payloadId });
    await env.run(activities.normalize, { ...step, payloadId });
    return { activities, step: { ...step, payloadId } };
  }

  it('refuses to merge or delete when the staged rows are gone, and says why', async () => {
    const { activities, step } = await normalized();
    await db.pool.query('TRUNCATE stage_record'); // what crash recovery does to an unlogged table
    for (const activity of [activities.dedupe, activities.softDeleteOrphans]) {
      await assert.rejects(environment().run(activity, step), (error: Error) => {
        assert.ok(error instanceof ApplicationFailure && error.nonRetryable, `${error.name}: not retried`);
        assert.match(error.message, /120 of 120 staged records are gone.*nothing was merged or deleted/);
        return true;
      });
    }
    assert.equal((await db.pool.query('SELECT count(*)::int AS n FROM record')).rows[0].n, 0);
    assert.equal(
      (await db.pool.query('SELECT last_payload_id FROM source_state')).rowCount,
      0,
      'the checkpoint did not move: the next run ingests the payload again',
    );
  });

  it('starts normalize over when the rows its checkpoint counts on are gone, instead of resuming past them', async () => {
    const { activities, step } = await normalized();
    await db.pool.query('DELETE FROM stage_record WHERE position < 50');
    // a retry whose last heartbeat said 100 records were committed
    const result = await environment({ position: 100 }).run(activities.normalize, step);
    const counts = result as NormalizeOutcome; // a whole payload: no parts asked for
    assert.deepEqual([counts.parsed, counts.staged], [120, 120]);
    assert.equal(
      (
        await db.pool.query('SELECT count(DISTINCT position)::int AS n FROM stage_record WHERE run_id = $1', [
          step.runId,
        ])
      ).rows[0].n,
      120,
    );
    // with the rows intact, the same heartbeat resumes: nothing before 100 is written again
    const before = (await db.pool.query(`SELECT xmin::text FROM stage_record WHERE position = 10`)).rows[0].xmin;
    await environment({ position: 100 }).run(activities.normalize, step);
    assert.equal((await db.pool.query(`SELECT xmin::text FROM stage_record WHERE position = 10`)).rows[0].xmin, before);
  });
});
