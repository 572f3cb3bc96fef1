// Builds the worker for the `etl` task queue: the workflow bundle plus activities bound to their dependencies.
import { type NativeConnection, Worker, type ActivityInterceptorsFactory } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities/index.ts';
import { workflowBundle } from './bundle.ts';
import type { WorkerRole } from '../settings.ts';

export interface WorkerOptions extends Partial<ActivityDeps> {
  role?: WorkerRole;
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /** Shown in the history of every task this worker ran (defaults to pid@host). */
  identity?: string;
  maxConcurrentActivities?: number;
  /** A bundle built ahead (ETL_WORKFLOW_BUNDLE); bundled at start when unset. */
  workflowBundlePath?: string;
}

export async function createWorker({
  connection,
  namespace,
  taskQueue,
  identity,
  maxConcurrentActivities = 8,
  workflowBundlePath,
  role = 'all',
  ...deps
}: WorkerOptions): Promise<Worker> {
  const { db, sourcesFile } = deps;
  if (role !== 'workflows' && (!db || !sourcesFile))
    throw new Error(`a worker that runs activities needs a database and a sources file`);
  return Worker.create({
    connection,
    namespace,
    taskQueue,
    ...(identity ? { identity } : {}),
    ...(role === 'activities' ? {} : { workflowBundle: await workflowBundle(workflowBundlePath) }),
    ...(role === 'workflows'
      ? {}
      : {
          activities: createActivities({ ...deps, db: db!, sourcesFile: sourcesFile! }),
          interceptors: { activity: [sourceInLogs] },
        }),
    maxConcurrentActivityTaskExecutions: maxConcurrentActivities,
    // progress reaches the server within 2 s, so a worker that dies loses at most that much work
    maxHeartbeatThrottleInterval: '2 seconds',
  });
}

/**
 * Every log line of a per-source activity names its ETL run and source; the SDK already adds the workflow
 * id, run id, activity type and attempt.
 */
const sourceInLogs: ActivityInterceptorsFactory = () => {
  let step: { etlRunId?: unknown; sourceId?: unknown } = {};
  return {
    inbound: {
      execute(input, next) {
        const [first] = input.args as [{ runId?: unknown; sourceId?: unknown } | undefined];
        if (first && typeof first === 'object') step = { etlRunId: first.runId, sourceId: first.sourceId };
        return next(input);
      },
    },
    outbound: {
      getLogAttributes: (attributes, next) =>
        next({ ...attributes, ...Object.fromEntries(Object.entries(step).filter(([, v]) => v !== undefined)) }),
    },
  };
};
