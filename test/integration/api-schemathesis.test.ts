// Schemathesis fuzzes every operation of /openapi.json against the real app (seeded PostgreSQL, a real
// Temporal dev server with the schedule applied, the write endpoints with the right key) and must find no
// server error and no response that breaks the documented schema, status codes, content types or headers.
// Deterministic and bounded: a fixed seed, few examples per operation, no example database.
// `make test` provides the command in SCHEMATHESIS (scripts/ensure-schemathesis.sh).
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import path from 'node:path';
import { createApp } from '../../src/api/app.ts';
import type { Database } from '../../src/db/orm.ts';
import { loadSettings, projectRoot } from '../../src/settings.ts';
import { applySchedules } from '../../src/temporal/schedule.ts';
import { ingest } from '../../src/workflows/index.ts';
import { quietLog, startTemporal, taskQueue, tempDir, testDatabase } from '../helpers.ts';
import { seedApiData } from '../schemathesis/seed.ts';

const API_KEY = 'schemathesis-key-0123456789';
/**
 * The checks every response must pass. Not positive_data_acceptance: a cursor or a source id can match its
 * documented pattern and still be refused with a 400 (a cursor the API never issued, a source nobody configured).
 */
const CHECKS = [
  'not_a_server_error',
  'response_schema_conformance',
  'status_code_conformance',
  'content_type_conformance',
  'response_headers_conformance',
  'negative_data_rejection',
  'missing_required_header',
  'unsupported_method',
  'ignored_auth',
];

function schemathesisCommand(): string {
  const command = process.env.SCHEMATHESIS || path.join(projectRoot, '.tools', 'bin', 'schemathesis');
  if (!fs.existsSync(command))
    throw new Error(
      `no schemathesis at ${command}: run the tests with 'make test', which installs it (scripts/ensure-schemathesis.sh)`,
    );
  return command;
}

describe('API under Schemathesis (generated from /openapi.json)', () => {
  let env: TestWorkflowEnvironment;
  let db: Database;
  let api: Server;
  let url: string;

  before(async function () {
    this.timeout(60_000);
    // one after the other: if the database fails, `env` is already set and after() still stops the server
    env = await startTemporal();
    db = await testDatabase();
    await seedApiData(db);
    const queue = taskQueue('schemathesis');
    // no worker listens on this queue: runs started by POST /runs just wait there until the server stops
    const settings = loadSettings({ API_KEY, ETL_TASK_QUEUE: queue, ETL_SCHEDULE_ID: 'etl-ingest' });
    await applySchedules(env.client, settings, quietLog);
    // run 1 becomes a real (waiting) workflow execution, so GET /runs/1/history has a history to summarize
    const handle = await env.client.workflow.start(ingest, { taskQueue: queue, workflowId: 'wf-1', args: [{}] });
    await db.pool.query('UPDATE run SET temporal_run_id = $1 WHERE id = 1', [handle.firstExecutionRunId]);
    api = createApp({ db, temporal: env.client, log: quietLog, settings }).listen(0, '127.0.0.1');
    await once(api, 'listening');
    url = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  });
  after(async () => {
    api?.close();
    await db?.close();
    await env?.teardown();
  });

  it('finds no server error and no response that breaks the schema', async function () {
    this.timeout(180_000);
    const work = tempDir('schemathesis');
    const args = [
      '--config-file',
      path.join(projectRoot, 'test', 'schemathesis', 'schemathesis.toml'),
      'run',
      `${url}/openapi.json`,
      '--checks',
      CHECKS.join(','),
      '--phases',
      'examples,coverage,fuzzing',
      '--max-examples',
      '25',
      '--seed',
      '20261122',
      '--generation-database',
      'none',
      // one worker: with two, Python 3.11's ast module (hypothesis describes lambdas with it) is not thread-safe
      // and the coverage phase died with "SystemError: AST constructor recursion depth mismatch"
      '--workers',
      '1',
      '--request-timeout',
      '15',
      '--header',
      `X-API-Key: ${API_KEY}`,
      '--report',
      'junit',
      '--report-junit-path',
      path.join(work, 'junit.xml'),
      '--no-color',
    ];
    const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
      // cwd in a temp dir: hypothesis keeps its state next to where it runs
      execFile(
        schemathesisCommand(),
        args,
        { cwd: work, maxBuffer: 32 * 1024 * 1024, timeout: 170_000 },
        (error, stdout, stderr) =>
          resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
      );
    });
    const summary = output
      .split('\n')
      .filter((line) => /passed|failed|errored|skipped|Test cases|operations/i.test(line))
      .join('\n');
    const problems = output.search(/=+ (FAILURES|ERRORS) =+/);
    assert.equal(
      code,
      0,
      `schemathesis reported problems (exit ${code}):\n${(problems >= 0 ? output.slice(problems) : output.slice(-20_000)).slice(0, 20_000)}`,
    );
    assert.match(output, /No issues found/, summary);
    const junit = fs.readFileSync(path.join(work, 'junit.xml'), 'utf8');
    const testcases = (junit.match(/<testcase /g) ?? []).length;
    // every operation of the document but GET /openapi.json, the schema itself
    const document = (await (await fetch(`${url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const operations = Object.values(document.paths).reduce((n, methods) => n + Object.keys(methods).length, 0);
    assert.ok(operations > 20, `${operations} operations documented`);
    assert.equal(testcases, operations - 1, `every operation was exercised:\n${junit.slice(0, 2000)}`);
    assert.doesNotMatch(output, /Missing test data/, 'the examples reach seeded rows, not only 404s');
    fs.rmSync(work, { recursive: true, force: true }); // kept when an assertion above fails, for its report
  });
});
