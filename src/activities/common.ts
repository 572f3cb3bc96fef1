// What every activity shell needs: its dependencies, the source's configuration, one translation of stage
// errors into Temporal failures (retry or not, and when), and the heartbeat that carries a stage's progress.
// The stages themselves (src/stages) know nothing of Temporal.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { DivergenceRule } from '../db/anomalies.ts';
import type { Database } from '../db/orm.ts';
import { isDryRun, recordAttempt, recordAttemptError } from '../db/runs.ts';
import { StagingLostError } from '../db/stage.ts';
import { PoolExhaustedError, explainAcquireTimeout } from '../db/sql.ts';
import type { RecordKind } from '../normalize/record.ts';
import { loadSourcesConfig, type SourceConfig } from '../sources/config.ts';
import { adapterFor } from '../sources/index.ts';
import { PermanentSourceError, RetryableSourceError, UnreadablePayloadError } from '../sources/types.ts';
import { Refusal } from '../stages/refusal.ts';

export interface ActivityDeps {
  db: Database;
  sourcesFile: string;
  /** When latest prices of one entity diverge across sources (default: 5 % within an hour). */
  divergence?: DivergenceRule;
  /** Payloads larger than this many bytes are normalized in parts, when they can be cut (ETL_PART_BYTES; unset: never). */
  partBytes?: number;
  /** How many parts of one payload run at once, across all workers (ETL_PART_CONCURRENCY). */
  partConcurrency?: number;
}

export interface SourceStep {
  runId: number;
  sourceId: string;
}
export interface PayloadStep extends SourceStep {
  payloadId: number;
}

export function sourceById(sourcesFile: string, id: string): SourceConfig {
  const source = loadSourcesConfig(sourcesFile).find((s) => s.id === id);
  if (!source) throw ApplicationFailure.nonRetryable(`source '${id}' is not in ${sourcesFile}`, 'UnknownSource');
  return source;
}

/** What the source's records become: assets or articles. */
export const recordKindOf = (sourcesFile: string, id: string): RecordKind =>
  adapterFor(sourceById(sourcesFile, id)).recordKind;

/** A dry run writes nothing anyone reads, whoever calls what. */
export async function refuseDryRun(db: Database, { runId }: SourceStep, what: string): Promise<void> {
  if (await isDryRun(db.pool, runId))
    throw ApplicationFailure.nonRetryable(`run ${runId} is a dry run: it may not ${what}`, 'DryRun');
}

/** The workflow execution this attempt belongs to: a retry shares it, a reset does not. */
export const temporalRunId = (): string => Context.current().info.workflowExecution?.runId ?? 'none';

/** Runs work and turns stage errors into failures Temporal retries (or not) as the error says. */
export async function asFailure<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (thrown) {
    const error = explainAcquireTimeout(thrown);
    if (
      error instanceof PermanentSourceError ||
      error instanceof UnreadablePayloadError ||
      error instanceof StagingLostError ||
      error instanceof Refusal
    ) {
      throw ApplicationFailure.nonRetryable(error.message, error.name);
    }
    if (error instanceof PoolExhaustedError) throw ApplicationFailure.retryable(error.message, error.name);
    if (error instanceof RetryableSourceError) {
      throw ApplicationFailure.create({ message: error.message, type: error.name, nextRetryDelay: error.retryAfterMs });
    }
    throw error;
  }
}

/** How often a running stage heartbeats even when it makes no visible progress (a long SQL statement). */
const KEEPALIVE_MS = 5_000;

/**
 * Heartbeats with the stage's latest progress. A retried attempt starts from the previous attempt's last
 * details (`resumeFrom`), so a worker killed mid-stage loses only the work since its last checkpoint.
 */
export class Progress<T = unknown> {
  readonly resumeFrom: T | undefined;
  private details: T | undefined;
  private readonly ctx: Context;
  private readonly source: string | undefined;
  private readonly timer: NodeJS.Timeout;

  /** `source` goes into every heartbeat: a run's pending activities say which source each one is working on. */
  constructor(ctx: Context, source?: string) {
    this.ctx = ctx;
    this.source = source;
    this.resumeFrom = ctx.info.heartbeatDetails as T | undefined;
    this.details = this.resumeFrom;
    this.timer = setInterval(() => this.send(), KEEPALIVE_MS);
  }

  private send(): void {
    this.ctx.heartbeat(this.source === undefined ? this.details : { ...(this.details ?? {}), source: this.source });
  }

  /** Aborted when Temporal cancels the activity (or its heartbeat times out from Temporal's side). */
  get signal(): AbortSignal {
    return this.ctx.cancellationSignal;
  }

  /** Which attempt this is, 1 for the first. */
  get attempt(): number {
    return this.ctx.info.attempt;
  }

  get log(): Context['log'] {
    return this.ctx.log;
  }

  beat(details: T): void {
    this.details = details;
    this.send();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Failures this process could not write (the database was down), kept until an attempt of the same step can. */
const unrecorded = new Map<string, { stage: string; attempt: number; error: string }[]>();
const stepKey = (step: SourceStep) => `${step.runId}:${step.sourceId}`;

async function recordUnrecorded(db: Database, step: SourceStep): Promise<void> {
  const pending = unrecorded.get(stepKey(step));
  if (!pending) return;
  unrecorded.delete(stepKey(step));
  for (const f of pending) await recordAttemptError(db.pool, step.runId, step.sourceId, f.stage, f.attempt, f.error);
}

/**
 * One attempt of a stage for one source: counted in run_source.attempts, its failure kept in
 * run_source.errors, its source errors turned into the right Temporal failure, its heartbeat kept alive.
 */
export async function runStage<T, P = unknown>(
  db: Database,
  step: SourceStep,
  work: (progress: Progress<P>) => Promise<T>,
): Promise<T> {
  const ctx = Context.current();
  const { activityType, attempt } = ctx.info;
  await recordAttempt(db.pool, step.runId, step.sourceId, activityType, attempt);
  await recordUnrecorded(db, step);
  const progress = new Progress<P>(ctx, step.sourceId);
  const started = Date.now();
  try {
    const result = await asFailure(() => work(progress));
    // the worker's resident memory after each stage shows whether memory stays flat as sources grow
    ctx.log.info(`${activityType} done`, {
      durationMs: Date.now() - started,
      rssMb: Math.round(process.memoryUsage.rss() / 2 ** 20),
      result,
    });
    return result;
  } catch (error) {
    // the database may be what failed: the failure still reaches Temporal, and is recorded by the next attempt
    const failure = { stage: activityType, attempt, error: (error as Error).message };
    await recordAttemptError(db.pool, step.runId, step.sourceId, failure.stage, failure.attempt, failure.error).catch(
      () => unrecorded.set(stepKey(step), [...(unrecorded.get(stepKey(step)) ?? []), failure]),
    );
    throw error;
  } finally {
    progress.stop();
  }
}
