import type { Pool, PoolClient } from 'pg';
import { LIMITS } from '../normalize/limits.ts';

export type Queryable = Pool | PoolClient;

/** The pool had no connection to give within its acquire timeout: the attempt fails and is retried. */
export class PoolExhaustedError extends Error {
  override name = 'PoolExhaustedError';
}

/** pg-pool's words when connectionTimeoutMillis passes with no connection free. */
const ACQUIRE_TIMEOUT = /timeout exceeded when trying to connect/;

/** The same failure in the project's words, with what the pool was doing: a plain pg error says only "timeout". */
export function explainAcquireTimeout(error: unknown, pool?: Pool): unknown {
  if (!(error instanceof Error) || !ACQUIRE_TIMEOUT.test(error.message)) return error;
  const within = pool
    ? `within ${(pool.options as { connectionTimeoutMillis?: number }).connectionTimeoutMillis} ms (pool of ${pool.options.max}: ` +
      `${pool.totalCount} open, ${pool.idleCount} idle, ${pool.waitingCount} waiting)`
    : 'within ETL_DB_ACQUIRE_TIMEOUT';
  return new PoolExhaustedError(`no PostgreSQL connection was free ${within}; the attempt fails and is retried`);
}

/**
 * Connections held at once by units of work (a transaction, a normalize's reader and COPY streams) are
 * counted against a budget one smaller than the pool. A unit takes all it needs in one step, and a single
 * statement (`pool.query`) holds nothing while it waits, so whatever the mix of activities, one connection
 * always stays free for statements and no holder can wait forever on another: without the budget, five
 * normalizes holding two COPY streams each filled a pool of ten while every one of them waited for a third
 * connection to read its next page.
 */
class ConnectionBudget {
  private available: number;
  private readonly waiting: { n: number; grant: () => void }[] = [];
  readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.available = capacity;
  }

  get inUse(): number {
    return this.capacity - this.available;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Waits for `n` connections of the budget, for as long as `signal` allows: a cancelled attempt (or one past
   * its start-to-close timeout) leaves the queue, so it never runs beside its own retry. No timeout of its
   * own: every holder gives back when its unit ends, so a wait here is a turn, not a deadlock, and failing it
   * would fail a source only because others were busy.
   */
  async take(n: number, signal?: AbortSignal): Promise<void> {
    if (n > this.capacity)
      throw new Error(
        `a unit of work needs ${n} connections at once but the pool allows ${this.capacity}: raise the pool size`,
      );
    signal?.throwIfAborted();
    // first come, first served: a unit that needs three is not starved by a stream of units that need one
    if (!this.waiting.length && this.available >= n) {
      this.available -= n;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const abort = () => {
        this.waiting.splice(this.waiting.indexOf(waiter), 1);
        reject(signal!.reason);
        // a unit that needed more may have kept smaller ones behind it waiting
        this.give(0);
      };
      const waiter = {
        n,
        grant: () => {
          signal?.removeEventListener('abort', abort);
          resolve();
        },
      };
      signal?.addEventListener('abort', abort, { once: true });
      this.waiting.push(waiter);
    });
  }

  give(n: number): void {
    this.available += n;
    while (this.waiting.length && this.available >= this.waiting[0]!.n) {
      const next = this.waiting.shift()!;
      this.available -= next.n;
      next.grant();
    }
  }
}

const budgets = new WeakMap<Pool, ConnectionBudget>();

function budgetOf(pool: Pool): ConnectionBudget {
  const known = budgets.get(pool);
  if (known) return known;
  const budget = new ConnectionBudget(Math.max(1, (pool.options.max ?? 10) - 1));
  budgets.set(pool, budget);
  return budget;
}

/** How many connections units of work may hold at once on this pool, how many they hold, and who waits. */
export function connectionBudget(pool: Pool): { capacity: number; inUse: number; queued: number } {
  const { capacity, inUse, queued } = budgetOf(pool);
  return { capacity, inUse, queued };
}

/**
 * Connections not fit for the next unit of work (a COPY in progress, a transaction that would not roll back):
 * destroyed when their unit ends, not handed back to the pool.
 */
const unfit = new WeakSet<PoolClient>();
export function markUnfit(client: PoolClient, isUnfit: boolean): void {
  if (isUnfit) unfit.add(client);
  else unfit.delete(client);
}

export type CheckedOut = PoolClient & { checkin(broken?: boolean): void };

/**
 * A pooled connection checked out for a unit of work. The pool stops listening for its errors while it is
 * checked out, so a server that ends it between two statements (a restart, a failover) would raise an
 * uncaught 'error' and take the whole worker down. Here that error is left to the next statement, which
 * fails, and the activity is retried; the pool then drops the dead connection on release.
 */
async function checkout(pool: Pool): Promise<CheckedOut> {
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw explainAcquireTimeout(error, pool);
  }
  const ignore = () => {};
  client.on('error', ignore);
  return Object.assign(client, {
    checkin(broken = false) {
      client.removeListener('error', ignore);
      client.release(broken);
    },
  });
}

/**
 * Runs work on `n` connections held together, taken from the budget in one step. `work` must not take more
 * (no transaction, no withConnections inside): a holder that waits for more could wait forever. A connection
 * left unfit (mid-COPY, say) is destroyed, not pooled.
 */
export async function withConnections<T>(
  pool: Pool,
  n: number,
  work: (clients: CheckedOut[]) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  const budget = budgetOf(pool);
  await budget.take(n, signal);
  const clients: CheckedOut[] = [];
  try {
    for (let i = 0; i < n; i++) clients.push(await checkout(pool));
    return await work(clients);
  } finally {
    for (const client of clients) {
      const broken = unfit.has(client);
      unfit.delete(client);
      client.checkin(broken);
    }
    budget.give(n);
  }
}

/** Runs work in one transaction on one pooled connection. */
export function transaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  return withConnections(pool, 1, async ([client]) => {
    await client!.query('BEGIN');
    try {
      const result = await work(client!);
      await client!.query('COMMIT');
      return result;
    } catch (error) {
      // a connection that cannot even roll back may still be inside the failed transaction
      await client!.query('ROLLBACK').catch(() => markUnfit(client!, true));
      throw error;
    }
  });
}

/**
 * Text PostgreSQL can store, of a bounded length: NUL (which text and jsonb refuse) and lone surrogates (which
 * jsonb refuses) become U+FFFD. Every text a source can influence (errors, reasons, field names) passes here
 * before it is written, so bookkeeping never fails on what a payload contained.
 */
export function storable(text: string, max: number = LIMITS.reasonChars): string {
  // most texts need neither replacement: this runs for every staged value
  const noNul = text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text;
  const clean = noNul.isWellFormed() ? noNul : noNul.toWellFormed();
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

/** The same for a JSON value: every string in it, keys included. */
export function storableJson<T>(value: T): T {
  if (typeof value === 'string') return storable(value, Number.MAX_SAFE_INTEGER) as T;
  if (Array.isArray(value)) return value.map(storableJson) as T;
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [storable(k, Number.MAX_SAFE_INTEGER), storableJson(v)]),
    ) as T;
  }
  return value;
}
