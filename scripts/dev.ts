// `make dev`: the whole pipeline on one machine with embedded defaults. Starts PostgreSQL (embedded,
// unless DATABASE_URL is set), migrates, starts the Temporal dev server with its Web UI (unless
// TEMPORAL_ADDRESS is set), the local source server with the demo payloads, the worker and the API,
// applies the `etl-ingest` schedule, triggers a first run and prints the URLs. Ctrl-C stops every child
// it started, API first and PostgreSQL last.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { migrate, openDatabase } from '../src/db/orm.ts';
import { createLogger } from '../src/logger.ts';
import { loadSettings, projectRoot } from '../src/settings.ts';
import { connectClient, temporalTarget } from '../src/temporal/connection.ts';
import { applySchedules } from '../src/temporal/schedule.ts';
import { DEV_SERVER_SEARCH_ATTRIBUTE_ARGS, ensureSearchAttributes } from '../src/temporal/search-attributes.ts';

const settings = loadSettings();
const log = createLogger('dev', settings.LOG_LEVEL);
const children: { name: string; child: ChildProcess }[] = [];
// on a terminal children write to it directly (pretty logs); otherwise through forwardAsJson
const OUTPUT: ['ignore', 'inherit' | 'pipe', 'inherit' | 'pipe'] = process.stdout.isTTY ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'];
let stopping = false;

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stopAll(0));
process.on('exit', () => children.forEach(({ child }) => child.exitCode === null && child.kill('SIGKILL')));

try {
  await main();
} catch (error) {
  log.error({ err: error }, 'make dev could not start');
  await stopAll(1);
}

async function main(): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  const temporalCli = process.env.TEMPORAL_CLI ?? path.join(projectRoot, '.tools', 'bin', 'temporal');
  const uiPort = Number(new URL(settings.TEMPORAL_UI_URL).port || 8233);

  await assertPortsFree([
    settings.PORT,
    settings.ETL_SOURCE_SERVER_PORT,
    ...(process.env.TEMPORAL_ADDRESS ? [] : [settings.ETL_DEV_TEMPORAL_PORT, uiPort]),
    ...(process.env.DATABASE_URL ? [] : [settings.ETL_EMBEDDED_PG_PORT]),
  ]);

  if (!env.DATABASE_URL) {
    const pg = watch('postgres', fork(path.join(projectRoot, 'scripts', 'postgres.ts'), { env, detached: true, stdio: [...OUTPUT, 'ipc'] }));
    const [message] = (await Promise.race([once(pg, 'message'), once(pg, 'exit').then(() => { throw new Error('embedded PostgreSQL exited during start'); })])) as [{ url: string }];
    env.DATABASE_URL = message.url;
    pg.disconnect();
  }
  const db = await openDatabase(env.DATABASE_URL!);
  const applied = await migrate(db).finally(() => db.close());
  log.info({ applied }, applied.length ? 'migrations applied' : 'database schema is up to date');

  if (!process.env.TEMPORAL_ADDRESS) {
    const stateDir = path.join(settings.ETL_DATA_DIR, 'temporal');
    fs.mkdirSync(stateDir, { recursive: true });
    start('temporal', temporalCli, [
      'server', 'start-dev', '--ip', '127.0.0.1', '--port', String(settings.ETL_DEV_TEMPORAL_PORT), '--ui-port', String(uiPort),
      '--db-filename', path.join(stateDir, 'dev.sqlite'), '--log-format', 'json', '--log-level', 'warn',
      ...DEV_SERVER_SEARCH_ATTRIBUTE_ARGS,
    ], env);
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
  await applySchedules(client, settings, log);
  await client.schedule.getHandle(settings.ETL_SCHEDULE_ID).trigger();
  const api = `http://${settings.HOST}:${settings.PORT}`;
  await retry('API', async () => {
    const res = await fetch(`${api}/health`);
    if (!res.ok) throw new Error(`/health answered ${res.status}`);
  }, 60);
  log.info(
    {
      api: `${api}/health  ${api}/data`,
      sourceServer: env.ETL_SOURCE_SERVER_URL,
      temporalUi: `${settings.TEMPORAL_UI_URL}/namespaces/default/schedules/${settings.ETL_SCHEDULE_ID}`,
      temporal: env.TEMPORAL_ADDRESS,
      triggerARun: `${path.relative(process.cwd(), temporalCli) || temporalCli} schedule trigger --schedule-id ${settings.ETL_SCHEDULE_ID}`,
    },
    'make dev is up; first run triggered; Ctrl-C stops everything',
  );
}

function start(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): void {
  // own process group: Ctrl-C reaches only this supervisor, which then stops children in order
  watch(name, spawn(command, args, { env, detached: true, stdio: OUTPUT }));
}

function watch(name: string, child: ChildProcess): ChildProcess {
  children.push({ name, child });
  if (child.stdout) forwardAsJson(name, child.stdout, 30);
  if (child.stderr) forwardAsJson(name, child.stderr, 40);
  child.on('exit', (code, signal) => {
    if (stopping) return;
    log.error({ name, code, signal }, `${name} exited; stopping make dev`);
    void stopAll(1);
  });
  return child;
}

/**
 * Without a terminal every output line must be JSON (log shippers parse them): a child's line that is not (the
 * Temporal CLI's banner, a Node warning) is wrapped as one, tagged with the child's name.
 */
function forwardAsJson(name: string, stream: NodeJS.ReadableStream, level: number): void {
  readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
    if (isJson(line)) process.stdout.write(line + '\n');
    else if (line.trim()) process.stdout.write(JSON.stringify({ level, time: Date.now(), service: name, msg: line }) + '\n');
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
      if (stopping || Date.now() > deadline) throw new Error(`${what} not reachable after ${seconds} s: ${(error as Error).message}`);
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
    if (!free) throw new Error(`port ${port} on 127.0.0.1 is taken; stop what uses it (ss -ltnp 'sport = :${port}') or change the port in .env`);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
