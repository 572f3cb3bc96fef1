// Opaque keyset cursors: base64url of the last row's id and a fingerprint of the filters and sort that
// produced the page. A cursor is only valid with the same filters: replayed under others it would silently
// page through a different result set, so that is a 400 instead.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { PageTotal } from '../db/queries.ts';
import { badRequest } from './http.ts';

const id = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** What a page continues after: a row id, or an observation's (observed_at, record id). */
const IdKey = id;
const TimeKey = z.tuple([z.iso.datetime({ precision: 6 }), id]);
type CursorKey = number | [string, number];
const Payload = z.object({ v: z.literal(1), after: z.union([IdKey, TimeKey]), f: z.string() }).strict();

/** A stable digest of everything that selects and orders the rows (not limit or offset). */
export function fingerprint(filters: Record<string, unknown>): string {
  const canonical = Object.keys(filters)
    .sort()
    .filter((k) => filters[k] !== undefined)
    .map((k) => [k, filters[k] instanceof Date ? (filters[k] as Date).toISOString() : filters[k]]);
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url').slice(0, 16);
}

export function encodeCursor(after: CursorKey, filters: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify({ v: 1, after, f: fingerprint(filters) })).toString('base64url');
}

/** The key to continue after; a 400 naming `cursor` when it is malformed, of another kind, or was issued for other filters. */
function decode<T extends CursorKey>(cursor: string, filters: Record<string, unknown>, key: z.ZodType<T>): T {
  let payload: z.output<typeof Payload>;
  try {
    payload = Payload.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch {
    throw badRequest([{ name: 'cursor', reason: 'not a cursor issued by this API' }]);
  }
  if (payload.f !== fingerprint(filters)) {
    throw badRequest([
      {
        name: 'cursor',
        reason: 'issued for other filters or sort: repeat the request that returned it, changing only cursor',
      },
    ]);
  }
  const after = key.safeParse(payload.after);
  if (!after.success) throw badRequest([{ name: 'cursor', reason: 'issued by another endpoint' }]);
  return after.data;
}

export const decodeCursor = (cursor: string, filters: Record<string, unknown>): number =>
  decode(cursor, filters, IdKey);

/** Where a page of observations continues: after this (observed_at, record id), or from the start. */
export function timeCursorAfter(
  cursor: string | undefined,
  filters: Record<string, unknown>,
): [string, number] | undefined {
  return cursor === undefined ? undefined : decode(cursor, filters, TimeKey);
}

/** Where a page starts after: the cursor's id, or none. A cursor with an offset is refused: which one wins? */
export function pageAfter(
  query: { cursor?: string; offset: number },
  filters: Record<string, unknown>,
): number | undefined {
  if (query.cursor !== undefined && query.offset !== 0)
    throw badRequest([{ name: 'offset', reason: 'cannot be combined with cursor' }]);
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
