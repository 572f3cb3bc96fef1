// A page's `total` without counting a million rows per request: exact while the result is small, else the
// planner's estimate (as PostgREST's `count=estimated`). An exact COUNT over 1M live records takes ~0.3 s
// of a core, which at a few hundred requests a second would be the whole machine.
import type { EntityManager } from '@mikro-orm/postgresql';

/** Below this many rows (by the planner's estimate) the total is counted exactly: a few milliseconds at most. */
export const EXACT_COUNT_BELOW = 10_000;

export interface PageTotal {
  total: number;
  /** False when `total` is the planner's estimate (from table statistics, kept fresh by autovacuum). */
  exact: boolean;
}

/**
 * The total number of rows a query (`sql`: its SELECT without paging, `?` placeholders) matches. `firstPage`
 * is the first page already read (offset 0, no cursor), when there is one: a page shorter than asked for is
 * the whole result.
 */
export async function pageTotal(
  em: EntityManager,
  { sql, params }: { sql: string; params: readonly unknown[] },
  firstPage?: { rows: number; limit: number },
  exactBelow = EXACT_COUNT_BELOW,
): Promise<PageTotal> {
  if (firstPage && firstPage.rows <= firstPage.limit) return { total: firstPage.rows, exact: true };
  const estimate = await plannerEstimate(em, sql, params);
  if (estimate >= exactBelow) return { total: estimate, exact: false };
  const [row] = await em
    .getConnection()
    .execute<{ n: string }[]>(`SELECT count(*) AS n FROM (${sql}) AS matching`, [...params]);
  return { total: Number(row!.n), exact: true };
}

/** Planner estimates change only when the table is analyzed, so one per query is kept for a few seconds. */
const ESTIMATE_TTL_MS = 10_000;
const estimates = new Map<string, { rows: number; until: number }>();

async function plannerEstimate(em: EntityManager, sql: string, params: readonly unknown[]): Promise<number> {
  const key = JSON.stringify([sql, params]);
  const now = Date.now();
  const cached = estimates.get(key);
  if (cached && cached.until > now) return cached.rows;
  const [plan] = await em
    .getConnection()
    .execute<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }[]>(`EXPLAIN (FORMAT JSON) ${sql}`, [...params]);
  const rows = Math.round(plan!['QUERY PLAN'][0].Plan['Plan Rows']);
  if (estimates.size >= 1000) estimates.clear(); // many distinct filters: start over rather than grow
  estimates.set(key, { rows, until: now + ESTIMATE_TTL_MS });
  return rows;
}
