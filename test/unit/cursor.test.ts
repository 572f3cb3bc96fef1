// Keyset cursors (src/api/cursor.ts) as README.md's API section states them: pass the previous page's
// next_cursor with the same filters and sort; other filters, a tampered cursor, a cursor of another endpoint,
// or a cursor with an offset is a 400 naming the parameter.
import assert from 'node:assert/strict';
import {
  decodeCursor,
  encodeCursor,
  fingerprint,
  pageAfter,
  pageFields,
  timeCursorAfter,
} from '../../src/api/cursor.ts';
import { ProblemError } from '../../src/api/http.ts';

const filters = { source: 'coingecko', kind: 'asset', sort: '-id', include_deleted: false };
const T = '2021-06-24T00:00:00.123456Z';

/** Asserts a 400 problem that names `param` among its invalid_params; returns its reason. */
function rejects400(fn: () => unknown, param: string, reason?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ProblemError, `a ProblemError, got ${String(error)}`);
    assert.equal(error.status, 400);
    const params = error.extra.invalid_params as { name: string; reason: string }[];
    const named = params.find((p) => p.name === param);
    assert.ok(named, `invalid_params names ${param}: ${JSON.stringify(params)}`);
    if (reason) assert.match(named.reason, reason);
    assert.match(error.message, new RegExp(`^${param}: `));
    return true;
  });
}

const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const payloadOf = (cursor: string) =>
  JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>;

describe('keyset cursors', () => {
  describe('round trip', () => {
    it('an id cursor decodes to the id it was issued after', () => {
      for (const id of [0, 1, 42, Number.MAX_SAFE_INTEGER])
        assert.equal(decodeCursor(encodeCursor(id, filters), filters), id);
    });

    it('a time cursor decodes to its (observed_at, record id)', () => {
      assert.deepEqual(timeCursorAfter(encodeCursor([T, 7], filters), filters), [T, 7]);
      assert.equal(timeCursorAfter(undefined, filters), undefined);
    });

    it('is opaque: URL-safe base64 without padding', () => {
      assert.match(encodeCursor(123, filters), /^[A-Za-z0-9_-]+$/);
      assert.match(encodeCursor([T, 123], filters), /^[A-Za-z0-9_-]+$/);
    });
  });

  describe('replayed under other filters or sort', () => {
    const cursor = encodeCursor(10, filters);

    it('another filter value, another sort, a filter added or removed: each a 400 naming cursor', () => {
      rejects400(() => decodeCursor(cursor, { ...filters, source: 'coinpaprika' }), 'cursor', /other filters or sort/);
      rejects400(() => decodeCursor(cursor, { ...filters, sort: 'id' }), 'cursor', /other filters or sort/);
      rejects400(() => decodeCursor(cursor, { ...filters, symbol: 'btc' }), 'cursor', /other filters or sort/);
      const { kind: _kind, ...fewer } = filters;
      rejects400(() => decodeCursor(cursor, fewer), 'cursor', /other filters or sort/);
      rejects400(
        () => timeCursorAfter(encodeCursor([T, 1], { scope: 'entity', id: 1 }), { scope: 'entity', id: 2 }),
        'cursor',
        /other filters or sort/,
      );
    });

    it('the same filters in another key order are the same filters', () => {
      const reordered = { include_deleted: false, sort: '-id', kind: 'asset', source: 'coingecko' };
      assert.equal(decodeCursor(cursor, reordered), 10);
    });
  });

  describe('tampered', () => {
    const good = payloadOf(encodeCursor(10, filters));

    it('not base64 or not JSON', () => {
      rejects400(() => decodeCursor('', filters), 'cursor', /not a cursor/);
      rejects400(() => decodeCursor('!!!***', filters), 'cursor', /not a cursor/);
      rejects400(() => decodeCursor(b64('{"v":1,'), filters), 'cursor', /not a cursor/);
      rejects400(() => decodeCursor(b64('hello'), filters), 'cursor', /not a cursor/);
    });

    it('JSON that is not a cursor object', () => {
      for (const value of [null, 10, 'abc', [10], {}])
        rejects400(() => decodeCursor(b64(value), filters), 'cursor', /not a cursor/);
    });

    it('a field changed, missing or of the wrong type', () => {
      const variants: Record<string, unknown>[] = [
        { ...good, v: 2 },
        { ...good, v: '1' },
        { after: good.after, f: good.f },
        { v: 1, f: good.f },
        { v: 1, after: 10 },
        { ...good, after: -1 },
        { ...good, after: 1.5 },
        { ...good, after: '10' },
        { ...good, after: Number.MAX_SAFE_INTEGER + 2 },
        { ...good, after: [T] },
        { ...good, after: ['yesterday', 1] },
        { ...good, after: [T, 1, 2] },
        { ...good, f: 123 },
      ];
      for (const variant of variants) rejects400(() => decodeCursor(b64(variant), filters), 'cursor');
    });

    it('an extra key', () => {
      rejects400(() => decodeCursor(b64({ ...good, offset: 5 }), filters), 'cursor', /not a cursor/);
    });

    it('a fingerprint edited to anything else', () => {
      rejects400(
        () => decodeCursor(b64({ ...good, f: 'AAAAAAAAAAAAAAAA' }), filters),
        'cursor',
        /other filters or sort/,
      );
    });
  });

  describe('of another endpoint', () => {
    it('a time cursor given to an id endpoint is a 400', () => {
      rejects400(() => decodeCursor(encodeCursor([T, 5], filters), filters), 'cursor', /another endpoint/);
      rejects400(
        () => pageAfter({ cursor: encodeCursor([T, 5], filters), offset: 0 }, filters),
        'cursor',
        /another endpoint/,
      );
    });

    it('an id cursor given to a time endpoint is a 400', () => {
      rejects400(() => timeCursorAfter(encodeCursor(5, filters), filters), 'cursor', /another endpoint/);
    });
  });

  describe('pageAfter', () => {
    it('no cursor: from the start; a cursor at offset 0: after its id', () => {
      assert.equal(pageAfter({ offset: 0 }, filters), undefined);
      assert.equal(pageAfter({ offset: 20 }, filters), undefined);
      assert.equal(pageAfter({ cursor: encodeCursor(99, filters), offset: 0 }, filters), 99);
    });

    it('a cursor with an offset is a 400 naming offset', () => {
      rejects400(() => pageAfter({ cursor: encodeCursor(99, filters), offset: 1 }, filters), 'offset', /cursor/);
    });

    it('a bad cursor still names cursor', () => {
      rejects400(() => pageAfter({ cursor: 'nope', offset: 0 }, filters), 'cursor');
    });
  });

  describe('fingerprint', () => {
    it('does not depend on key order', () => {
      assert.equal(fingerprint({ a: 1, b: 'x', c: [1, 2] }), fingerprint({ c: [1, 2], b: 'x', a: 1 }));
    });

    it('ignores undefined filters (an absent query parameter)', () => {
      assert.equal(fingerprint({ source: 'coingecko', symbol: undefined }), fingerprint({ source: 'coingecko' }));
      assert.equal(
        decodeCursor(encodeCursor(3, { source: 'coingecko', symbol: undefined }), { source: 'coingecko' }),
        3,
      );
    });

    it('tells apart values, keys, types and null from absent', () => {
      const base = fingerprint({ source: 'coingecko', limit_to: 1 });
      assert.notEqual(fingerprint({ source: 'coinpaprika', limit_to: 1 }), base);
      assert.notEqual(fingerprint({ sources: 'coingecko', limit_to: 1 }), base);
      assert.notEqual(fingerprint({ source: 'coingecko', limit_to: '1' }), base);
      assert.notEqual(fingerprint({ source: 'coingecko', limit_to: 1, symbol: null }), base);
    });

    it('a Date filter is the same as its ISO string and differs from another instant', () => {
      const at = new Date('2026-01-02T03:04:05.678Z');
      assert.equal(fingerprint({ updated_since: at }), fingerprint({ updated_since: at.toISOString() }));
      assert.notEqual(fingerprint({ updated_since: at }), fingerprint({ updated_since: new Date(at.getTime() + 1) }));
    });
  });

  describe('pageFields', () => {
    const query = { limit: 2, offset: 0 };
    const total = { total: 5, exact: true };

    it('a page with more after it: next_cursor continues after its last row', () => {
      const fields = pageFields(query, filters, { rows: [{ id: 3 }, { id: 8 }], total, hasMore: true });
      assert.equal(fields.total, 5);
      assert.equal(fields.total_exact, true);
      assert.equal(fields.limit, 2);
      assert.equal(fields.offset, 0);
      assert.equal(decodeCursor(fields.next_cursor!, filters), 8);
      rejects400(() => decodeCursor(fields.next_cursor!, { ...filters, sort: 'id' }), 'cursor');
    });

    it('the last page: next_cursor null', () => {
      assert.equal(pageFields(query, filters, { rows: [{ id: 9 }], total, hasMore: false }).next_cursor, null);
      assert.equal(
        pageFields(query, filters, { rows: [], total: { total: 0, exact: true }, hasMore: false }).next_cursor,
        null,
      );
    });

    it('an estimated total is passed through as not exact', () => {
      assert.equal(
        pageFields(query, filters, { rows: [], total: { total: 12_000, exact: false }, hasMore: false }).total_exact,
        false,
      );
    });
  });
});
