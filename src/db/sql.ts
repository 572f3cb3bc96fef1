import type { Pool, PoolClient } from 'pg';

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
