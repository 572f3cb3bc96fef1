// Builds the worker for the `etl` task queue: the workflow bundle plus activities bound to their dependencies.
import { NativeConnection, Worker } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { createActivities, type ActivityDeps } from '../activities/index.ts';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export interface WorkerOptions extends ActivityDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /** Shown in the history of every task this worker ran (defaults to pid@host). */
  identity?: string;
  maxConcurrentActivities?: number;
}

export async function createWorker({ connection, namespace, taskQueue, identity, maxConcurrentActivities = 8, ...deps }: WorkerOptions): Promise<Worker> {
  return Worker.create({
    connection,
    namespace,
    taskQueue,
    ...(identity ? { identity } : {}),
    workflowsPath,
    activities: createActivities(deps),
    maxConcurrentActivityTaskExecutions: maxConcurrentActivities,
    // progress reaches the server within 2 s, so a worker that dies loses at most that much work
    maxHeartbeatThrottleInterval: '2 seconds',
  });
}
