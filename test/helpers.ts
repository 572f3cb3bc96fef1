import { TestWorkflowEnvironment } from '@temporalio/testing';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, type Database } from '../src/db/orm.ts';
import { partitionNames } from '../src/db/quotes.ts';
import { createLogger } from '../src/logger.ts';
import { ETL_OUTCOME, ETL_SOURCES } from '../src/workflows/observability.ts';
import { projectRoot } from '../src/settings.ts';

export const quietLog = createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent');

export async function testDatabase(): Promise<Database> {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is unset: run the tests through mocha (test/setup.ts starts a database)');
  return openDatabase(url);
}

export async function truncateAll(db: Database): Promise<void> {
  // drift_event too: it names its run by id without a foreign key, and ids restart, so a later suite's run 2
  // would find an earlier suite's drift events
  await db.pool.query('TRUNCATE run, run_source, source_state, raw_payload, raw_page, record, stage_record, quarantine, drift_event, quote, quote_daily, quote_horizon, entity, entity_link RESTART IDENTITY CASCADE');
  // the partitions too: a test sees only the partitions its own data made
  for (const name of await partitionNames(db.pool)) await db.pool.query(`DROP TABLE ${name}`);
}

/** The real Temporal CLI the project provisioned (make test exports TEMPORAL_CLI). */
export function temporalCli(): string {
  const cli = process.env.TEMPORAL_CLI ?? path.join(projectRoot, '.tools', 'bin', 'temporal');
  if (!fs.existsSync(cli)) throw new Error(`no Temporal CLI at ${cli}: run the tests with 'make test', which installs it`);
  return cli;
}

/** A real Temporal dev server, started from the provisioned CLI (createLocal would download one). */
export function startTemporal(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: temporalCli() }, log: { format: 'json', level: 'error' }, searchAttributes: [ETL_SOURCES, ETL_OUTCOME] },
  });
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `etl-${prefix}-`));
}

export function demoCsv(): string {
  return fs.readFileSync(path.join(projectRoot, 'data', 'demo', 'assets.csv'), 'utf8');
}

/** Writes a sources file with one CSV source whose content the test controls. */
export function csvSourceFixture(dir: string, id = 'csv-assets', options: { maxDeleteRatio?: number; deletePolicy?: 'snapshot' | 'never' } = {}) {
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
