// Builds the worker for the `etl` task queue: the workflow bundle plus activities bound to their dependencies.
import { NativeConnection, Worker } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { createActivities, type ActivityDeps } from '../activities/index.ts';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export interface WorkerOptions extends ActivityDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
}

export async function createWorker({ connection, namespace, taskQueue, ...deps }: WorkerOptions): Promise<Worker> {
  return Worker.create({ connection, namespace, taskQueue, workflowsPath, activities: createActivities(deps) });
}
