// The demo profile of docker-compose.yml, run without Docker by scripts/compose-local.ts from the environment the
// compose file gives each service: the ETL image's files laid out as its Dockerfile target (prebuilt workflow
// bundle, no source server, no embedded PostgreSQL), the source server from its own target, the migrate,
// namespace and schedule jobs, against a local Temporal dev server and the test PostgreSQL. The schedule job's
// first run must complete with every demo source reached by its compose service URL (http://source-server:8787).
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import readline from 'node:readline';
import { promisify } from 'node:util';
import type { Database } from '../../src/db/orm.ts';
import { loadSourcesConfig } from '../../src/sources/config.ts';
import { projectRoot } from '../../src/settings.ts';
import { fetchJson, temporalCli, testDatabase, truncateAll, waitFor } from '../helpers.ts';

interface Event {
  event: string;
  service?: string;
  error?: string;
  ports?: Record<string, string>;
  command?: string;
}

const ROLE = 'compose_local';
const PASSWORD = 'p@ss/w:rd#1';

describe('docker-compose.yml --profile demo, run without Docker (scripts/compose-local.ts)', () => {
  let runner: ChildProcess | undefined;
  const events: Event[] = [];
  let logs = '';
  let api: string;

  before(async function () {
    this.timeout(150_000);
    const db: Database = await testDatabase();
    try {
      await truncateAll(db);
      // a role of its own whose password a URL would have to encode: the services must log in with it as
      // PGPASSWORD, whether the test database checks passwords (the embedded one) or trusts local logins
      const exists = await db.pool.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [ROLE]);
      await db.pool.query(
        `${exists.rowCount ? 'ALTER' : 'CREATE'} ROLE ${ROLE} LOGIN SUPERUSER PASSWORD '${PASSWORD}'`,
      );
    } finally {
      await db.close();
    }
    const pg = new URL(process.env.TEST_DATABASE_URL!);
    runner = spawn(
      path.join(projectRoot, 'node_modules', '.bin', 'node'),
      [path.join(projectRoot, 'scripts', 'compose-local.ts'), '--env-file', '/dev/null', '--profile', 'demo'],
      {
        cwd: projectRoot,
        stdio: ['ignore', 'pipe', 'pipe'],
        // only what a developer's .env would say (the compose file's variables), and where the tools are
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '/tmp',
          DOCKER_COMPOSE: process.env.DOCKER_COMPOSE ?? path.join(projectRoot, '.tools', 'bin', 'docker-compose'),
          TEMPORAL_CLI: temporalCli(),
          COMPOSE_LOCAL_POSTGRES: `${pg.hostname}:${pg.port || 5432}`,
          POSTGRES_USER: ROLE,
          POSTGRES_DB: pg.pathname.slice(1),
          POSTGRES_PASSWORD: PASSWORD,
          LOG_LEVEL: 'warn',
        },
      },
    );
    runner.stderr!.on('data', (chunk: Buffer) => {
      logs = (logs + chunk.toString()).slice(-20_000);
    });
    const lines = readline.createInterface({ input: runner.stdout! });
    const up = new Promise<Event>((resolve, reject) => {
      lines.on('line', (line) => {
        const event = JSON.parse(line) as Event;
        events.push(event);
        if (event.event === 'up') resolve(event);
        if (event.event === 'failed') reject(new Error(`compose-local failed: ${event.error}\n${logs}`));
      });
      runner!.once('exit', (code) => reject(new Error(`compose-local exited with ${code}\n${logs}`)));
    });
    const ready = await up;
    api = `http://${ready.ports!.api}`;
  });
  after(async function () {
    this.timeout(60_000);
    if (runner && runner.exitCode === null) {
      runner.kill('SIGTERM');
      await once(runner, 'exit');
    }
  });

  it('brings the services up in the order depends_on gives, with the one-shot jobs done', () => {
    const at = (event: string, service: string) => events.findIndex((e) => e.event === event && e.service === service);
    for (const job of ['migrate', 'temporal-namespace', 'schedule'])
      assert.ok(at('completed', job) >= 0, `${job} done`);
    for (const service of ['api', 'worker', 'source-server'])
      assert.ok(at('healthy', service) >= 0, `${service} healthy`);
    // the worker starts after the migration and the namespace job have finished, and after the source server is healthy
    assert.ok(at('exited', 'migrate') < at('started', 'worker'));
    assert.ok(at('exited', 'temporal-namespace') < at('started', 'worker'));
    assert.equal(
      events.find((e) => e.service === 'schedule' && e.event === 'started')?.command,
      'node src/schedule.ts --trigger',
    );
  });

  it("runs the schedule job's first run to completion, every demo source fetched from the source server's service URL", async function () {
    this.timeout(120_000);
    const demoSources = loadSourcesConfig(path.join(projectRoot, 'config', 'sources.demo.yaml'), {
      ETL_SOURCE_SERVER_URL: 'http://source-server:8787',
    });
    const run = await waitFor(
      'the first run to finish',
      async () => {
        const res = await fetchJson(`${api}/runs?limit=5`);
        return res.body.data?.find((r: { status: string }) => r.status !== 'running');
      },
      100_000,
    );
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.match(run.workflow_id, /^etl-ingest-/, 'started by the schedule');
    assert.deepEqual(
      run.sources.map((s: { source: string; status: string }) => [s.source, s.status]).sort(),
      demoSources.map((s) => [s.id, 'succeeded']).sort(),
    );
    for (const s of run.sources) assert.ok(s.parsed > 0, `${s.source} parsed records`);
    // the namespace job set the compose file's retention, and the API reads it for its Web UI links
    assert.equal(Date.parse(run.history_expires_at) - Date.parse(run.finished_at), 30 * 86_400_000);
    assert.equal(run.history_expired, false);

    // the raw payloads name the URLs the worker fetched: the source server, by the address standing for its service name
    const record = await fetchJson(`${api}/data?source=rss-news&limit=1`);
    const detail = await fetchJson(`${api}/data/${record.body.data[0].id}`);
    const sourceServer = new URL(`http://${events.find((e) => e.event === 'up')!.ports!['source-server']}`);
    assert.equal(new URL(detail.body.lineage.raw_payload.url).host, sourceServer.host);
  });

  it("passes the smoke checks that CI's compose job runs against the real containers (scripts/compose-smoke.sh)", async function () {
    this.timeout(60_000);
    const ports = events.find((e) => e.event === 'up')!.ports!;
    const { stdout } = await promisify(execFile)(
      path.join(projectRoot, 'scripts', 'compose-smoke.sh'),
      [api, `http://${ports['source-server']}`],
      { env: { PATH: process.env.PATH ?? '', SMOKE_TIMEOUT: '30' } },
    );
    assert.match(
      stdout,
      /^smoke: ok: run \d+ succeeded with coingecko, coinpaprika, csv-assets, csv-quirky, rss-news;/,
    );
  });
});
