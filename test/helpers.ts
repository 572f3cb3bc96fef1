import { MockActivityEnvironment, TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities, type NormalizeOutcome } from '../src/activities/index.ts';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { openDatabase, type Database } from '../src/db/orm.ts';
import { partitionNames } from '../src/db/quotes.ts';
import { createLogger } from '../src/logger.ts';
import { ETL_OUTCOME, ETL_SOURCES } from '../src/workflows/observability.ts';
import { projectRoot } from '../src/settings.ts';

export const quietLog = createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent');

export async function testDatabase(): Promise<Database> {
  const url = process.env.TEST_DATABASE_URL;
  if (!url)
    throw new Error('TEST_DATABASE_URL is unset: run the tests through mocha (test/setup.ts starts a database)');
  return openDatabase(url);
}

export async function truncateAll(db: Database): Promise<void> {
  // drift_event too: it names its run by id without a foreign key, and ids restart, so a later suite's run 2
  // would find an earlier suite's drift events
  await db.pool.query(
    'TRUNCATE run, run_source, source_state, raw_payload, raw_page, record, stage_record, quarantine, field_issue, drift_event, quote, quote_daily, quote_horizon, entity, entity_link RESTART IDENTITY CASCADE',
  );
  // the partitions too: a test sees only the partitions its own data made
  for (const name of await partitionNames(db.pool)) await db.pool.query(`DROP TABLE ${name}`);
}

/** The real Temporal CLI the project provisioned (make test exports TEMPORAL_CLI). */
export function temporalCli(): string {
  const cli = process.env.TEMPORAL_CLI ?? path.join(projectRoot, '.tools', 'bin', 'temporal');
  if (!fs.existsSync(cli))
    throw new Error(`no Temporal CLI at ${cli}: run the tests with 'make test', which installs it`);
  return cli;
}

/**
 * Resets a workflow execution to `eventId` with the Temporal CLI, as an operator would (`temporal workflow
 * reset`); `runId` picks the execution when several share the workflow id. Returns the new run's id.
 */
export async function resetWorkflow(
  env: TestWorkflowEnvironment,
  target: { workflowId: string; runId?: string },
  eventId: number | string,
  reason: string,
): Promise<string> {
  const { stdout } = await promisify(execFile)(temporalCli(), [
    'workflow',
    'reset',
    '--workflow-id',
    target.workflowId,
    ...(target.runId ? ['--run-id', target.runId] : []),
    '--event-id',
    String(eventId),
    '--reason',
    reason,
    '--address',
    env.address,
    '--namespace',
    'default',
    '--output',
    'json',
  ]);
  return (JSON.parse(stdout) as { runId: string }).runId;
}

/** A real Temporal dev server, started from the provisioned CLI (createLocal would download one). */
export function startTemporal(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalCli() },
      log: { format: 'json', level: 'error' },
      searchAttributes: [ETL_SOURCES, ETL_OUTCOME],
    },
  });
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `etl-${prefix}-`));
}

export function demoCsv(): string {
  return fs.readFileSync(path.join(projectRoot, 'data', 'demo', 'assets.csv'), 'utf8');
}

/** Writes a sources file with one CSV source whose content the test controls. */
export function csvSourceFixture(
  dir: string,
  id = 'csv-assets',
  options: { maxDeleteRatio?: number; deletePolicy?: 'snapshot' | 'never' } = {},
) {
  const csvPath = path.join(dir, `${id}.csv`);
  const sourcesFile = path.join(dir, 'sources.yaml');
  fs.writeFileSync(
    sourcesFile,
    [
      'sources:',
      `  - id: ${id}`,
      '    kind: csv',
      `    url: ./${id}.csv`,
      `    delete_policy: ${options.deletePolicy ?? 'snapshot'}`,
      `    max_delete_ratio: ${options.maxDeleteRatio ?? 0.2}`,
      '',
    ].join('\n'),
  );
  return {
    sourcesFile,
    write: (content: string) => fs.writeFileSync(csvPath, content),
    remove: () => fs.rmSync(csvPath, { force: true }),
  };
}

let queueCounter = 0;
/** One task queue per test, so a late task from one test never reaches another's worker. */
export function taskQueue(name: string): string {
  return `test-${name}-${process.pid}-${++queueCounter}`;
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  // response bodies are checked field by field by the tests
  body: any;
}

export async function fetchJson(url: string, init?: RequestInit): Promise<JsonResponse> {
  const res = await fetch(url, init);
  return { status: res.status, headers: res.headers, body: await res.json() };
}

export interface StagesOutcome {
  runId: number;
  staged: number;
  quarantined: number;
  /** The message of the stage that refused the payload, if one did. */
  rejected?: string;
  /** The quarantine reasons, in source order. */
  reasons: string[];
}

/**
 * One source through the real start, fetch, store, normalize and dedupe activities, in MockActivityEnvironment
 * against the real test database (no Temporal server): a refusal is returned, not thrown.
 */
export async function runStages(db: Database, sourcesFile: string, sourceId: string): Promise<StagesOutcome> {
  const activities = createActivities({ db, sourcesFile });
  const env = new MockActivityEnvironment(
    { workflowExecution: { workflowId: `stages-${sourceId}`, runId: `${sourceId}-${Date.now()}` } },
    { logger: new DefaultLogger('ERROR', () => {}) },
  );
  const run = <A extends unknown[], R>(activity: (...args: A) => Promise<R>, ...args: A) =>
    env.run(activity, ...args) as Promise<R>;
  const { runId } = await run(activities.startRun, { sourceIds: [sourceId] });
  const step = { runId, sourceId };
  const fetched = await run(activities.fetchSource, step);
  await run(activities.storeRaw, { ...step, payloadId: fetched.payloadId });
  const outcome: StagesOutcome = { runId, staged: 0, quarantined: 0, reasons: [] };
  try {
    // a whole payload: no parts asked for
    const normalized = (await run(activities.normalize, { ...step, payloadId: fetched.payloadId })) as NormalizeOutcome;
    await run(activities.dedupe, { ...step, payloadId: fetched.payloadId });
    Object.assign(outcome, { staged: normalized.staged, quarantined: normalized.quarantined });
  } catch (error) {
    outcome.rejected = (error as Error).message;
  }
  const { rows } = await db.pool.query<{ reason: string }>(
    'SELECT reason FROM quarantine WHERE run_id = $1 ORDER BY raw_position',
    [runId],
  );
  outcome.reasons = rows.map((r) => r.reason);
  return outcome;
}

/**
 * A fresh pool in place of `db`, once the old pool's backends are gone. A backend reports its table statistics
 * (pg_stat_user_tables) when it next flushes, which for an idle one can be seconds later; one that exits
 * flushes them. A test counting writes starts from here, so earlier tests' writes are not counted as its own.
 */
export async function reopenFlushed(db: Database): Promise<Database> {
  const fresh = await testDatabase();
  const backends = async () =>
    (
      await fresh.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database()',
      )
    ).rows[0]!.n;
  const [before, closing] = [await backends(), db.pool.totalCount];
  await db.close();
  for (let i = 0; i < 200; i++) {
    if ((await backends()) <= before - closing) return fresh;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('the earlier connections did not close');
}

/** Polls `probe` until it returns a value (not undefined); fails naming `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
