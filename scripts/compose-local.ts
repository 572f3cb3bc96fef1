// Runs the services that docker-compose.yml describes for a profile, without Docker, from the environment the
// compose file gives each of them: so the wiring compose describes (variables, service names in URLs, commands,
// the order of depends_on, health checks, one-shot jobs) is exercised on a machine with no container engine.
//   node scripts/compose-local.ts --profile demo [--scale worker=2] [--env-file .env]
// The compose CLI (`config`, which needs no engine) resolves the file: interpolation, anchors, profiles. Then:
//   * a service built from the Dockerfile runs its command in a directory laid out as that image target's /app
//     (the files its COPY lines take, the build stage's deletions, the prebuilt workflow bundle, only the
//     packages the target installs), with the image's ENV plus the service's environment and nothing else;
//   * a service name in a URL or address (postgres:5432, temporal:7233, http://source-server:8787) becomes the
//     local address that stands for it, and a port a replica listens on (PORT, 0.0.0.0:9464) a free one;
//   * images of others are stood in for: postgres by the PostgreSQL at COMPOSE_LOCAL_POSTGRES (host:port,
//     default 127.0.0.1:5432; the compose file's user, password and database are used on it as they are),
//     temporalio/server by `temporal server start-dev` (TEMPORAL_CLI; its own SQLite store, so the schema job
//     has nothing to do and is skipped), temporalio/admin-tools jobs run their script with the local temporal
//     CLI, and the Web UI is not run (the dev server runs headless).
// It prints one JSON line per step on stdout ({"event":"healthy","service":"api"} ...), then {"event":"up",...}
// with the local address of each published port, and keeps the services running until SIGINT/SIGTERM.
// Children's output goes to stderr, each line prefixed with the service (replica) name.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { projectRoot } from '../src/settings.ts';

interface ComposeService {
  image?: string;
  build?: { context: string; target?: string };
  command?: string[] | null;
  entrypoint?: string[] | null;
  environment?: Record<string, string | null>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[]; disable?: boolean };
  ports?: { target: number; published?: string; host_ip?: string }[];
  volumes?: { type: string; source: string; target: string }[];
  restart?: string;
}
interface ComposeConfig {
  services: Record<string, ComposeService>;
}

const args = process.argv.slice(2);
const profiles = valuesOf('--profile');
const scale = new Map(
  valuesOf('--scale').map((s) => {
    const [name, n] = s.split('=');
    return [name!, Number(n)] as const;
  }),
);
const envFile = valuesOf('--env-file')[0];
const composeCli = process.env.DOCKER_COMPOSE ?? path.join(projectRoot, '.tools', 'bin', 'docker-compose');
const temporalCli = process.env.TEMPORAL_CLI ?? path.join(projectRoot, '.tools', 'bin', 'temporal');
const localPostgres = process.env.COMPOSE_LOCAL_POSTGRES ?? '127.0.0.1:5432';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-local-'));

const children: { name: string; child: ChildProcess }[] = [];
let stopping = false;

function valuesOf(flag: string): string[] {
  return args.flatMap((a, i) => (a === flag && args[i + 1] ? [args[i + 1]!] : []));
}

function emit(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
}

/** The compose file as Docker Compose resolves it for these profiles (no engine needed). */
export function resolveCompose(
  profileNames: string[],
  env: NodeJS.ProcessEnv = process.env,
  file = envFile,
): ComposeConfig {
  const result = spawnSync(
    composeCli,
    [
      ...(file ? ['--env-file', file] : []),
      '-f',
      path.join(projectRoot, 'docker-compose.yml'),
      ...profileNames.flatMap((p) => ['--profile', p]),
      'config',
      '--format',
      'json',
    ],
    { env, encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`docker compose config failed: ${result.stderr || result.error}`);
  return JSON.parse(result.stdout) as ComposeConfig;
}

// ----------------------------------------------------------------------------------------- image targets

interface Stage {
  name: string;
  lines: string[];
}

function dockerfileStages(): Stage[] {
  const text = fs.readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const stages: Stage[] = [];
  for (const line of text.split('\n')) {
    const from = /^FROM\s+\S+(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) stages.push({ name: from[1] ?? `stage${stages.length}`, lines: [] });
    else if (line.trim() && !line.trim().startsWith('#')) stages.at(-1)?.lines.push(line.trim());
  }
  return stages;
}

/** The image target's ENV. */
function imageEnv(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of stage.lines.filter((l) => /^ENV\s/i.test(l)))
    for (const m of line.slice(4).matchAll(/(\w+)=(\S+)/g)) env[m[1]!] = m[2]!;
  return env;
}

/**
 * Lays out the target's /app in `dir`: its COPY lines from the build context, and from earlier stages what those
 * stages make (the build stage's src less what it deletes, its workflow bundle; a dependency stage's packages).
 */
function stageImage(target: string, dir: string): void {
  const stages = dockerfileStages();
  const stage = stages.find((s) => s.name === target);
  if (!stage) throw new Error(`the Dockerfile has no target ${target}`);
  fs.mkdirSync(dir, { recursive: true });
  const modules = path.join(dir, 'node_modules');
  for (const line of stage.lines.filter((l) => /^COPY\s/i.test(l))) {
    const words = line.split(/\s+/).slice(1);
    const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
    const paths = words.filter((w) => !w.startsWith('--'));
    const destWord = paths.pop()!;
    const dest = path.resolve(dir, destWord);
    if (!from) {
      // as Docker: a destination ending in / (or several sources) is a folder to copy into
      const intoFolder = paths.length > 1 || destWord.endsWith('/');
      for (const source of paths)
        fs.cpSync(path.join(projectRoot, source), intoFolder ? path.join(dest, path.basename(source)) : dest, {
          recursive: true,
        });
      continue;
    }
    const source = stages.find((s) => s.name === from);
    if (!source) throw new Error(`COPY --from=${from}: no such stage`);
    const what = path.relative('/app', paths[0]!);
    const runs = source.lines.filter((l) => /^RUN\s/i.test(l)).join(' && ');
    if (what === 'node_modules') {
      fs.mkdirSync(modules, { recursive: true });
      const named = [...runs.matchAll(/"([@\w./-]+)@\$\(/g)].map((m) => m[1]!);
      // a stage that installs named packages: only those are visible to the code; `npm ci`: the project's own
      if (named.length === 0) {
        fs.rmSync(modules, { recursive: true, force: true });
        fs.symlinkSync(path.join(projectRoot, 'node_modules'), modules);
      } else {
        for (const pkg of named) {
          fs.mkdirSync(path.dirname(path.join(modules, pkg)), { recursive: true });
          fs.symlinkSync(path.join(projectRoot, 'node_modules', pkg), path.join(modules, pkg));
        }
      }
    } else if (what === 'src') {
      fs.cpSync(path.join(projectRoot, 'src'), path.join(dir, 'src'), { recursive: true });
      for (const m of runs.matchAll(/rm -rf ([^&]+)/g))
        for (const gone of m[1]!.trim().split(/\s+/)) fs.rmSync(path.join(dir, gone), { recursive: true, force: true });
    } else if (what === 'dist') {
      const bundle = /node (\S+) > (\S+)/.exec(runs);
      if (!bundle) throw new Error(`stage ${from} builds no bundle this script recognizes`);
      fs.mkdirSync(path.join(dir, path.dirname(bundle[2]!)), { recursive: true });
      const out = fs.openSync(path.join(dir, bundle[2]!), 'w');
      const built = spawnSync(process.execPath, [path.join(dir, bundle[1]!)], {
        cwd: dir,
        stdio: ['ignore', out, 'pipe'],
        encoding: 'utf8',
      });
      fs.closeSync(out);
      if (built.status !== 0)
        throw new Error(`building the workflow bundle failed (${built.status ?? built.signal}): ${built.stderr}`);
    } else {
      throw new Error(`COPY --from=${from} ${paths[0]}: not something this script lays out`);
    }
  }
}

// ----------------------------------------------------------------------------------------- addresses

const localPorts = new Map<string, number>();
/** Local address of `service`'s port `port`; the same pair always gets the same port. */
async function localPort(owner: string, port: number): Promise<number> {
  const key = `${owner}:${port}`;
  if (!localPorts.has(key)) localPorts.set(key, await freePort());
  return localPorts.get(key)!;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** What a container's environment says, as the local process must hear it. */
async function localEnvironment(
  config: ComposeConfig,
  self: string,
  env: Record<string, string | null>,
  appDir: string,
): Promise<Record<string, string>> {
  const names = Object.keys(config.services);
  // host ports compose publishes: a link to localhost:<published> is a link to that service's port
  const published = new Map<number, { service: string; target: number }>();
  for (const [service, s] of Object.entries(config.services))
    for (const p of s.ports ?? []) if (p.published) published.set(Number(p.published), { service, target: p.target });
  const out: Record<string, string> = {};
  for (const [key, raw] of Object.entries(env)) {
    if (raw === null || raw === undefined) continue;
    let value = raw;
    if (key === 'HOST' && value === '0.0.0.0') value = '127.0.0.1';
    else if (/(^|_)PORT$/.test(key) && /^\d+$/.test(value)) value = String(await localPort(self, Number(value)));
    else {
      value = await replaceAsync(value, /(?<=^|[/@])([\w.-]+):(\d+)/g, async (match, host: string, port: string) => {
        const n = Number(port);
        if (names.includes(host)) return `127.0.0.1:${await localPort(host, n)}`;
        if (['0.0.0.0', '127.0.0.1', 'localhost'].includes(host)) {
          const hostPort = published.get(n);
          if (hostPort && hostPort.service !== self)
            return `127.0.0.1:${await localPort(hostPort.service, hostPort.target)}`;
          return `127.0.0.1:${await localPort(self, n)}`;
        }
        return match;
      });
      value = value.replace(/(^|[\s=])\/app(?=\/|$)/g, `$1${appDir}`);
    }
    out[key] = value;
  }
  return out;
}

async function replaceAsync(
  text: string,
  pattern: RegExp,
  fn: (match: string, ...groups: string[]) => Promise<string>,
): Promise<string> {
  const parts: string[] = [];
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    parts.push(text.slice(last, m.index), await fn(m[0], ...(m.slice(1) as string[])));
    last = m.index! + m[0].length;
  }
  parts.push(text.slice(last));
  return parts.join('');
}

// ----------------------------------------------------------------------------------------- running

type Kind = 'image' | 'postgres' | 'temporal' | 'schema' | 'admin-tools' | 'ui';

function kindOf(s: ComposeService): Kind {
  if (s.build) return 'image';
  const image = s.image ?? '';
  if (/^postgres:/.test(image)) return 'postgres';
  if (/^temporalio\/server:/.test(image)) return 'temporal';
  if (/^temporalio\/ui:/.test(image)) return 'ui';
  if (/^temporalio\/admin-tools:/.test(image))
    return (s.command ?? []).some((c) => c.includes('setup-schema')) ? 'schema' : 'admin-tools';
  throw new Error(`no local stand-in for image ${image}`);
}

function launch(name: string, command: string, commandArgs: string[], cwd: string, env: Record<string, string>) {
  const child = spawn(command, commandArgs, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  for (const stream of [child.stdout, child.stderr])
    readline.createInterface({ input: stream }).on('line', (line) => process.stderr.write(`${name} | ${line}\n`));
  children.push({ name, child });
  child.once('exit', (code, signal) => {
    emit('exited', { service: name, code, signal });
  });
  return child;
}

async function waitUntil(what: string, probe: () => Promise<boolean>, seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!(await probe())) {
    if (stopping) throw new Error('stopping');
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${seconds} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function exitCode(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return once(child, 'exit').then(([code]) => code as number | null);
}

interface Started {
  healthy: () => Promise<boolean>;
  completed?: Promise<number | null>;
}

async function main(): Promise<void> {
  const config = resolveCompose(profiles);
  const stageDirs = new Map<string, string>();
  const started = new Map<string, Started>();
  const basePath = `${path.dirname(process.execPath)}:${path.dirname(temporalCli)}:/usr/bin:/bin`;
  const [pgHost, pgPort] = localPostgres.split(':') as [string, string];

  const order = topological(config);
  for (const name of order) {
    const service = config.services[name]!;
    for (const [dep, { condition }] of Object.entries(service.depends_on ?? {})) {
      const other = started.get(dep)!;
      if (condition === 'service_healthy') await waitUntil(`${dep} healthy`, other.healthy, 120);
      if (condition === 'service_completed_successfully') {
        const code = await other.completed;
        if (code !== 0) throw new Error(`${dep} exited with ${code}; ${name} depends on its success`);
      }
    }
    const kind = kindOf(service);
    if (kind === 'postgres') {
      localPorts.set(`${name}:5432`, Number(pgPort));
      started.set(name, { healthy: () => tcpOpen(Number(pgPort)) });
      emit('stand-in', { service: name, as: `the PostgreSQL at ${pgHost}:${pgPort}` });
    } else if (kind === 'temporal') {
      const port = await localPort(name, 7233);
      const child = launch(
        name,
        temporalCli,
        [
          'server',
          'start-dev',
          '--headless',
          '--ip',
          '127.0.0.1',
          '--port',
          String(port),
          '--db-filename',
          path.join(work, 'temporal.sqlite'),
          '--log-level',
          'warn',
        ],
        work,
        { PATH: basePath, HOME: work },
      );
      started.set(name, {
        healthy: async () =>
          child.exitCode === null &&
          spawnSync(temporalCli, ['operator', 'cluster', 'health', '--address', `127.0.0.1:${port}`]).status === 0,
      });
      emit('stand-in', { service: name, as: `temporal server start-dev on 127.0.0.1:${port}` });
    } else if (kind === 'schema' || kind === 'ui') {
      started.set(name, { healthy: async () => true, completed: Promise.resolve(0) });
      emit('skipped', {
        service: name,
        why: kind === 'schema' ? 'the dev server keeps its own schema' : 'the dev server runs headless',
      });
    } else {
      const replicas = kind === 'image' ? (scale.get(name) ?? 1) : 1;
      const runs: Started[] = [];
      for (let i = 1; i <= replicas; i++) {
        const replica = replicas > 1 ? `${name}-${i}` : name;
        let cwd: string;
        let env: Record<string, string>;
        let command: string[];
        if (kind === 'image') {
          const target = service.build!.target ?? dockerfileStages().at(-1)!.name;
          if (!stageDirs.has(target)) {
            stageDirs.set(target, path.join(work, 'images', target));
            stageImage(target, stageDirs.get(target)!);
            emit('image', { target, dir: stageDirs.get(target) });
          }
          cwd = stageDirs.get(target)!;
          const stage = dockerfileStages().find((s) => s.name === target)!;
          env = await localEnvironment(config, replica, { ...imageEnv(stage), ...(service.environment ?? {}) }, cwd);
          const cmd = stage.lines.filter((l) => /^CMD\s/.test(l)).at(-1);
          command = service.command ?? (cmd ? (JSON.parse(cmd.slice(4)) as string[]) : []);
        } else {
          // an admin-tools job: its script from the mounted folder, with the local temporal CLI
          cwd = work;
          env = await localEnvironment(config, replica, service.environment ?? {}, cwd);
          command = [...(service.entrypoint ?? []), ...(service.command ?? [])].map((word) => {
            const mount = (service.volumes ?? []).find((v) => word.startsWith(`${v.target}/`));
            return mount ? path.join(mount.source, word.slice(mount.target.length)) : word;
          });
          if (command[0] === '/bin/sh') command[0] = 'sh';
        }
        env = { PATH: basePath, HOME: work, ...env };
        const child = launch(replica, command[0]!, command.slice(1), cwd, env);
        const check = service.healthcheck;
        const test = check && !check.disable ? check.test : undefined;
        runs.push({
          completed: exitCode(child),
          healthy: async () => {
            // a service that should keep running and exited will not become healthy: say so now
            if (child.exitCode !== null || child.signalCode !== null)
              throw new Error(`${replica} exited (${child.exitCode ?? child.signalCode}) before it was healthy`);
            if (test?.[0] !== 'CMD') return true;
            const probe = spawnSync(test[1]!, test.slice(2), { cwd, env, timeout: 5000 });
            return probe.status === 0;
          },
        });
        emit('started', { service: replica, command: command.join(' ') });
      }
      started.set(name, {
        healthy: async () => (await Promise.all(runs.map((r) => r.healthy()))).every(Boolean),
        completed: Promise.all(runs.map((r) => r.completed)).then((codes) => codes.find((c) => c !== 0) ?? 0),
      });
    }
  }
  // up: every long-running service healthy (as `docker compose up --wait`), every one-shot done
  for (const name of order) {
    const service = config.services[name]!;
    const s = started.get(name)!;
    if (service.restart === 'no' || kindOf(service) === 'schema' || kindOf(service) === 'admin-tools') {
      const code = await s.completed;
      if (code !== 0) throw new Error(`${name} exited with ${code}`);
      emit('completed', { service: name });
    } else {
      await waitUntil(`${name} healthy`, s.healthy, 120);
      emit('healthy', { service: name });
    }
  }
  const ports: Record<string, string> = {};
  for (const [name, s] of Object.entries(config.services))
    for (const p of s.ports ?? [])
      if (localPorts.has(`${name}:${p.target}`)) ports[name] = `127.0.0.1:${localPorts.get(`${name}:${p.target}`)}`;
  emit('up', { ports });
}

function topological(config: ComposeConfig): string[] {
  const order: string[] = [];
  const visit = (name: string, trail: string[]) => {
    if (order.includes(name)) return;
    if (trail.includes(name)) throw new Error(`depends_on cycle: ${[...trail, name].join(' -> ')}`);
    for (const dep of Object.keys(config.services[name]?.depends_on ?? {})) visit(dep, [...trail, name]);
    order.push(name);
  };
  for (const name of Object.keys(config.services).sort()) visit(name, []);
  return order;
}

async function stopAll(code: number): Promise<never> {
  stopping = true;
  // dependents first, as compose stops them
  for (const { child } of [...children].reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.kill('SIGTERM');
    const exited = await Promise.race([
      once(child, 'exit').then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 15_000)),
    ]);
    if (!exited) child.kill('SIGKILL');
  }
  fs.rmSync(work, { recursive: true, force: true });
  process.exit(code);
}

if (import.meta.main) {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stopAll(0));
  try {
    await main();
  } catch (error) {
    emit('failed', { error: (error as Error).message });
    await stopAll(1);
  }
}
