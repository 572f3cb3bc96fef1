// The API as its own process (src/api/server.ts, real PostgreSQL): stopping it lets the requests in flight
// finish before the database pool closes, as a rolling deploy needs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { freePort } from '../../scripts/lib/free-port.ts';
import type { Database } from '../../src/db/orm.ts';
import { projectRoot } from '../../src/settings.ts';
import { testDatabase, waitFor } from '../helpers.ts';

describe('the API process (real PostgreSQL)', () => {
  let db: Database;
  before(async () => {
    db = await testDatabase();
  });
  after(() => db?.close());

  it('answers a request in flight when stopped, also after a second signal, then exits cleanly', async () => {
    const port = await freePort();
    const appName = `test-api-${process.pid}`;
    const child = spawn(process.execPath, [path.join(projectRoot, 'src', 'api', 'server.ts')], {
      env: {
        ...process.env,
        DATABASE_URL: process.env.TEST_DATABASE_URL,
        // node-postgres names every session of the pool from PGAPPNAME
        PGAPPNAME: appName,
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const exited = once(child, 'exit');
    const locker = await db.pool.connect();
    try {
      await waitFor('the API to listen', async () => (output.includes('api listening') ? true : undefined));
      // the request waits on a lock this test holds: it is in flight until the test lets it go
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE record IN ACCESS EXCLUSIVE MODE');
      const response = fetch(`http://127.0.0.1:${port}/data?limit=5`);
      await waitFor('the request to wait on the lock', async () => {
        const { rows } = await db.pool.query(
          `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
          [appName],
        );
        return rows.length ? true : undefined;
      });
      child.kill('SIGTERM');
      await waitFor('the API to begin stopping', async () => (output.includes('api stopping') ? true : undefined));
      // an impatient second signal changes nothing
      child.kill('SIGINT');
      await waitFor('the second signal', async () => (output.includes('api stopping already') ? true : undefined));
      await locker.query('COMMIT');
      const answered = await response;
      assert.equal(answered.status, 200, output);
      assert.ok(Array.isArray(((await answered.json()) as { data: unknown }).data));
      const [code] = await exited;
      assert.equal(code, 0, output);
      // nothing failed on the way out: no error logged
      assert.doesNotMatch(output, /"level":50/, output);
    } finally {
      locker.release();
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
