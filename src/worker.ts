// Worker process: polls task queue `etl` until SIGINT/SIGTERM, then drains and exits.
import { NativeConnection } from '@temporalio/worker';
import { openDatabase } from './db/orm.ts';
import { createLogger } from './logger.ts';
import { durationMs, loadSettings, requireDatabaseUrl } from './settings.ts';
import { temporalTarget } from './temporal/connection.ts';
import { installSdkRuntime } from './temporal/runtime.ts';
import { createWorker } from './temporal/worker.ts';

const settings = loadSettings();
const log = createLogger('worker', settings.LOG_LEVEL);
installSdkRuntime(log, settings.ETL_WORKER_METRICS_ADDRESS);
const role = settings.ETL_WORKER_ROLE;
// a worker of workflow tasks only never touches the database
const db =
  role === 'workflows'
    ? undefined
    : await openDatabase(requireDatabaseUrl(settings), {
        poolMax: settings.ETL_DB_POOL_MAX,
        acquireTimeoutMs: durationMs(settings.ETL_DB_ACQUIRE_TIMEOUT),
      });
const target = temporalTarget();
const connection = await NativeConnection.connect(target.connectionOptions);
try {
  const worker = await createWorker({
    connection,
    namespace: target.namespace,
    taskQueue: settings.ETL_TASK_QUEUE,
    role,
    maxConcurrentActivities: settings.ETL_WORKER_MAX_ACTIVITIES,
    workflowBundlePath: settings.ETL_WORKFLOW_BUNDLE,
    db,
    sourcesFile: settings.ETL_SOURCES_FILE,
    divergence: { threshold: settings.ETL_DIVERGENCE_THRESHOLD, windowMs: durationMs(settings.ETL_DIVERGENCE_WINDOW) },
    partBytes: settings.ETL_PART_BYTES,
    partConcurrency: settings.ETL_PART_CONCURRENCY,
  });
  log.info(
    {
      taskQueue: settings.ETL_TASK_QUEUE,
      role,
      namespace: target.namespace,
      address: target.connectionOptions.address,
    },
    'worker started',
  );
  await worker.run(); // the SDK handles SIGINT/SIGTERM: stop polling, finish in-flight tasks, resolve
} finally {
  await connection.close();
  await db?.close();
  log.info('worker stopped');
}
