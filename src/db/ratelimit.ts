// A rate limit every worker process shares, kept in PostgreSQL: one row per provider, refilled at
// `perSecond` up to `burst` tokens. Each request takes a token in one upsert (the row lock orders
// concurrent callers across processes); a caller that drives the balance below zero has reserved a later
// slot and waits for it. A per-process counter could not hold the limit once two workers fetch at once.
import type { Pool } from 'pg';

export async function takeToken(
  pool: Pool,
  key: string,
  perSecond: number,
  burst = Math.max(1, perSecond),
): Promise<number> {
  const { rows } = await pool.query<{ tokens: number }>(
    `INSERT INTO rate_limit_bucket AS b (key, tokens, refilled_at) VALUES ($1, $3 - 1, clock_timestamp())
     ON CONFLICT (key) DO UPDATE SET
       tokens = LEAST($3, b.tokens + EXTRACT(EPOCH FROM clock_timestamp() - b.refilled_at) * $2) - 1,
       refilled_at = clock_timestamp()
     RETURNING tokens`,
    [key, perSecond, burst],
  );
  return rows[0]!.tokens < 0 ? (-rows[0]!.tokens / perSecond) * 1000 : 0;
}

/** Waits until this caller may send its next request to `key`. */
export async function throttle(pool: Pool, key: string, perSecond: number, signal?: AbortSignal): Promise<void> {
  const waitMs = await takeToken(pool, key, perSecond);
  if (waitMs > 0)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, waitMs);
      signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          reject(signal.reason);
        },
        { once: true },
      );
    });
}
