// API process: serves http://HOST:PORT until SIGINT/SIGTERM.
import { Client, Connection } from '@temporalio/client';
import { once } from 'node:events';
import { openDatabase } from '../db/orm.ts';
import { createLogger } from '../logger.ts';
import { durationMs, loadSettings, requireDatabaseUrl } from '../settings.ts';
import { temporalTarget } from '../temporal/connection.ts';
import { STATEMENT_TIMEOUT_MS, createApp } from './app.ts';

const settings = loadSettings();
const log = createLogger('api', settings.LOG_LEVEL);
const db = await openDatabase(requireDatabaseUrl(settings), {
  statementTimeoutMs: STATEMENT_TIMEOUT_MS,
  jit: false,
  poolMax: settings.ETL_DB_POOL_MAX,
  acquireTimeoutMs: durationMs(settings.ETL_DB_ACQUIRE_TIMEOUT),
});
const target = temporalTarget();
// lazy: the API starts (and /health says so) even while Temporal is down
const connection = Connection.lazy(target.connectionOptions);
const temporal = new Client({ connection, namespace: target.namespace });
const server = createApp({ db, temporal, log, settings }).listen(settings.PORT, settings.HOST);
await once(server, 'listening');
log.info({ url: `http://${settings.HOST}:${settings.PORT}` }, 'api listening');

// Stopping lets the requests in flight finish (a rolling deploy loses none), closes idle keep-alive sockets
// at once, and only then the database pool, so no request fails on a closed pool. No request can outlast its
// statement timeout by much: past that the rest are cut off.
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // a second signal (SIGINT, then SIGTERM) changes nothing: the requests in flight still finish
    if (stopping) {
      log.info({ signal }, 'api stopping already: the requests in flight finish first');
      return;
    }
    stopping = true;
    log.info({ signal }, 'api stopping');
    const drained = new Promise((resolve) => server.close(resolve));
    server.closeIdleConnections();
    // a socket whose last response is sent now closes at once instead of idling for a next request
    server.keepAliveTimeout = 1;
    const cutOff = setTimeout(() => server.closeAllConnections(), STATEMENT_TIMEOUT_MS + 1000);
    void drained
      .then(() => {
        clearTimeout(cutOff);
        return Promise.allSettled([connection.close(), db.close()]);
      })
      .then(() => process.exit(0));
  });
}
