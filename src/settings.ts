// Process settings, read once from the environment and the project's `.env` file, if there is one.
// Temporal connection settings (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*)
// are read by @temporalio/envconfig in src/temporal/connection.ts, not here.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const duration = z.string().regex(/^\d+(ms|s|m|h|d)$/, 'a duration such as 30s, 15m, 6h or 1d');

/**
 * What a worker process polls for: both kinds of task (the default), only workflow tasks (small, no database)
 * or only activity tasks (the stages, without the workflow sandbox in their heap). Temporal routes each kind
 * to whoever polls for it on the task queue.
 */
export const WORKER_ROLES = ['all', 'workflows', 'activities'] as const;
export type WorkerRole = (typeof WORKER_ROLES)[number];

const schema = z.object({
  DATABASE_URL: z.string().url().optional(),
  ETL_DATA_DIR: z.string().default(path.join(projectRoot, '.data')),
  ETL_EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65535).default(54329),
  ETL_SOURCES_FILE: z.string().default(path.join(projectRoot, 'config', 'sources.demo.yaml')),
  ETL_TASK_QUEUE: z.string().min(1).default('etl'),
  ETL_SCHEDULE_ID: z.string().min(1).default('etl-ingest'),
  ETL_SCHEDULE_INTERVAL: duration.default('6h'),
  ETL_SCHEDULE_CRON: z.string().optional(),
  ETL_SCHEDULE_CATCHUP_WINDOW: duration.default('1h'),
  /** Activities one worker process runs at once; stages are CPU and database heavy, so a few per core. */
  ETL_WORKER_MAX_ACTIVITIES: z.coerce.number().int().min(1).default(8),
  /** What this worker process polls for (WORKER_ROLES): all, workflows or activities. */
  ETL_WORKER_ROLE: z.enum(WORKER_ROLES).default('all'),
  /**
   * Connections of one process's PostgreSQL pool. A normalize holds three at once (its page reader and two
   * COPY streams) and one is always kept for single statements, so three normalizes run together at the default.
   */
  ETL_DB_POOL_MAX: z.coerce.number().int().min(4).default(10),
  /**
   * A payload larger than this many bytes is normalized in parts of about this size, side by side on every
   * worker of the task queue (when its kind can be cut: a CSV file, a paged API's pages); 0 never cuts.
   */
  ETL_PART_BYTES: z.coerce
    .number()
    .int()
    .min(0)
    .default(32 * 2 ** 20),
  /** Parts of one payload normalized at once, across all workers. */
  ETL_PART_CONCURRENCY: z.coerce.number().int().min(1).default(4),
  /** How long a checkout waits for a free pooled connection before its attempt fails (and is retried). */
  ETL_DB_ACQUIRE_TIMEOUT: duration.default('30s'),
  /** Where the worker serves the Temporal SDK's Prometheus metrics (also its container health probe). */
  ETL_WORKER_METRICS_ADDRESS: z
    .string()
    .regex(/^[\w.-]+:\d+$/, 'host:port')
    .default('127.0.0.1:9464'),
  /** The local source server (demo payloads over HTTP, with fault knobs) that make dev starts. */
  ETL_SOURCE_SERVER_PORT: z.coerce.number().int().min(0).max(65535).default(8787),
  ETL_SOURCE_SERVER_ROOT: z.string().default(path.join(projectRoot, 'data', 'demo')),
  /** Soft-deleted records are hard-deleted by the daily `etl-retention` schedule after this many days. */
  ETL_RETENTION_DAYS: z.coerce.number().int().min(1).default(90),
  /** Raw observations (quote) are kept this long, then rolled up to daily OHLC (kept for good) by the same schedule. */
  ETL_QUOTE_RETENTION_DAYS: z.coerce.number().int().min(1).default(400),
  /** A price_divergence anomaly: the latest prices of one asset across sources spread more than this share of their median... */
  ETL_DIVERGENCE_THRESHOLD: z.coerce.number().positive().max(10).default(0.05),
  /** ...among quotes within this window of the newest one. */
  ETL_DIVERGENCE_WINDOW: duration.default('1h'),
  /** Frontend port of the Temporal dev server that make dev starts when TEMPORAL_ADDRESS is unset. */
  ETL_DEV_TEMPORAL_PORT: z.coerce.number().int().min(1).max(65535).default(7233),
  /** How long the dev server (make dev) keeps a closed run's history: the Web UI links of /runs and /data/:id reach back this far. */
  ETL_DEV_TEMPORAL_RETENTION: duration.default('30d'),
  /** A workflow bundle built ahead (the container image builds one): the worker loads it instead of bundling at start. */
  ETL_WORKFLOW_BUNDLE: z.string().optional(),
  TEMPORAL_UI_URL: z.string().url().default('http://127.0.0.1:8233'),
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Key for the API's write endpoints (X-API-Key). Unset: those endpoints refuse every request. */
  API_KEY: z.string().min(16, 'at least 16 characters').optional(),
  /** Origins allowed to call the API from a browser, comma-separated; empty: no CORS headers. */
  CORS_ORIGINS: z.string().default(''),
  /** Set by make dev for its children: the supervisor's state file, which /health shows. */
  ETL_SUPERVISOR_STATE: z.string().optional(),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
});

export type Settings = z.infer<typeof schema>;
export const SETTING_NAMES = Object.keys(schema.shape);

export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  // .env fills in what the real environment leaves unset; the environment always wins
  const dotenv = path.join(projectRoot, '.env');
  if (env === process.env && fs.existsSync(dotenv)) process.loadEnvFile(dotenv);
  const parsed = schema.safeParse(stripEmpty(env));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid environment settings: ${problems}`);
  }
  return parsed.data;
}

// `FOO=` in an .env file means "not set", not "set to the empty string".
function stripEmpty(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''),
  );
}

/** Worker and API connect to the database they are given; only `make dev` and the tests start one. */
export function requireDatabaseUrl(settings: Settings): string {
  if (!settings.DATABASE_URL) throw new Error('DATABASE_URL is not set (make dev sets it for the processes it starts)');
  return settings.DATABASE_URL;
}

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A duration setting (`30s`, `15m`, `6h`, `1d`) in milliseconds. */
export function durationMs(value: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(value);
  if (!m) throw new Error(`not a duration: ${value}`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}
