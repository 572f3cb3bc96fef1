// docker-compose.yml checked by the real Docker Compose v2 loader (`config`, which needs no Docker engine) for
// every profile, the wiring between its services (URLs of the sources files against the services of the profile,
// one-shot jobs, health checks, versions), the Dockerfile by hadolint, and the CI job that runs it for real.
// scripts/compose-local.ts runs the demo profile's services without Docker (compose-local.test.ts).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { loadSourcesConfig } from '../../src/sources/config.ts';
import { projectRoot } from '../../src/settings.ts';
import { temporalCli } from '../helpers.ts';

const run = promisify(execFile);

interface Service {
  image?: string;
  build?: { target?: string };
  init?: boolean;
  restart?: string;
  container_name?: string;
  environment?: Record<string, string | null>;
  healthcheck?: { test?: string[]; disable?: boolean };
  depends_on?: Record<string, { condition: string }>;
  ports?: { target: number; published?: string; host_ip?: string }[];
}
type Services = Record<string, Service>;

function composeCli(): string {
  const cli = process.env.DOCKER_COMPOSE ?? path.join(projectRoot, '.tools', 'bin', 'docker-compose');
  if (!fs.existsSync(cli))
    throw new Error(`no docker-compose at ${cli}: run the tests with 'make test', which installs it`);
  return cli;
}

// --env-file /dev/null: a developer's own .env must not change what the test sees
const compose = (env: Record<string, string>, ...args: string[]) =>
  run(composeCli(), ['--env-file', '/dev/null', '-f', path.join(projectRoot, 'docker-compose.yml'), ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
  });

const PASSWORD = 'p@ss/w:rd#1 ?';

async function servicesOf(profile: string | null, env: Record<string, string> = {}): Promise<Services> {
  const { stdout } = await compose(
    { POSTGRES_PASSWORD: PASSWORD, ...env },
    ...(profile ? ['--profile', profile] : []),
    'config',
    '--format',
    'json',
  );
  return (JSON.parse(stdout) as { services: Services }).services;
}

const isOneShot = (s: Service) => s.restart === 'no' || /^on-failure/.test(s.restart ?? '');

/** Ports a service listens on inside its container: those it publishes, and those its environment names. */
function listensOn(s: Service): number[] {
  const fromEnv = Object.entries(s.environment ?? {}).flatMap(([key, value]) =>
    /(^|_)PORT$/.test(key) && /^\d+$/.test(value ?? '') ? [Number(value)] : [],
  );
  return [...(s.ports ?? []).map((p) => p.target), ...fromEnv];
}

/**
 * What is wrong with the URLs of the sources file each service reads, seen from inside its container: a
 * service name the profile does not have (or not on that port), or a loopback address (the container itself).
 */
function sourceUrlProblems(services: Services, readers: Services = services): string[] {
  const problems: string[] = [];
  for (const [name, service] of Object.entries(readers)) {
    const env = Object.fromEntries(
      Object.entries(service.environment ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string'),
    );
    if (!env.ETL_SOURCES_FILE) continue;
    const file = env.ETL_SOURCES_FILE.replace(/^\/app\//, `${projectRoot}/`);
    for (const source of loadSourcesConfig(file, env)) {
      if (!/^https?:\/\//.test(source.url)) continue;
      const url = new URL(source.url);
      const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
      if (['localhost', '127.0.0.1', '0.0.0.0', '[::1]'].includes(url.hostname))
        problems.push(`${name}: ${source.id} fetches ${url.host}, which inside a container is the container itself`);
      else if (!url.hostname.includes('.')) {
        const target = services[url.hostname];
        if (!target) problems.push(`${name}: ${source.id} names service ${url.hostname}, which this profile lacks`);
        else if (!listensOn(target).includes(port))
          problems.push(`${name}: ${source.id} expects ${url.hostname} on port ${port}, which it does not listen on`);
      }
    }
  }
  return problems;
}

describe('docker-compose.yml (validated by Docker Compose v2, every profile)', () => {
  let byProfile: Record<'none' | 'demo' | 'live', Services>;
  before(async () => {
    const [none, demo, live] = await Promise.all([servicesOf(null), servicesOf('demo'), servicesOf('live')]);
    byProfile = { none, demo, live };
  });

  it('gives each profile its services: the infrastructure always, the pipeline for demo (with the source server) or live', () => {
    const infrastructure = ['migrate', 'postgres', 'temporal', 'temporal-namespace', 'temporal-schema', 'temporal-ui'];
    assert.deepEqual(Object.keys(byProfile.none).sort(), infrastructure);
    assert.deepEqual(
      Object.keys(byProfile.demo).sort(),
      [...infrastructure, 'api', 'schedule', 'source-server', 'worker'].sort(),
    );
    assert.deepEqual(
      Object.keys(byProfile.live).sort(),
      [...infrastructure, 'api-live', 'schedule-live', 'worker-live'].sort(),
    );
  });

  it('every source URL names a service of the profile that reads it, on a port it listens on', () => {
    for (const profile of ['demo', 'live'] as const) {
      const services = byProfile[profile];
      assert.ok(
        Object.values(services).some((s) => s.environment?.ETL_SOURCES_FILE),
        `${profile} has services that read a sources file`,
      );
      assert.deepEqual(sourceUrlProblems(services), [], profile);
    }
    // the check bites: the demo workers without the demo profile's source server
    const { 'source-server': _gone, ...withoutServer } = byProfile.demo;
    assert.deepEqual(sourceUrlProblems(withoutServer, { worker: byProfile.demo.worker! }), [
      'worker: coinpaprika names service source-server, which this profile lacks',
      'worker: coingecko names service source-server, which this profile lacks',
      'worker: csv-quirky names service source-server, which this profile lacks',
      'worker: rss-news names service source-server, which this profile lacks',
    ]);
    assert.equal(byProfile.live['worker-live']!.environment!.ETL_SOURCES_FILE, '/app/config/sources.live.yaml');
  });

  it('wires startup in order: one-shot jobs adopted by a long-running service (so `up --wait` succeeds), health checks, init', () => {
    for (const profile of ['demo', 'live'] as const) {
      const services = byProfile[profile];
      for (const [name, s] of Object.entries(services)) {
        if (isOneShot(s)) {
          const adopters = Object.entries(services).filter(
            ([, other]) =>
              !isOneShot(other) && other.depends_on?.[name]?.condition === 'service_completed_successfully',
          );
          assert.ok(adopters.length, `${profile}: a long-running service waits for the one-shot ${name}`);
        } else {
          const check = s.healthcheck;
          assert.ok(check && !check.disable && check.test?.length, `${profile}: ${name} has a health check`);
        }
        if (s.build) assert.equal(s.init, true, `${profile}: ${name} runs with an init (signals, zombies)`);
      }
      for (const [name, s] of Object.entries(services))
        for (const [dep, { condition }] of Object.entries(s.depends_on ?? {}))
          if (condition === 'service_healthy')
            assert.ok(!isOneShot(services[dep]!), `${name} waits for ${dep} to be healthy, which a one-shot never is`);
    }
    const demo = byProfile.demo;
    assert.equal(demo.temporal!.depends_on!['temporal-schema']!.condition, 'service_completed_successfully');
    assert.equal(demo.worker!.depends_on!['source-server']!.condition, 'service_healthy');
    assert.deepEqual(demo.schedule!.depends_on && Object.keys(demo.schedule!.depends_on).sort(), [
      'migrate',
      'temporal-namespace',
    ]);
    // `docker compose up --scale worker=3`: no fixed container name, no host port
    for (const worker of [demo.worker!, byProfile.live['worker-live']!]) {
      assert.equal(worker.container_name, undefined);
      assert.deepEqual(worker.ports ?? [], []);
    }
  });

  it('the schedule job applies the schedules and triggers a first run; the namespace job sets the retention', async () => {
    assert.deepEqual((byProfile.demo.schedule as { command?: string[] }).command, [
      'node',
      'src/schedule.ts',
      '--trigger',
    ]);
    assert.equal(byProfile.demo['temporal-namespace']!.environment!.TEMPORAL_RETENTION, '30d');
    const custom = await servicesOf('demo', { TEMPORAL_RETENTION: '90d' });
    assert.equal(custom['temporal-namespace']!.environment!.TEMPORAL_RETENTION, '90d');
  });

  it('runs the Temporal server, admin tools and UI versions that make dev runs', async () => {
    const { stdout } = await run(temporalCli(), ['--version']);
    const m = /Server ([\d.]+), UI ([\d.]+)/.exec(stdout);
    assert.ok(m, stdout);
    const images = Object.values(byProfile.demo).map((s) => s.image ?? '');
    assert.ok(images.includes(`temporalio/server:${m[1]}`), images.join(' '));
    assert.ok(images.includes(`temporalio/admin-tools:${m[1]}`), images.join(' '));
    assert.ok(images.includes(`temporalio/ui:${m[2]}`), images.join(' '));
    assert.ok(!images.some((i) => i.startsWith('temporalio/auto-setup')), 'auto-setup is deprecated');
  });

  it('hands the database password to the services as a variable, never inside a URL', () => {
    for (const [name, s] of Object.entries(byProfile.demo)) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (!value?.includes(PASSWORD.slice(0, 4))) continue;
        assert.ok(
          ['PGPASSWORD', 'POSTGRES_PASSWORD', 'POSTGRES_PWD', 'SQL_PASSWORD'].includes(key) && value === PASSWORD,
          `${name}.${key} carries the password`,
        );
      }
      const url = s.environment?.DATABASE_URL;
      if (url) {
        assert.equal(new URL(url).password, '', `${name}: DATABASE_URL has no password`);
        assert.equal(s.environment!.PGPASSWORD, PASSWORD, `${name}: PGPASSWORD`);
      }
    }
  });

  it('passes COINGECKO_API_KEY from the environment to the live services only', async () => {
    const live = await servicesOf('live', { COINGECKO_API_KEY: 'cg-test-key' });
    for (const name of ['worker-live', 'api-live', 'schedule-live'])
      assert.equal(live[name]!.environment!.COINGECKO_API_KEY, 'cg-test-key', name);
    assert.equal(byProfile.demo.worker!.environment!.COINGECKO_API_KEY, undefined);
  });

  it('has no built-in secret: without POSTGRES_PASSWORD it refuses to start and says what to set', async () => {
    await assert.rejects(compose({}, 'config', '--quiet'), (error: Error & { stderr: string }) => {
      assert.match(error.stderr, /POSTGRES_PASSWORD is missing a value: set POSTGRES_PASSWORD in \.env/);
      return true;
    });
  });

  it('.env.example runs the demo profile by default (COMPOSE_PROFILES) and names every variable compose reads', () => {
    const example = fs.readFileSync(path.join(projectRoot, '.env.example'), 'utf8');
    assert.match(example, /^COMPOSE_PROFILES=demo$/m);
    const composeText = fs.readFileSync(path.join(projectRoot, 'docker-compose.yml'), 'utf8');
    const variables = new Set([...composeText.matchAll(/\$\{(\w+)/g)].map((m) => m[1]!));
    const missing = [...variables].filter((v) => !new RegExp(`^#? ?${v}=`, 'm').test(example));
    assert.deepEqual(missing, [], 'variables of docker-compose.yml that .env.example does not describe');
  });
});

describe('Dockerfile (linted by hadolint) and the images it builds', () => {
  it('passes hadolint with no warning', async () => {
    const hadolint = process.env.HADOLINT ?? path.join(projectRoot, '.tools', 'bin', 'hadolint');
    if (!fs.existsSync(hadolint))
      throw new Error(`no hadolint at ${hadolint}: run the tests with 'make test', which installs it`);
    const { stdout } = await run(hadolint, [
      '--no-color',
      '--failure-threshold',
      'warning',
      path.join(projectRoot, 'Dockerfile'),
    ]).catch((error: { stdout: string }) => ({ stdout: error.stdout }));
    assert.equal(stdout.trim(), '', 'hadolint findings');
  });

  it('builds the runtime and the source-server targets non-root, with a health check, runtime last (the default)', () => {
    const text = fs.readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8');
    const stages = text.split(/^FROM /m).slice(1);
    const stage = (name: string) => stages.find((s) => new RegExp(`^\\S+ AS ${name}\\n`).test(s)) ?? '';
    for (const name of ['runtime', 'source-server']) {
      assert.match(stage(name), /^USER node$/m, `${name} runs as node`);
      assert.match(stage(name), /^HEALTHCHECK /m, `${name} has a HEALTHCHECK`);
    }
    assert.match(stages.at(-1)!, /^\S+ AS runtime\n/);
    assert.match(stage('runtime'), /ETL_WORKFLOW_BUNDLE=\/app\/dist\/workflows\.js/);
    assert.match(stage('deps'), /npm ci --omit=dev/);
  });
});

describe('the runtime image carries what production runs', () => {
  /** The files the runtime target takes (src less what its build stage deletes, scripts/migrate.ts). */
  function runtimeFiles(): { files: string[]; removed: string[] } {
    const dockerfile = fs.readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
    const removed = (/rm -rf ([^&\n]+)/.exec(dockerfile)?.[1] ?? '').trim().split(/\s+/);
    const gone = (f: string) => removed.some((r) => f === r || f.startsWith(`${r}/`));
    const files = (fs.readdirSync(path.join(projectRoot, 'src'), { recursive: true }) as string[])
      .map((f) => `src/${f}`)
      .filter((f) => f.endsWith('.ts') && !gone(f));
    return { files: [...files, 'scripts/migrate.ts'], removed };
  }

  it('without the demo source server and the embedded-PostgreSQL helper, importing only production dependencies', () => {
    const { files, removed } = runtimeFiles();
    assert.ok(
      removed.includes('src/sourceserver') && removed.includes('src/db/embedded-postgres.ts'),
      removed.join(' '),
    );
    const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const problems: string[] = [];
    for (const file of files) {
      const text = fs.readFileSync(path.join(projectRoot, file), 'utf8');
      // static imports that are not type-only: what loads when the module loads
      for (const m of text.matchAll(/^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm)) {
        const spec = m[1]!;
        if (spec.startsWith('node:')) continue;
        if (spec.startsWith('.')) {
          const target = path.relative(projectRoot, path.resolve(path.dirname(path.join(projectRoot, file)), spec));
          if (!files.includes(target)) problems.push(`${file} imports ${spec}, which the image leaves out`);
          continue;
        }
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (!(name in pkg.dependencies)) problems.push(`${file} imports ${name}, not a production dependency`);
      }
    }
    assert.deepEqual(problems, []);
  });
});

describe('.github/workflows/ci.yml', () => {
  it('has a job that starts the demo profile with a real engine, waits for it and smoke-tests it', () => {
    const ci = parse(fs.readFileSync(path.join(projectRoot, '.github', 'workflows', 'ci.yml'), 'utf8')) as {
      jobs: Record<string, { steps: { run?: string }[] }>;
    };
    const runs = Object.values(ci.jobs).flatMap((j) => j.steps.map((s) => s.run ?? ''));
    assert.ok(
      runs.some((r) => /docker compose --profile demo up .*--wait/.test(r)),
      'docker compose --profile demo up --wait',
    );
    assert.ok(
      runs.some((r) => r.includes('scripts/compose-smoke.sh')),
      'the smoke checks',
    );
    assert.ok(fs.existsSync(path.join(projectRoot, 'scripts', 'compose-smoke.sh')));
  });
});
