import type { Pool, PoolClient } from 'pg';
import { LIMITS } from '../normalize/limits.ts';

export type Queryable = Pool | PoolClient;

/**
 * A pooled connection checked out for a unit of work. The pool stops listening for its errors while it is
 * checked out, so a server that ends it between two statements (a restart, a failover) would raise an
 * uncaught 'error' and take the whole worker down. Here that error is left to the next statement, which
 * fails, and the activity is retried; the pool then drops the dead connection on release.
 */
export async function checkout(pool: Pool): Promise<PoolClient & { checkin(broken?: boolean): void }> {
  const client = await pool.connect();
  const ignore = () => {};
  client.on('error', ignore);
  return Object.assign(client, {
    checkin(broken = false) {
      client.removeListener('error', ignore);
      client.release(broken);
    },
  });
}

/** Runs work in one transaction on one pooled connection. */
export async function transaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await checkout(pool);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.checkin();
  }
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
