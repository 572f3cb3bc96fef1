// Records the event histories of real runs into test/replay/histories, for the replay test: a change to the
// workflows that would break these (already running) executions then fails CI instead of production.
//   npm run replay:record    (re-record only when such a change is deliberate and versioned with patching)
//   npm run replay:record -- ingest-in-parts    (writes only the histories named: the others keep their older code's)
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.ts';
import { migrate, openDatabase } from '../src/db/orm.ts';
import { createLogger } from '../src/logger.ts';
import { projectRoot } from '../src/settings.ts';
import { createSourceServer } from '../src/sourceserver/server.ts';
import { createWorker } from '../src/temporal/worker.ts';
import { ingest, reprocess, retention } from '../src/workflows/index.ts';
import { ETL_OUTCOME, ETL_SOURCES } from '../src/workflows/observability.ts';

Runtime.install({ logger: new DefaultLogger('WARN') });
const out = path.join(projectRoot, 'test', 'replay', 'histories');
const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'etl-histories-'));
const pg = await startEmbeddedPostgres({
  dataDir: path.join(temp, 'pg'),
  port: 40000 + Math.floor(Math.random() * 20000),
  persistent: false,
  log: createLogger('pg', 'warn'),
});
const db = await openDatabase(pg.url);
await migrate(db);
const root = path.join(temp, 'root');
fs.cpSync(path.join(projectRoot, 'data', 'demo'), root, { recursive: true });
const server = createSourceServer({ root });
process.env.ETL_SOURCE_SERVER_URL = await server.listen(0);
const env = await TestWorkflowEnvironment.createLocal({
  server: {
    executable: {
      type: 'existing-path',
      path: process.env.TEMPORAL_CLI ?? path.join(projectRoot, '.tools', 'bin', 'temporal'),
    },
    searchAttributes: [ETL_SOURCES, ETL_OUTCOME],
  },
});
try {
  const worker = await createWorker({
    connection: env.nativeConnection,
    namespace: 'default',
    taskQueue: 'replay',
    db,
    sourcesFile: path.join(projectRoot, 'config', 'sources.demo.yaml'),
  });
  await worker.runUntil(async () => {
    const record = async (
      name: string,
      start: () => Promise<{
        workflowId: string;
        result(): Promise<unknown>;
        fetchHistory(): Promise<Parameters<typeof historyToJSON>[0]>;
      }>,
    ) => {
      const handle = await start();
      await handle.result();
      const only = process.argv.slice(2);
      if (only.length && !only.includes(name)) return; // run, since later runs build on it, but kept as it was
      fs.writeFileSync(path.join(out, `${name}.json`), historyToJSON(await handle.fetchHistory()));
      console.log(`recorded ${name}`);
    };
    const first = await env.client.workflow.start(ingest, {
      taskQueue: 'replay',
      workflowId: 'ingest-first-run',
      args: [{}],
    });
    await record('ingest-first-run', async () => first);
    await record('ingest-unchanged', () =>
      env.client.workflow.start(ingest, { taskQueue: 'replay', workflowId: 'ingest-unchanged', args: [{}] }),
    );
    server.setFaults([{ path: '/coingecko', status: 404 }]);
    fs.writeFileSync(
      path.join(root, 'coinpaprika-tickers.json'),
      fs
        .readFileSync(path.join(root, 'coinpaprika-tickers.json'), 'utf8')
        .replace('"price":10913.27425377', '"price":10914'),
    );
    await record('ingest-partial', () =>
      env.client.workflow.start(ingest, { taskQueue: 'replay', workflowId: 'ingest-partial', args: [{}] }),
    );
    const { runId } = (await first.result()) as { runId: number };
    await record('reprocess-dry-run', () =>
      env.client.workflow.start(reprocess, {
        taskQueue: 'replay',
        workflowId: 'reprocess-dry-run',
        args: [{ runId, dryRun: true }],
      }),
    );
    await record('retention', () =>
      env.client.workflow.start(retention, {
        taskQueue: 'replay',
        workflowId: 'retention',
        args: [{ olderThanDays: 90 }],
      }),
    );
    // a first run again, in parts of a few kilobytes (the demo CSV is cut at record ends)
    server.setFaults([]);
    await db.pool.query('TRUNCATE run, source_state, raw_payload, record, entity RESTART IDENTITY CASCADE');
    const parts = await createWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue: 'replay-parts',
      db,
      sourcesFile: path.join(projectRoot, 'config', 'sources.demo.yaml'),
      partBytes: 4096,
      partConcurrency: 2,
    });
    await parts.runUntil(
      record('ingest-in-parts', () =>
        env.client.workflow.start(ingest, { taskQueue: 'replay-parts', workflowId: 'ingest-in-parts', args: [{}] }),
      ),
    );
  });
} finally {
  await env.teardown();
  await server.close();
  await db.close();
  await pg.stop();
  fs.rmSync(temp, { recursive: true, force: true });
}
