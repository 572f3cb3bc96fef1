// Opaque keyset cursors: base64url of the last row's id and a fingerprint of the filters and sort that
// produced the page. A cursor is only valid with the same filters: replayed under others it would silently
// page through a different result set, so that is a 400 instead.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { PageTotal } from '../db/queries.ts';
import { badRequest } from './http.ts';

const Payload = z.object({ v: z.literal(1), after: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), f: z.string() }).strict();

/** A stable digest of everything that selects and orders the rows (not limit or offset). */
export function fingerprint(filters: Record<string, unknown>): string {
  const canonical = Object.keys(filters)
    .sort()
    .filter((k) => filters[k] !== undefined)
    .map((k) => [k, filters[k] instanceof Date ? (filters[k] as Date).toISOString() : filters[k]]);
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url').slice(0, 16);
}

export function encodeCursor(after: number, filters: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify({ v: 1, after, f: fingerprint(filters) })).toString('base64url');
}

/** The id to continue after; a 400 naming `cursor` when it is malformed or was issued for other filters. */
export function decodeCursor(cursor: string, filters: Record<string, unknown>): number {
  let payload: z.output<typeof Payload>;
  try {
    payload = Payload.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch {
    throw badRequest([{ name: 'cursor', reason: 'not a cursor issued by this API' }]);
  }
  if (payload.f !== fingerprint(filters)) {
    throw badRequest([{ name: 'cursor', reason: 'issued for other filters or sort: repeat the request that returned it, changing only cursor' }]);
  }
  return payload.after;
}

/** Where a page starts after: the cursor's id, or none. A cursor with an offset is refused: which one wins? */
export function pageAfter(query: { cursor?: string; offset: number }, filters: Record<string, unknown>): number | undefined {
  if (query.cursor !== undefined && query.offset !== 0) throw badRequest([{ name: 'offset', reason: 'cannot be combined with cursor' }]);
  return query.cursor === undefined ? undefined : decodeCursor(query.cursor, filters);
}

/** A page's paging fields: its total, limit and offset, and the cursor to the next page (null on the last). */
export function pageFields(
  query: { limit: number; offset: number },
  filters: Record<string, unknown>,
  page: { rows: { id: number }[]; total: PageTotal; hasMore: boolean },
) {
  const last = page.rows.at(-1);
  return {
    total: page.total.total,
    total_exact: page.total.exact,
    limit: query.limit,
    offset: query.offset,
    next_cursor: page.hasMore && last ? encodeCursor(last.id, filters) : null,
  };
}
