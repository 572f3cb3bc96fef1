// Runs the persistent embedded PostgreSQL of `make dev` as a child process of the supervisor.
// Sends its connection URL over the IPC channel (never to a log) and stops the server on SIGTERM/SIGINT.
import path from 'node:path';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.ts';
import { createLogger } from '../src/logger.ts';
import { loadSettings } from '../src/settings.ts';

const settings = loadSettings();
const log = createLogger('postgres', settings.LOG_LEVEL);
const pg = await startEmbeddedPostgres({
  dataDir: path.join(settings.ETL_DATA_DIR, 'postgres'),
  port: settings.ETL_EMBEDDED_PG_PORT,
  persistent: true,
  log,
});
process.send?.({ ready: true, url: pg.url });
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void pg.stop().then(() => {
      log.info('embedded PostgreSQL stopped');
      process.exit(0);
    });
  });
}
