// Every Temporal call of the API goes through here: a deadline (a lazy connection to a Temporal that is down
// otherwise waits for it as long as the client likes), a 404 for what Temporal does not know, a 503 for
// everything else, and a short circuit breaker so that while Temporal is down each request fails at once
// instead of waiting out its own deadline.
import { ScheduleNotFoundError, isGrpcServiceError, type Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { Logger } from '../logger.ts';
import { namespaceRetentionMs } from '../temporal/retention.ts';
import { ProblemError, notFound, unavailable } from './http.ts';
import type { Links, RunLinks } from './serialize.ts';

const GRPC_NOT_FOUND = 5;
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_UNAVAILABLE = 14;
/** After a connection failure, calls fail fast for this long (health probes still try). */
const BREAKER_COOLDOWN_MS = 5000;
/** A call after this long without a sign of life probes first (2 s), so a long deadline is not spent waiting for a dead server. */
const PROBE_AFTER_MS = 10_000;
const PROBE_TIMEOUT_MS = 2000;
/**
 * The namespace's retention changes only when an operator changes it: read it again after this long (a stale
 * value serves while it is read), and after a failed read try again this much sooner.
 */
const RETENTION_FRESH_MS = 5 * 60_000;
const RETENTION_RETRY_MS = 30_000;
const RETENTION_TIMEOUT_MS = 2000;

export interface TemporalGateway {
  readonly client: Client;
  readonly namespace: string;
  /** Runs `fn` against Temporal; `missing` is the 404 detail when Temporal does not know the target. */
  call<T>(
    what: string,
    fn: (client: Client) => Promise<T>,
    options: { timeoutMs: number; missing?: string },
  ): Promise<T>;
  /** Whether Temporal answers at all, within `timeoutMs`. */
  probe(timeoutMs: number): Promise<boolean>;
  /**
   * How long the namespace keeps a closed run's history, cached; null while Temporal has not said (unreachable,
   * or no retention set). Never throws: a read that needs it still answers while Temporal is down.
   */
  retentionMs(): Promise<number | null>;
}

export function temporalGateway(client: Client, log: Logger): TemporalGateway {
  let downUntil = 0;
  let upAt = 0;
  let retention: { value: number | null; until: number } | null = null;
  let readingRetention: Promise<number | null> | null = null;
  const gateway: TemporalGateway = {
    client,
    namespace: client.options.namespace,
    async call(what, fn, { timeoutMs, missing }) {
      if (Date.now() < downUntil) throw unavailable(`Temporal is unreachable (${what}); retry shortly`);
      if (
        Date.now() - upAt > PROBE_AFTER_MS &&
        timeoutMs > PROBE_TIMEOUT_MS &&
        !(await gateway.probe(PROBE_TIMEOUT_MS))
      ) {
        throw unavailable(`Temporal is unreachable (${what}); retry shortly`);
      }
      try {
        const result = await client.connection.withDeadline(Date.now() + timeoutMs, () => fn(client));
        upAt = Date.now();
        return result;
      } catch (error) {
        if (error instanceof ProblemError) throw error;
        if (missing && isNotFound(error)) throw notFound(missing);
        if (isConnectivity(error)) downUntil = Date.now() + BREAKER_COOLDOWN_MS;
        else upAt = Date.now(); // it answered, if only with an error
        log.warn({ err: error, what }, 'Temporal call failed');
        throw unavailable(`Temporal did not answer (${what}); retry shortly`);
      }
    },
    async probe(timeoutMs) {
      try {
        await client.connection.withDeadline(Date.now() + timeoutMs, () => client.workflowService.getSystemInfo({}));
        downUntil = 0;
        upAt = Date.now();
        return true;
      } catch {
        downUntil = Date.now() + BREAKER_COOLDOWN_MS;
        return false;
      }
    },
    retentionMs() {
      if (retention && Date.now() < retention.until) return Promise.resolve(retention.value);
      readingRetention ??= gateway
        .call('describe namespace', (c) => namespaceRetentionMs(c, gateway.namespace), {
          timeoutMs: RETENTION_TIMEOUT_MS,
        })
        .then(
          (value) => {
            retention = { value, until: Date.now() + RETENTION_FRESH_MS };
            return value;
          },
          () => {
            // the last value Temporal gave stays the best guess while it does not answer
            const value = retention?.value ?? null;
            retention = { value, until: Date.now() + RETENTION_RETRY_MS };
            return value;
          },
        )
        .finally(() => {
          readingRetention = null;
        });
      return retention ? Promise.resolve(retention.value) : readingRetention;
    },
  };
  return gateway;
}

/** The links of runs as of now: the Web UI link only while Temporal still keeps the run's history. */
export async function runLinks(links: Links, temporal: TemporalGateway): Promise<RunLinks> {
  return { ...links, retentionMs: await temporal.retentionMs(), now: Date.now() };
}

function grpcCodes(error: unknown): number[] {
  const codes: number[] = [];
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (isGrpcServiceError(e)) codes.push(e.code);
    else if (typeof (e as { code?: unknown }).code === 'number') codes.push((e as { code: number }).code);
  }
  return codes;
}

function isNotFound(error: unknown): boolean {
  return (
    error instanceof WorkflowNotFoundError ||
    error instanceof ScheduleNotFoundError ||
    grpcCodes(error).includes(GRPC_NOT_FOUND)
  );
}

function isConnectivity(error: unknown): boolean {
  const codes = grpcCodes(error);
  return codes.includes(GRPC_UNAVAILABLE) || codes.includes(GRPC_DEADLINE_EXCEEDED);
}
