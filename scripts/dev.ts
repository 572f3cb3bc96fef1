// `make dev`: the whole pipeline on one machine with embedded defaults. Starts PostgreSQL (embedded,
// unless DATABASE_URL is set), migrates, starts the Temporal dev server with its Web UI (unless
// TEMPORAL_ADDRESS is set), the local source server with the demo payloads, the worker and the API,
// applies the `etl-ingest` schedule, triggers a first run and prints the URLs, the web console's first. It
// supervises: a child that exits is started again, after 1 s, then twice as long each time it dies within a
// minute of starting (at most 30 s), each restart logged and written to ETL_DATA_DIR/supervisor.json, which
// /health shows. Ctrl-C stops every child it started, API first and PostgreSQL last.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { migrate, openDatabase } from '../src/db/orm.ts';
import { createLogger } from '../src/logger.ts';
import { durationMs, loadSettings, projectRoot } from '../src/settings.ts';
import { connectClient, temporalTarget } from '../src/temporal/connection.ts';
import { ensureRetention } from '../src/temporal/retention.ts';
import { applySchedules } from '../src/temporal/schedule.ts';
import { DEV_SERVER_SEARCH_ATTRIBUTE_ARGS, ensureSearchAttributes } from '../src/temporal/search-attributes.ts';

const settings = loadSettings();
const log = createLogger('dev', settings.LOG_LEVEL);
interface Supervised {
  name: string;
  launch: () => ChildProcess;
  child: ChildProcess;
  restarts: number;
  startedAt: number;
  lastExit: string | null;
  /** Restarts in a row that died within a minute: the backoff doubles with each. */
  quickDeaths: number;
}
const children: Supervised[] = [];
const stateFile = path.join(settings.ETL_DATA_DIR, 'supervisor.json');
// on a terminal children write to it directly (pretty logs); otherwise through forwardAsJson
const OUTPUT: ['ignore', 'inherit' | 'pipe', 'inherit' | 'pipe'] = process.stdout.isTTY
  ? ['ignore', 'inherit', 'inherit']
  : ['ignore', 'pipe', 'pipe'];
let stopping = false;

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stopAll(0));
process.on('exit', () => {
  for (const { child } of children) if (child.exitCode === null) child.kill('SIGKILL');
});

try {
  await main();
} catch (error) {
  log.error({ err: error }, 'make dev could not start');
  await stopAll(1);
}

async function main(): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env, ETL_SUPERVISOR_STATE: stateFile };
  fs.mkdirSync(settings.ETL_DATA_DIR, { recursive: true });
  const temporalCli = process.env.TEMPORAL_CLI ?? path.join(projectRoot, '.tools', 'bin', 'temporal');
  const uiPort = Number(new URL(settings.TEMPORAL_UI_URL).port || 8233);

  await assertPortsFree([
    settings.PORT,
    settings.ETL_SOURCE_SERVER_PORT,
    ...(process.env.TEMPORAL_ADDRESS ? [] : [settings.ETL_DEV_TEMPORAL_PORT, uiPort]),
    ...(process.env.DATABASE_URL ? [] : [settings.ETL_EMBEDDED_PG_PORT]),
  ]);

  if (!env.DATABASE_URL) {
    // its URL comes over IPC once; a restarted one serves the same data directory on the same port
    const launch = () =>
      fork(path.join(projectRoot, 'scripts', 'postgres.ts'), { env, detached: true, stdio: [...OUTPUT, 'ipc'] }).once(
        'message',
        function (this: ChildProcess) {
          this.disconnect();
        },
      );
    const pg = supervise('postgres', launch);
    const [message] = (await Promise.race([
      once(pg, 'message'),
      once(pg, 'exit').then(() => {
        throw new Error('embedded PostgreSQL exited during start');
      }),
    ])) as [{ url: string }];
    env.DATABASE_URL = message.url;
  }
  const db = await openDatabase(env.DATABASE_URL!);
  const applied = await migrate(db).finally(() => db.close());
  log.info({ applied }, applied.length ? 'migrations applied' : 'database schema is up to date');

  if (!process.env.TEMPORAL_ADDRESS) {
    const stateDir = path.join(settings.ETL_DATA_DIR, 'temporal');
    fs.mkdirSync(stateDir, { recursive: true });
    start(
      'temporal',
      temporalCli,
      [
        'server',
        'start-dev',
        '--ip',
        '127.0.0.1',
        '--port',
        String(settings.ETL_DEV_TEMPORAL_PORT),
        '--ui-port',
        String(uiPort),
        '--db-filename',
        path.join(stateDir, 'dev.sqlite'),
        '--log-format',
        'json',
        '--log-level',
        'warn',
        ...DEV_SERVER_SEARCH_ATTRIBUTE_ARGS,
      ],
      env,
    );
    env.TEMPORAL_ADDRESS = `127.0.0.1:${settings.ETL_DEV_TEMPORAL_PORT}`;
  }
  const target = temporalTarget();
  if (env.TEMPORAL_ADDRESS) target.connectionOptions.address = env.TEMPORAL_ADDRESS;
  const client = await retry('Temporal', () => connectClient(target), 60);
  start('source-server', process.execPath, [path.join(projectRoot, 'src', 'sourceserver', 'main.ts')], env);
  // the demo sources file points at ${ETL_SOURCE_SERVER_URL}
  env.ETL_SOURCE_SERVER_URL ??= `http://127.0.0.1:${settings.ETL_SOURCE_SERVER_PORT}`;
  await retry('source server', async () => void (await fetch(`${env.ETL_SOURCE_SERVER_URL}/_control/faults`)), 30);
  start('worker', process.execPath, [path.join(projectRoot, 'src', 'worker.ts')], env);
  start('api', process.execPath, [path.join(projectRoot, 'src', 'api', 'server.ts')], env);

  await ensureSearchAttributes(client, client.options.namespace, log);
  // the dev server keeps a closed run's history for a day unless told otherwise; a cluster of one's own is left as its operator set it
  if (!process.env.TEMPORAL_ADDRESS)
    await ensureRetention(client, client.options.namespace, durationMs(settings.ETL_DEV_TEMPORAL_RETENTION), log);
  await applySchedules(client, settings, log);
  await client.schedule.getHandle(settings.ETL_SCHEDULE_ID).trigger();
  const api = `http://${settings.HOST}:${settings.PORT}`;
  await retry(
    'API',
    async () => {
      const res = await fetch(`${api}/health`);
      if (!res.ok) throw new Error(`/health answered ${res.status}`);
    },
    60,
  );
  // the console first: it is where a newcomer starts
  log.info(
    {
      console: `${api}/`,
      api: `${api}/health  ${api}/data  ${api}/docs/`,
      sourceServer: env.ETL_SOURCE_SERVER_URL,
      temporalUi: `${settings.TEMPORAL_UI_URL}/namespaces/default/schedules/${settings.ETL_SCHEDULE_ID}`,
      temporal: env.TEMPORAL_ADDRESS,
      triggerARun: `${path.relative(process.cwd(), temporalCli) || temporalCli} schedule trigger --schedule-id ${settings.ETL_SCHEDULE_ID}`,
    },
    `make dev is up: the console is at ${api}/ ; first run triggered; Ctrl-C stops everything`,
  );
}

function start(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): void {
  // own process group: Ctrl-C reaches only this supervisor, which then stops children in order
  supervise(name, () => spawn(command, args, { env, detached: true, stdio: OUTPUT }));
}

/** Starts a child and starts it again whenever it exits, until make dev stops. */
function supervise(name: string, launch: () => ChildProcess): ChildProcess {
  const entry: Supervised = {
    name,
    launch,
    child: launch(),
    restarts: 0,
    startedAt: Date.now(),
    lastExit: null,
    quickDeaths: 0,
  };
  children.push(entry);
  attach(entry);
  return entry.child;
}

function attach(entry: Supervised): void {
  const { child, name } = entry;
  if (child.stdout) forwardAsJson(name, child.stdout, 30);
  if (child.stderr) forwardAsJson(name, child.stderr, 40);
  child.once('exit', (code, signal) => {
    if (stopping) return;
    entry.lastExit = signal ? `killed by ${signal}` : `exited with code ${code}`;
    entry.quickDeaths = Date.now() - entry.startedAt < 60_000 ? entry.quickDeaths + 1 : 0;
    const delayMs = Math.min(30_000, 1000 * 2 ** Math.max(0, entry.quickDeaths - 1));
    log.warn(
      { name, code, signal, restarts: entry.restarts, delayMs },
      `${name} ${entry.lastExit}; restarting it in ${delayMs} ms`,
    );
    writeState();
    setTimeout(() => {
      if (stopping) return;
      entry.child = entry.launch();
      entry.restarts++;
      entry.startedAt = Date.now();
      attach(entry);
      log.info({ name, pid: entry.child.pid, restarts: entry.restarts }, `${name} restarted`);
      writeState();
    }, delayMs).unref();
  });
  writeState();
}

/** What /health shows of make dev's processes (ETL_SUPERVISOR_STATE). */
function writeState(): void {
  const state = children.map((c) => ({
    name: c.name,
    pid: c.child.exitCode === null && c.child.signalCode === null ? (c.child.pid ?? null) : null,
    restarts: c.restarts,
    last_exit: c.lastExit,
    started_at: new Date(c.startedAt).toISOString(),
  }));
  fs.writeFileSync(`${stateFile}.tmp`, JSON.stringify(state));
  fs.renameSync(`${stateFile}.tmp`, stateFile);
}

/**
 * Without a terminal every output line must be JSON (log shippers parse them): a child's line that is not (the
 * Temporal CLI's banner, a Node warning) is wrapped as one, tagged with the child's name.
 */
function forwardAsJson(name: string, stream: NodeJS.ReadableStream, level: number): void {
  readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
    if (isJson(line)) process.stdout.write(`${line}\n`);
    else if (line.trim())
      process.stdout.write(`${JSON.stringify({ level, time: Date.now(), service: name, msg: line })}\n`);
  });
}

function isJson(line: string): boolean {
  if (!line.startsWith('{')) return false;
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    log.info('stopping');
    for (const { name, child } of [...children].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      child.kill('SIGTERM');
      const exited = await Promise.race([once(child, 'exit').then(() => true), sleep(15_000).then(() => false)]);
      if (!exited) {
        log.warn({ name }, `${name} did not stop in 15 s; killing it`);
        child.kill('SIGKILL');
      }
    }
  }
  process.exit(code);
}

async function retry<T>(what: string, attempt: () => Promise<T>, seconds: number): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (stopping || Date.now() > deadline)
        throw new Error(`${what} not reachable after ${seconds} s: ${(error as Error).message}`);
      await sleep(500);
    }
  }
}

async function assertPortsFree(ports: number[]): Promise<void> {
  for (const port of ports) {
    const server = net.createServer();
    const free = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (!free)
      throw new Error(
        `port ${port} on 127.0.0.1 is taken; stop what uses it (ss -ltnp 'sport = :${port}') or change the port in .env`,
      );
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
