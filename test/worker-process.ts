// Real worker processes (src/worker.ts) for the crash tests: started on a task queue of their own, killed
// with a signal, their database sessions named so a test can see what statement each one is in.
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../src/settings.ts';

export interface WorkerProcess {
  child: ChildProcess;
  /** The application_name of its database sessions (pg_stat_activity.application_name). */
  appName: string;
  output(): string;
  /** Stops it (SIGTERM drains, SIGKILL is a machine dying) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Resolves once it polls its task queue. */
  ready(): Promise<void>;
}

export interface WorkerProcessOptions {
  queue: string;
  sourcesFile: string;
  maxActivities?: number;
  /** Names its database sessions; defaults to one unique to the process. */
  appName?: string;
  /** A workflow bundle built ahead (buildWorkflowBundle), so the process starts without bundling. */
  workflowBundle?: string;
  /** More environment, e.g. ETL_FAULT_INJECTION. */
  env?: Record<string, string>;
}

let processCounter = 0;

/** A real worker process on `queue`, with its output kept for assertions. */
export function startWorkerProcess(env: TestWorkflowEnvironment, options: WorkerProcessOptions): WorkerProcess {
  const appName = options.appName ?? `test-worker-${process.pid}-${++processCounter}`;
  const child = spawn(process.execPath, [path.join(projectRoot, 'src', 'worker.ts')], {
    env: {
      ...process.env,
      DATABASE_URL: process.env.TEST_DATABASE_URL,
      // node-postgres names every session of the pool from PGAPPNAME
      PGAPPNAME: appName,
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_NAMESPACE: 'default',
      ETL_TASK_QUEUE: options.queue,
      ETL_SOURCES_FILE: options.sourcesFile,
      ETL_WORKER_METRICS_ADDRESS: '127.0.0.1:0',
      ETL_WORKER_MAX_ACTIVITIES: String(options.maxActivities ?? 8),
      ...(options.workflowBundle ? { ETL_WORKFLOW_BUNDLE: options.workflowBundle } : {}),
      LOG_LEVEL: 'info',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => {
    output += d;
  });
  child.stderr!.on('data', (d) => {
    output += d;
  });
  const exited = once(child, 'exit');
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await exited;
  };
  const ready = () =>
    waitUntil('the worker to poll', async () => {
      if (child.exitCode !== null) throw new Error(`the worker exited with ${child.exitCode}: ${output.slice(-2000)}`);
      return output.includes('"msg":"worker started"');
    });
  return { child, appName, output: () => output, stop, ready };
}

/** Builds the workflow bundle once into `dir`, for worker processes that would otherwise each bundle at start. */
export async function buildWorkflowBundle(dir: string): Promise<string> {
  const file = path.join(dir, 'workflow-bundle.js');
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [path.join(projectRoot, 'src', 'temporal', 'bundle.ts')],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  fs.writeFileSync(file, stdout);
  return file;
}

/** Polls `probe` until it holds; fails naming `what` after `timeoutMs`. */
export async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The last heartbeat details Temporal holds for the workflow's pending activity of this type, if any. */
export async function pendingHeartbeat<T>(handle: WorkflowHandle, activityType: string): Promise<T | undefined> {
  const { raw } = await handle.describe();
  const payload = raw.pendingActivities?.find((a) => a.activityType?.name === activityType)?.heartbeatDetails
    ?.payloads?.[0];
  // a keep-alive heartbeat before the first checkpoint carries no details (an empty or null payload)
  return payload ? (defaultPayloadConverter.fromPayload(payload as Payload) as T | undefined) : undefined;
}
