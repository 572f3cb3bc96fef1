// docker-compose.yml checked by the real Docker Compose v2 loader (`config`), which needs no Docker engine,
// and the Dockerfile by hadolint.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../src/settings.ts';

const run = promisify(execFile);

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

describe('docker-compose.yml (validated by Docker Compose v2)', () => {
  it('is a valid compose file with every service the stack needs, each with a health check', async () => {
    const { stdout } = await compose({ POSTGRES_PASSWORD: 'only-for-this-test' }, 'config', '--format', 'json');
    const config = JSON.parse(stdout) as {
      services: Record<
        string,
        { healthcheck?: { test?: string[]; disable?: boolean }; depends_on?: Record<string, { condition: string }> }
      >;
    };
    assert.deepEqual(Object.keys(config.services).sort(), [
      'api',
      'migrate',
      'postgres',
      'schedule',
      'temporal',
      'temporal-ui',
      'worker',
    ]);
    for (const name of ['postgres', 'temporal', 'temporal-ui', 'api', 'worker']) {
      const check = config.services[name]!.healthcheck;
      assert.ok(check && !check.disable && check.test?.length, `${name} has a health check`);
    }
    assert.equal(config.services.worker!.depends_on!.migrate!.condition, 'service_completed_successfully');
    assert.equal(config.services.temporal!.depends_on!.postgres!.condition, 'service_healthy');
  });

  it('has no built-in secret: without POSTGRES_PASSWORD it refuses to start and says what to set', async () => {
    await assert.rejects(compose({}, 'config', '--quiet'), (error: Error & { stderr: string }) => {
      assert.match(error.stderr, /POSTGRES_PASSWORD is missing a value: set POSTGRES_PASSWORD in \.env/);
      return true;
    });
  });
});

describe('Dockerfile (linted by hadolint)', () => {
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
});
