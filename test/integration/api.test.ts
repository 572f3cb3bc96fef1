// HTTP tests of the API against the real test database, seeded with SQL (test/schemathesis/seed.ts says what
// is there). Temporal is deliberately unreachable here (a lazy connection to a closed port): endpoints that
// read PostgreSQL must keep working, those that need Temporal must answer 503. Real Temporal is in
// api-temporal.test.ts.
import { Client, Connection } from '@temporalio/client';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net, { type AddressInfo, type Server } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createApp } from '../../src/api/app.ts';
import {
  DataPage,
  EntityDetail,
  EntityPage,
  EntityQuotes,
  Health,
  ObservationPage,
  RecordDetail,
  RunAnomalies,
  RunDetail,
  RunPage,
  Stats,
  CompareRuns,
} from '../../src/api/schemas.ts';
import { openDatabase, type Database } from '../../src/db/orm.ts';
import { listRecords } from '../../src/db/queries.ts';
import type { Logger } from '../../src/logger.ts';
import { loadSettings, type Settings } from '../../src/settings.ts';
import { freePort } from '../setup.ts';
import { quietLog, testDatabase } from '../helpers.ts';
import { SEED, seedApiData } from '../schemathesis/seed.ts';

const API_KEY = 'test-key-0123456789abcdef';

function apiSettings(overrides: Record<string, string> = {}): Settings {
  return loadSettings({
    API_KEY,
    CORS_ORIGINS: 'https://dash.example',
    TEMPORAL_UI_URL: 'http://ui.test:8233',
    ...overrides,
  });
}

async function serve(
  db: Database,
  temporal: Client,
  settings: Settings,
  log: Logger = quietLog,
): Promise<{ server: Server; url: string }> {
  const server = createApp({ db, temporal, log, settings }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

interface Res {
  status: number;
  headers: Headers;
  type: string;
  requestId: string | null;
  text: string;
  // bodies are checked field by field
  body: any;
}

async function request(url: string, init: RequestInit = {}): Promise<Res> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: the test looks at text
  }
  return {
    status: res.status,
    headers: res.headers,
    type: res.headers.get('content-type') ?? '',
    requestId: res.headers.get('x-request-id'),
    text,
    body,
  };
}

function assertProblem(res: Res, status: number, param?: string): void {
  assert.equal(res.status, status, `${status} expected, got ${res.status}: ${res.text}`);
  assert.match(res.type, /application\/problem\+json/);
  assert.equal(res.body.status, status);
  assert.equal(typeof res.body.title, 'string');
  assert.equal(typeof res.body.detail, 'string');
  assert.equal(res.body.request_id, res.requestId);
  assert.doesNotMatch(res.text, /\bat .*\.(ts|js):\d+/, 'no stack trace');
  if (param)
    assert.ok(
      res.body.invalid_params?.some((p: { name: string }) => p.name === param),
      `names ${param}: ${res.text}`,
    );
}

describe('API (real PostgreSQL, Temporal unreachable)', () => {
  let db: Database;
  let temporal: Client;
  let server: Server;
  let url: string;

  before(async () => {
    db = await testDatabase();
    await seedApiData(db);
    temporal = new Client({ connection: Connection.lazy({ address: `127.0.0.1:${await freePort()}` }) });
    ({ server, url } = await serve(db, temporal, apiSettings()));
  });
  after(async () => {
    server?.close();
    await temporal?.connection.close().catch(() => undefined);
    await db?.close();
  });

  const get = (path: string, headers: Record<string, string> = {}) => request(url + path, { headers });
  const post = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
    request(url + path, {
      method: 'POST',
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
  const ids = (res: Res) => res.body.data.map((r: { id: number }) => r.id) as number[];

  describe('GET /data', () => {
    it('pages through live records with limit and offset, in id order, numerics as strings', async () => {
      const first = await get('/data');
      assert.equal(first.status, 200);
      DataPage.parse(first.body);
      assert.equal(first.body.total, SEED.liveAssets + SEED.articles, 'the soft-deleted record is not served');
      assert.equal(first.body.limit, 50);
      assert.equal(first.body.data.length, 50);
      assert.equal(first.body.data[0].price_usd, '0.0', 'numerics are served as exact decimal strings');
      assert.equal(first.body.request_id, first.requestId);
      assert.equal(first.headers.get('etag'), null, 'no ETag: a body with its own request_id never repeats');
      assert.ok(first.body.api_latency_ms >= 0);
      assert.equal(typeof first.body.next_cursor, 'string');
      const last = await get('/data?limit=50&offset=100');
      assert.equal(last.body.data.length, 25);
      assert.equal(last.body.offset, 100);
      assert.equal(last.body.next_cursor, null, 'no cursor on the last page');
      const all = [...ids(first), ...ids(await get('/data?limit=50&offset=50')), ...ids(last)];
      assert.equal(new Set(all).size, 125);
      assert.deepEqual(
        all,
        [...all].sort((x, y) => x - y),
      );
    });

    it('filters by source, kind, symbol (case-insensitive), entity, updated_since and include_deleted', async () => {
      const a = await get('/data?source=a&limit=1000');
      assert.equal(a.body.total, SEED.assetsOfA);
      assert.ok(a.body.data.every((r: { source: string }) => r.source === 'a'));
      const btc = await get('/data?symbol=btc&source=b&limit=1000');
      assert.equal(btc.body.total, SEED.btcOfB);
      assert.ok(btc.body.data.every((r: { symbol: string; source: string }) => r.symbol === 'BTC' && r.source === 'b'));
      const articles = await get('/data?kind=article');
      assert.equal(articles.body.total, SEED.articles);
      assert.deepEqual(
        Object.keys(articles.body.data[0])
          .filter((k) => ['title', 'url', 'published_at', 'price_usd'].includes(k))
          .sort(),
        ['published_at', 'title', 'url'],
      );
      const entity = await get('/data?entity_id=1');
      assert.deepEqual(ids(entity), [1, 4]);
      // key-i was updated at 01:00 + i minutes; articles at 2026-01-02
      const since = await get('/data?updated_since=2026-01-01T02:50:00Z&kind=asset&include_deleted=true');
      assert.deepEqual(ids(since), [111, 112, 113, 114, 115, 116, 117, 118, 119, 120]);
      const offsetSince = await get(
        `/data?updated_since=${encodeURIComponent('2026-01-01T04:50:00+02:00')}&kind=asset`,
      );
      assert.equal(offsetSince.body.total, 9, 'an offset in the timestamp counts; the deleted one is left out');
      const withDeleted = await get('/data?source=b&include_deleted=true&limit=1000');
      assert.equal(withDeleted.body.total, 60);
      assert.ok(
        withDeleted.body.data.some(
          (r: { source_key: string; deleted_at: string | null }) => r.source_key === 'key-119' && r.deleted_at,
        ),
      );
    });

    it('counts totals exactly while small; above the threshold it gives the planner estimate and says so', async () => {
      await db.pool.query('ANALYZE record');
      // a filter no other test uses: estimates are cached per query for a few seconds
      const page = {
        filter: { source: 'a', kind: 'asset' as const, includeDeleted: true },
        sort: 'id' as const,
        limit: 10,
        offset: 10,
      };
      const exact = await listRecords(db.em(), page);
      assert.deepEqual(exact.total, { total: SEED.assetsOfA, exact: true });
      // a threshold of 1 row: the total is what the planner expects the filter to match
      const estimated = await listRecords(db.em(), page, 1);
      assert.equal(estimated.total.exact, false);
      const { rows } = await db.pool.query(
        `EXPLAIN (FORMAT JSON) SELECT * FROM record WHERE source_id = 'a' AND kind = 'asset'`,
      );
      assert.equal(estimated.total.total, Math.round(rows[0]['QUERY PLAN'][0].Plan['Plan Rows']));
      assert.ok(
        Math.abs(estimated.total.total - SEED.assetsOfA) <= 6,
        `a fresh estimate is close: ${estimated.total.total}`,
      );
      // a short first page is the whole result: exact without counting, whatever the threshold
      const short = await listRecords(db.em(), { ...page, offset: 0, limit: 1000 }, 1);
      assert.deepEqual(short.total, { total: SEED.assetsOfA, exact: true });
      assert.equal((await get('/data?limit=5')).body.total_exact, true);
    });

    it('sorts by -id', async () => {
      const res = await get('/data?sort=-id&limit=3');
      assert.deepEqual(ids(res), [126, 125, 124]);
    });

    it('walks every row exactly once with the keyset cursor, in both directions', async () => {
      for (const sort of ['id', '-id']) {
        const seen: number[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const res: Res = await get(
            `/data?limit=17&sort=${sort}&include_deleted=true${cursor ? `&cursor=${cursor}` : ''}`,
          );
          assert.equal(res.status, 200, res.text);
          assert.equal(res.body.total, 126);
          seen.push(...ids(res));
          cursor = res.body.next_cursor;
          pages++;
        } while (cursor && pages < 20);
        assert.equal(pages, 8);
        assert.equal(seen.length, 126);
        assert.equal(new Set(seen).size, 126);
        assert.deepEqual(
          seen,
          [...seen].sort((x, y) => (sort === 'id' ? x - y : y - x)),
        );
      }
    });

    it('keeps keyset pages stable while rows are inserted between requests: none skipped, none repeated', async () => {
      const insert = (n: number) =>
        db.pool.query(
          `INSERT INTO record (kind, source_id, source_key, symbol, content_hash, raw_payload_id, raw_position, run_id, first_run_id, observed_at)
           SELECT 'asset', 'b', 'late-' || gen_random_uuid(), 'LATE', 'h', 2, 0, 1, 1, now() FROM generate_series(1, $1)`,
          [n],
        );
      try {
        for (const sort of ['-id', 'id']) {
          const before = ids(await get(`/data?source=b&limit=1000&sort=${sort}`));
          const seen: number[] = [];
          let cursor: string | null = null;
          for (let page = 0; page < 30; page++) {
            const res: Res = await get(`/data?source=b&limit=7&sort=${sort}${cursor ? `&cursor=${cursor}` : ''}`);
            assert.equal(res.status, 200, res.text);
            seen.push(...ids(res));
            cursor = res.body.next_cursor;
            if (!cursor) break;
            await insert(3); // newer rows (higher ids) land while the client pages
          }
          assert.equal(new Set(seen).size, seen.length, `${sort}: no row repeated`);
          for (const id of before) assert.ok(seen.includes(id), `${sort}: row ${id} not skipped`);
          if (sort === '-id')
            assert.deepEqual(seen, before, 'newest first: rows inserted after the first page are not in this walk');
        }
        // what offset paging does under the same inserts, for contrast: the newest-first pages shift and repeat rows
        const page1 = ids(await get('/data?source=b&limit=7&sort=-id'));
        await insert(3);
        const page2 = ids(await get('/data?source=b&limit=7&offset=7&sort=-id'));
        assert.ok(
          page2.some((id) => page1.includes(id)),
          'offset paging repeats rows after inserts (why cursors exist)',
        );
      } finally {
        await db.pool.query(`DELETE FROM record WHERE source_key LIKE 'late-%'`);
      }
    });

    it('refuses a cursor under other filters or sort, a forged cursor, and cursor with offset', async () => {
      const { body } = await get('/data?source=a&limit=5');
      assertProblem(await get(`/data?source=b&limit=5&cursor=${body.next_cursor}`), 400, 'cursor');
      assertProblem(await get(`/data?source=a&limit=5&sort=-id&cursor=${body.next_cursor}`), 400, 'cursor');
      assertProblem(await get(`/data?source=a&symbol=btc&cursor=${body.next_cursor}`), 400, 'cursor');
      assertProblem(await get(`/data?source=a&include_deleted=true&cursor=${body.next_cursor}`), 400, 'cursor');
      assert.equal(
        (await get(`/data?source=a&limit=9&cursor=${body.next_cursor}`)).status,
        200,
        'another limit is fine',
      );
      assertProblem(
        await get(`/data?cursor=${Buffer.from('{"v":1,"after":"x"}').toString('base64url')}`),
        400,
        'cursor',
      );
      assertProblem(await get('/data?cursor=bm90IGpzb24'), 400, 'cursor');
      assertProblem(await get(`/data?source=a&offset=5&cursor=${body.next_cursor}`), 400, 'offset');
    });

    it('answers bad input for every parameter with a 400 problem that names it', async () => {
      for (const [query, param] of [
        ['limit=0', 'limit'],
        ['limit=1001', 'limit'],
        ['limit=abc', 'limit'],
        ['limit=1.5', 'limit'],
        ['limit=1&limit=2', 'limit'],
        ['offset=-1', 'offset'],
        ['offset=x', 'offset'],
        ['cursor=not%20a%20cursor', 'cursor'],
        ['source=Not%20A%20Source', 'source'],
        ['kind=coin', 'kind'],
        [`symbol=${'X'.repeat(41)}`, 'symbol'],
        ['symbol=%00', 'symbol'],
        ['entity_id=0', 'entity_id'],
        ['entity_id=abc', 'entity_id'],
        ['updated_since=yesterday', 'updated_since'],
        ['updated_since=2026-13-01T00:00:00Z', 'updated_since'],
        ['updated_since=2026-01-01T00:00:00', 'updated_since'],
        ['include_deleted=yes', 'include_deleted'],
        ['sort=name', 'sort'],
        ['colour=red', 'colour'],
      ] as const) {
        assertProblem(await get(`/data?${query}`), 400, param);
      }
    });
  });

  describe('GET /data/:id', () => {
    it('returns the record with its lineage: raw payload, position, run and Web UI link, entity link, quarantine reasons', async () => {
      const res = await get('/data/1');
      assert.equal(res.status, 200, res.text);
      RecordDetail.parse(res.body);
      assert.equal(res.body.data.source_key, 'key-0');
      const { lineage } = res.body;
      assert.deepEqual(
        {
          id: lineage.raw_payload.id,
          url: lineage.raw_payload.url,
          status: lineage.raw_payload.status,
          http_status: lineage.raw_payload.http_status,
        },
        { id: 1, url: 'file:///a.csv', status: 'stored', http_status: 200 },
      );
      assert.equal(lineage.raw_payload.content_hash, 'sha256-a');
      assert.equal(lineage.raw_payload.size_bytes, 10000);
      assert.equal(lineage.raw_position, 0);
      assert.equal(lineage.run.workflow_id, 'wf-1');
      assert.equal(lineage.run.temporal_run_id, '00000000-0000-4000-8000-000000000001');
      assert.equal(
        lineage.run.ui_url,
        'http://ui.test:8233/namespaces/default/workflows/wf-1/00000000-0000-4000-8000-000000000001',
      );
      assert.equal(res.body.entity_link.entity_id, 1);
      assert.equal(res.body.entity_link.rule, 'seed');
      assert.deepEqual(
        res.body.quarantine.map((q: { reason: string; run_id: number }) => [q.run_id, q.reason]),
        [
          [12, 'price_usd not a number: "1.913,88"'],
          [11, 'price_usd not a number: "n/a"'],
        ],
        'newest first, only rows with the same source and key',
      );
    });

    it('serves a soft-deleted record with its deleting run, and no quarantine when there is none', async () => {
      const res = await get('/data/120');
      assert.equal(res.status, 200);
      assert.ok(res.body.data.deleted_at);
      assert.equal(res.body.lineage.deleted_run_id, 11);
      assert.deepEqual(res.body.quarantine, []);
      assert.equal(res.body.entity_link, null);
    });

    it('answers 404 for an unknown id and 400 for a malformed one', async () => {
      assertProblem(await get('/data/999999'), 404);
      for (const id of ['abc', '0', '-1', '1.5', '99999999999999999999'])
        assertProblem(await get(`/data/${id}`), 400, 'id');
      assertProblem(await get('/data/1?x=1'), 400, 'x');
    });
  });

  describe('GET /entities', () => {
    it('lists entities with the sources that describe them, filtered by kind, symbol and min_sources', async () => {
      const all = await get('/entities');
      assert.equal(all.status, 200);
      EntityPage.parse(all.body);
      assert.equal(all.body.total, 3);
      assert.deepEqual(all.body.data[0].sources, ['a', 'b']);
      assert.deepEqual(ids(await get('/entities?min_sources=2')), [1]);
      assert.deepEqual(ids(await get('/entities?min_sources=1&kind=asset')), [1, 2]);
      assert.deepEqual(ids(await get('/entities?kind=article')), [3]);
      assert.deepEqual(ids(await get('/entities?symbol=btc')), [1]);
      assert.equal((await get('/entities?min_sources=3')).body.total, 0);
    });

    it('pages with a cursor and refuses it under other filters', async () => {
      const first = await get('/entities?limit=2');
      assert.deepEqual(ids(first), [1, 2]);
      const second = await get(`/entities?limit=2&cursor=${first.body.next_cursor}`);
      assert.deepEqual(ids(second), [3]);
      assert.equal(second.body.next_cursor, null);
      assertProblem(await get(`/entities?limit=2&kind=asset&cursor=${first.body.next_cursor}`), 400, 'cursor');
    });

    it('GET /entities/:id returns the source records with each link rule, confidence and evidence', async () => {
      const res = await get('/entities/1');
      assert.equal(res.status, 200, res.text);
      EntityDetail.parse(res.body);
      assert.equal(res.body.data.symbol, 'BTC');
      assert.deepEqual(
        res.body.records.map(
          (r: { record: { source: string; source_key: string }; link: { rule: string; confidence: number } }) => [
            r.record.source,
            r.record.source_key,
            r.link.rule,
            r.link.confidence,
          ],
        ),
        [
          ['a', 'key-0', 'seed', 1],
          ['b', 'key-3', 'symbol+name', 0.9],
        ],
      );
      assert.equal(res.body.records[1].link.evidence.name_similarity, 0.93);
      assert.deepEqual(
        res.body.anomalies.map((a: { rule: string; run_id: number }) => [a.rule, a.run_id]),
        [['price_divergence', 12]],
      );
      assertProblem(await get('/entities/42'), 404);
    });

    it('answers bad input with 400 naming the parameter', async () => {
      for (const [query, param] of [
        ['limit=0', 'limit'],
        ['offset=-2', 'offset'],
        ['cursor=%2B%2B', 'cursor'],
        ['kind=thing', 'kind'],
        ['symbol=%01', 'symbol'],
        ['min_sources=0', 'min_sources'],
        ['min_sources=two', 'min_sources'],
        ['nope=1', 'nope'],
      ] as const) {
        assertProblem(await get(`/entities?${query}`), 400, param);
      }
      assertProblem(await get('/entities/x'), 400, 'id');
    });
  });

  describe('time series', () => {
    it('GET /entities/:id/quotes?interval=1d: days before raw_from from the rollup, later ones from raw observations, with the cross-source median', async () => {
      const res = await get('/entities/1/quotes?interval=1d&from=2025-12-01T00:00:00Z&to=2026-01-03T00:00:00Z');
      assert.equal(res.status, 200, res.text);
      EntityQuotes.parse(res.body);
      assert.equal(res.body.raw_from, SEED.rawFrom);
      assert.equal(res.body.data.length, 12, '10 rolled-up days and 2 raw ones');
      const first = res.body.data[0];
      assert.deepEqual(
        [
          first.start,
          first.sources.length,
          first.sources[0].open_usd,
          first.sources[0].close_usd,
          first.sources[0].observations,
          first.spread,
        ],
        ['2025-12-01T00:00:00.000Z', 1, '90', '91', 4, null],
      );
      const jan1 = res.body.data[10];
      assert.equal(jan1.start, '2026-01-01T00:00:00.000Z');
      // hours 0..23: a at 100..123, b at 102..125
      assert.deepEqual(
        jan1.sources.map(
          (s: {
            source: string;
            open_usd: string;
            high_usd: string;
            low_usd: string;
            close_usd: string;
            observations: number;
          }) => [s.source, s.open_usd, s.high_usd, s.low_usd, s.close_usd, s.observations],
        ),
        [
          ['a', '100', '123', '100', '123', 24],
          ['b', '102', '125', '102', '125', 24],
        ],
      );
      assert.deepEqual([jan1.median_usd, jan1.spread], ['124', Math.round((2 / 124) * 1e6) / 1e6]);
    });

    it('pages raw observations by keyset, answers CSV, and refuses minutes before the raw horizon', async () => {
      const page1 = await get('/entities/1/quotes?limit=50');
      assert.equal(page1.status, 200, page1.text);
      ObservationPage.parse(page1.body);
      assert.equal(page1.body.data.length, 50);
      const page2 = await get(`/entities/1/quotes?limit=50&cursor=${page1.body.next_cursor}`);
      assert.equal(page2.body.data.length, SEED.quoteHours * 2 - 50);
      assert.equal(page2.body.next_cursor, null);
      const all = [...page1.body.data, ...page2.body.data].map(
        (o: { observed_at: string; record_id: number }) => `${o.observed_at}/${o.record_id}`,
      );
      assert.deepEqual(all, [...all].sort(), 'oldest first, then by record');
      assertProblem(await get(`/entities/1/quotes?limit=50&source=a&cursor=${page1.body.next_cursor}`), 400, 'cursor');
      assertProblem(
        await get('/entities/1/quotes?interval=1h&from=2025-12-31T00:00:00Z&to=2026-01-01T12:00:00Z'),
        400,
        'from',
      );
      assertProblem(await get('/entities/42/quotes'), 404);
      const csv = await get('/entities/1/quotes?source=b&limit=2', { accept: 'text/csv' });
      assert.match(csv.type, /^text\/csv/);
      assert.equal(csv.text.split('\r\n')[1]!.split(',').slice(0, 4).join(','), '2026-01-01T00:00:00.000000Z,b,4,102');
      const history = await get('/data/1/history');
      assert.equal(history.body.data.length, SEED.quoteHours);
      assert.equal((await get('/data/121/history')).body.data.length, 0, 'an article has no observations');
    });
  });

  describe('runs', () => {
    it('GET /runs lists runs newest first with per-source counts; limit, source and status filter', async () => {
      const res = await get('/runs?limit=3');
      assert.equal(res.status, 200);
      RunPage.parse(res.body);
      assert.deepEqual(ids(res), [12, 11, 10]);
      assert.equal(res.body.total, SEED.runs);
      const latest = res.body.data[0];
      assert.equal(latest.status, 'partial');
      assert.equal(latest.duration_ms, 40_000);
      assert.deepEqual(
        latest.sources.map((s: { source: string; status: string }) => [s.source, s.status]),
        [
          ['a', 'succeeded'],
          ['b', 'failed'],
          ['news', 'unchanged'],
        ],
      );
      assert.deepEqual(ids(await get('/runs?status=partial')), [12]);
      assert.equal((await get('/runs?source=news&limit=1000')).body.total, 12);
      assert.equal((await get('/runs?source=nobody')).body.total, 0);
      assert.deepEqual(ids(await get('/runs?limit=2&offset=10')), [2, 1]);
    });

    it('GET /runs/:id has timings, every per-source count and the errors', async () => {
      const res = await get('/runs/12');
      assert.equal(res.status, 200);
      RunDetail.parse(res.body);
      const a = res.body.data.sources.find((s: { source: string }) => s.source === 'a');
      assert.deepEqual(
        [
          a.fetched_bytes,
          a.fetched_pages,
          a.parsed,
          a.staged,
          a.quarantined,
          a.soft_deleted,
          a.drift_events,
          a.duration_ms,
        ],
        [10000, 1, 30, 15, 15, 4, 2, 30_000],
      );
      assert.ok(
        res.body.errors.some(
          (e: { source: string; message: string }) => e.source === 'b' && /HTTP 503/.test(e.message),
        ),
      );
      const b = res.body.data.sources.find((s: { source: string }) => s.source === 'b');
      assert.deepEqual(b.attempts, { fetchSource: 5 });
      assert.deepEqual(
        b.attempt_errors.map((e: { stage: string; attempt: number; error: string }) => [e.stage, e.attempt, e.error]),
        [['fetchSource', 1, 'HTTP 503']],
      );
      assert.equal(
        res.body.data.ui_url,
        'http://ui.test:8233/namespaces/default/workflows/wf-12/00000000-0000-4000-8000-000000000012',
      );
      assert.deepEqual(
        res.body.anomalies.map((a: { rule: string; source: string | null }) => [a.rule, a.source]),
        [
          ['source_failed', 'b'],
          ['record_count_change', 'a'],
          ['price_divergence', null],
        ],
      );
      const divergence = res.body.anomalies[2];
      assert.equal(divergence.entity_id, 1);
      assert.deepEqual(
        divergence.details.quotes.map((q: { source: string }) => q.source),
        ['a', 'b'],
      );
      const guarded = await get('/runs/11');
      assert.ok(guarded.body.errors.some((e: { message: string }) => /delete guard: held 25 of 50/.test(e.message)));
      assert.deepEqual(guarded.body.anomalies, []);
      assertProblem(await get('/runs/4040'), 404);
      assertProblem(await get('/runs/abc'), 400, 'id');
    });

    it('GET /compare-runs reports count and duration differences and the anomalies of the second run', async () => {
      const res = await get('/compare-runs?run_id_1=11&run_id_2=12');
      assert.equal(res.status, 200, res.text);
      CompareRuns.parse(res.body);
      const a = res.body.sources.find((s: { source: string }) => s.source === 'a');
      assert.equal(a.delta.parsed, -70);
      assert.equal(a.delta.duration_ms, 20_000);
      assert.deepEqual(a.anomalies.map((x: { rule: string }) => x.rule).sort(), [
        'duration_spike',
        'quarantine_spike',
        'record_count_change',
      ]);
      const b = res.body.sources.find((s: { source: string }) => s.source === 'b');
      assert.deepEqual(
        b.anomalies.map((x: { rule: string }) => x.rule),
        ['source_failed'],
      );
      const news = res.body.sources.find((s: { source: string }) => s.source === 'news');
      assert.deepEqual(news.anomalies, [], 'an unchanged source parsed nothing: not a record drop');
      // the other way round, only the record count of a (30 → 100) stands out: b failed in the reference, so it has none
      const reverse = await get('/compare-runs?run_id_1=12&run_id_2=11');
      assert.deepEqual(
        reverse.body.anomalies.map((x: { rule: string; source: string }) => `${x.source}:${x.rule}`),
        ['a:record_count_change'],
      );
      const same = await get('/compare-runs?run_id_1=3&run_id_2=4');
      assert.deepEqual(same.body.anomalies, []);
      assert.equal(same.body.duration_ms_delta, 0);
    });

    it('GET /compare-runs: 400 without both ids, 404 for an unknown one', async () => {
      const none = await get('/compare-runs');
      assertProblem(none, 400, 'run_id_1');
      assertProblem(none, 400, 'run_id_2');
      assertProblem(await get('/compare-runs?run_id_1=1'), 400, 'run_id_2');
      assertProblem(await get('/compare-runs?run_id_1=x&run_id_2=1'), 400, 'run_id_1');
      const unknown = await get('/compare-runs?run_id_1=1&run_id_2=999');
      assertProblem(unknown, 404);
      assert.match(unknown.body.detail, /run_id_2/);
    });

    it('GET /runs/anomalies checks the latest run against the median of previous completed runs', async () => {
      const res = await get('/runs/anomalies');
      assert.equal(res.status, 200, res.text);
      RunAnomalies.parse(res.body);
      assert.equal(res.body.run.id, 12);
      const a = res.body.sources.find((s: { source: string }) => s.source === 'a');
      assert.deepEqual(a.baseline, { runs: 10, records: 100, quarantine_share: 0.01, duration_ms: 10_000 });
      assert.deepEqual(a.anomalies.map((x: { rule: string }) => x.rule).sort(), [
        'duration_spike',
        'quarantine_spike',
        'record_count_change',
      ]);
      assert.deepEqual(
        res.body.anomalies.map((x: { rule: string; source: string | null }) => `${x.source}:${x.rule}`).sort(),
        ['a:duration_spike', 'a:quarantine_spike', 'a:record_count_change', 'b:source_failed'],
      );
      const older = await get('/runs/anomalies?run_id=6');
      assert.deepEqual(older.body.anomalies, []);
      assert.equal(older.body.sources[0].baseline.runs, 5);
      assertProblem(await get('/runs/anomalies?run_id=999'), 404);
      assertProblem(await get('/runs/anomalies?run_id=x'), 400, 'run_id');
    });

    it('GET /runs answers bad input with 400 naming the parameter', async () => {
      for (const [query, param] of [
        ['limit=0', 'limit'],
        ['limit=1001', 'limit'],
        ['offset=-1', 'offset'],
        ['source=UPPER', 'source'],
        ['status=done', 'status'],
        ['page=2', 'page'],
      ] as const) {
        assertProblem(await get(`/runs?${query}`), 400, param);
      }
    });
  });

  describe('GET /stats and GET /metrics', () => {
    it('GET /stats: per source runs, records processed, durations, last success and failure; totals', async () => {
      const res = await get('/stats');
      assert.equal(res.status, 200, res.text);
      Stats.parse(res.body);
      const a = res.body.sources.find((s: { source: string }) => s.source === 'a');
      assert.equal(a.records_processed, 11 * 100 + 30);
      assert.deepEqual(a.runs, { total: 12, succeeded: 12, unchanged: 0, failed: 0, running: 0 });
      assert.equal(a.duration_ms.p50, 10_000);
      assert.equal(a.duration_ms.max, 30_000);
      assert.equal(a.last_success.run_id, 12);
      assert.equal(a.last_failure, null);
      assert.equal(a.drift_events, 2);
      const b = res.body.sources.find((s: { source: string }) => s.source === 'b');
      assert.equal(b.last_failure.run_id, 12);
      assert.equal(b.last_failure.error, 'fetch failed: HTTP 503');
      assert.equal(b.last_success.run_id, 11);
      const news = res.body.sources.find((s: { source: string }) => s.source === 'news');
      assert.equal(news.last_success.run_id, 12, 'unchanged counts as a success');
      const { totals } = res.body;
      assert.deepEqual(totals.records, { live: 125, deleted: 1 });
      assert.deepEqual(
        totals.records_by_source.find((r: { source: string }) => r.source === 'b'),
        { source: 'b', kind: 'asset', live: 59, deleted: 1 },
      );
      assert.equal(totals.entities.total, 3);
      assert.equal(totals.quarantine.total, 3);
      assert.equal(totals.drift_events.total, 3);
      assert.equal(totals.runs.total, 12);
    });

    it('GET /metrics serves Prometheus text computed from the database, and request durations by route template', async () => {
      await get('/data/5');
      await get('/data/6');
      await get('/data/nope');
      const res = await get('/metrics');
      assert.equal(res.status, 200);
      assert.match(res.type, /^text\/plain; version=0\.0\.4/);
      const value = (line: string) => {
        const found = res.text.split('\n').find((l) => l.startsWith(`${line} `));
        assert.ok(found, `metric line ${line}`);
        return Number(found.slice(line.length + 1));
      };
      assert.equal(value('etl_records_total{source="a",outcome="inserted"}'), 99 + 11 * 2);
      assert.equal(value('etl_records_total{source="a",outcome="quarantined"}'), 11 + 15);
      assert.equal(value('etl_records_total{source="a",outcome="soft_deleted"}'), 4);
      assert.equal(value('etl_records_total{source="b",outcome="unchanged"}'), 10 * 60);
      assert.equal(value('etl_quarantined_records{source="a"}'), 15, "the latest run's quarantine");
      assert.equal(value('etl_delete_guard_trips_total{source="a"}'), 1);
      assert.equal(value('etl_unchanged_skips_total{source="news"}'), 1);
      assert.equal(value('etl_drift_events_total{source="a",change="renamed",action="reported"}'), 1);
      assert.equal(value('etl_runs_total{status="partial"}'), 1);
      assert.equal(value('etl_run_anomalies_total{rule="record_count_change",source="a"}'), 1);
      assert.equal(value('etl_source_run_duration_seconds_bucket{source="a",le="5"}'), 0);
      assert.equal(value('etl_source_run_duration_seconds_bucket{source="a",le="15"}'), 11);
      assert.equal(value('etl_source_run_duration_seconds_bucket{source="a",le="+Inf"}'), 12);
      assert.equal(value('etl_source_run_duration_seconds_sum{source="a"}'), 11 * 10 + 30);
      assert.equal(value('etl_run_duration_seconds_count'), 12);
      assert.match(res.text, /# TYPE etl_source_run_duration_seconds histogram/);
      assert.ok(
        value('etl_api_http_request_duration_seconds_count{method="GET",route="/data/:id",status="200"}') >= 2,
        'by route template, not path',
      );
      assert.ok(value('etl_api_http_request_duration_seconds_count{method="GET",route="/data/:id",status="400"}') >= 1);
      assert.doesNotMatch(res.text, /route="\/data\/5"/);
    });
  });

  describe('Temporal unreachable', () => {
    it("GET /health answers 200 degraded with the last run and each source's latest outcome", async () => {
      const res = await get('/health');
      assert.equal(res.status, 200);
      Health.parse(res.body);
      assert.equal(res.body.status, 'degraded');
      assert.equal(res.body.database, 'up');
      assert.equal(res.body.temporal, 'down');
      assert.equal(res.body.schedule, null);
      assert.equal(res.body.last_run.workflow_id, 'wf-12');
      assert.deepEqual(
        res.body.sources.map((s: { source: string; run_id: number; status: string }) => [s.source, s.run_id, s.status]),
        [
          ['a', 12, 'succeeded'],
          ['b', 12, 'failed'],
          ['news', 12, 'unchanged'],
        ],
      );
    });

    it('answers 503 problems for history, POST /runs and the schedule switch, while database reads go on', async () => {
      const history = await get('/runs/1/history');
      assertProblem(history, 503);
      assert.ok(history.headers.get('retry-after'));
      assertProblem(await get('/runs/999/history'), 404); // the unknown run is known without Temporal
      assertProblem(await post('/runs', {}, { 'X-API-Key': API_KEY }), 503);
      assertProblem(await post('/schedules/etl-ingest/pause', { note: 'x' }, { 'X-API-Key': API_KEY }), 503);
      assert.equal((await get('/data?limit=1')).status, 200);
      assert.equal((await get('/runs/1')).status, 200);
    });
  });

  describe('auth on the write endpoints', () => {
    it('answers 401 without a key, with a wrong key, and to everyone when API_KEY is unset', async () => {
      for (const path of ['/runs', '/schedules/etl-ingest/pause', '/schedules/etl-ingest/unpause']) {
        assertProblem(await post(path, {}), 401);
        assertProblem(await post(path, {}, { 'X-API-Key': 'wrong' }), 401);
        assertProblem(await post(path, {}, { 'X-API-Key': API_KEY.slice(0, -1) }), 401);
        assertProblem(await post(path, {}, { 'X-API-Key': `${API_KEY}x` }), 401);
      }
      const unset = await serve(db, temporal, apiSettings({ API_KEY: '' }));
      try {
        assertProblem(await request(`${unset.url}/runs`, { method: 'POST', headers: { 'X-API-Key': API_KEY } }), 401);
        assertProblem(await request(`${unset.url}/runs`, { method: 'POST', headers: { 'X-API-Key': '' } }), 401);
      } finally {
        unset.server.close();
      }
    });

    it('checks the key before the body, validates the body, and never logs the key', async () => {
      assertProblem(await post('/runs', { source_ids: 'nope' }), 401);
      assertProblem(await post('/runs', { source_ids: 'nope' }, { 'X-API-Key': API_KEY }), 400, 'source_ids');
      assertProblem(await post('/runs', { source_ids: [] }, { 'X-API-Key': API_KEY }), 400, 'source_ids');
      assertProblem(await post('/runs', { source_ids: ['Bad Id'] }, { 'X-API-Key': API_KEY }), 400, 'source_ids.0');
      assertProblem(
        await post('/runs', { source_ids: ['no-such-source'] }, { 'X-API-Key': API_KEY }),
        400,
        'source_ids',
      );
      assertProblem(await post('/runs', { sources: ['csv-assets'] }, { 'X-API-Key': API_KEY }), 400, 'sources');
      assertProblem(await post('/runs', [1], { 'X-API-Key': API_KEY }), 400, 'body');
      assertProblem(await post('/schedules/etl-ingest/pause', { note: 7 }, { 'X-API-Key': API_KEY }), 400, 'note');
      assertProblem(await post('/schedules/etl-retention/pause', {}, { 'X-API-Key': API_KEY }), 404);

      const lines: string[] = [];
      const sink = new Writable({
        write: (chunk, _enc, done) => {
          lines.push(String(chunk));
          done();
        },
      });
      const logged = await serve(db, temporal, apiSettings(), pino({ level: 'info' }, sink));
      try {
        const res = await request(`${logged.url}/runs`, {
          method: 'POST',
          headers: { 'X-API-Key': API_KEY, 'X-Request-Id': 'trace-me-1' },
        });
        assert.equal(res.status, 503);
        await request(`${logged.url}/runs`, {
          method: 'POST',
          headers: { 'X-API-Key': 'a-wrong-key-to-hide', 'X-Request-Id': 'trace-me-2' },
        });
      } finally {
        logged.server.close();
      }
      const text = lines.join('');
      assert.match(text, /trace-me-1/, 'request logs carry the request id');
      assert.match(text, /trace-me-2/);
      assert.ok(!text.includes(API_KEY) && !text.includes('a-wrong-key-to-hide'), 'the key is never logged');
    });
  });

  describe('HTTP hardening', () => {
    it('caps the body at 16 kB (413), refuses non-JSON bodies (415) and malformed JSON (400)', async () => {
      const key = { 'X-API-Key': API_KEY };
      assertProblem(await post('/runs', JSON.stringify({ source_ids: ['a'.repeat(17_000)] }), key), 413);
      assertProblem(await post('/runs', '{"source_ids": [', key), 400, 'body');
      assertProblem(
        await request(`${url}/runs`, {
          method: 'POST',
          headers: { ...key, 'content-type': 'text/plain' },
          body: 'source_ids=a',
        }),
        415,
      );
    });

    it('sets security headers, answers CORS only for configured origins, 405 for other methods, 404 for unknown routes', async () => {
      const res = await get('/data?limit=1', { Origin: 'https://dash.example' });
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.ok(res.headers.get('content-security-policy'));
      assert.equal(res.headers.get('x-powered-by'), null);
      assert.equal(res.headers.get('access-control-allow-origin'), 'https://dash.example');
      assert.match(res.headers.get('access-control-expose-headers') ?? '', /X-Request-Id/);
      const other = await get('/data?limit=1', { Origin: 'https://evil.example' });
      assert.equal(other.headers.get('access-control-allow-origin'), null);
      const preflight = await request(`${url}/runs`, {
        method: 'OPTIONS',
        headers: {
          Origin: 'https://dash.example',
          'Access-Control-Request-Method': 'POST',
          'Access-Control-Request-Headers': 'x-api-key,content-type',
        },
      });
      assert.equal(preflight.status, 204);
      assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /X-API-Key/i);

      const del = await request(`${url}/data`, { method: 'DELETE' });
      assertProblem(del, 405);
      assert.match(del.headers.get('allow') ?? '', /GET/);
      const missing = await get('/nope', { 'X-Request-Id': 'abc-123' });
      assertProblem(missing, 404);
      assert.equal(missing.requestId, 'abc-123');
      const hostile = await get('/data?limit=1', { 'X-Request-Id': 'bad id with spaces' });
      assert.notEqual(hostile.requestId, 'bad id with spaces');
      assert.equal(hostile.body.request_id, hostile.requestId);
      assertProblem(await get('/data/%E0%A4%A'), 400);
    });

    it('serves /openapi.json (OpenAPI 3.1, every endpoint) and Swagger UI at /docs from local assets', async () => {
      const spec = await get('/openapi.json');
      assert.equal(spec.status, 200);
      assert.equal(spec.body.openapi, '3.1.0');
      const operations = Object.entries(spec.body.paths as Record<string, Record<string, unknown>>).flatMap(
        ([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
      );
      for (const op of [
        'GET /health',
        'GET /data',
        'GET /data/{id}',
        'GET /entities',
        'GET /entities/{id}',
        'GET /runs',
        'GET /runs/{id}',
        'GET /runs/{id}/history',
        'GET /runs/anomalies',
        'GET /compare-runs',
        'GET /stats',
        'GET /metrics',
        'POST /runs',
        'POST /schedules/{scheduleId}/pause',
        'POST /schedules/{scheduleId}/unpause',
        'GET /openapi.json',
      ]) {
        assert.ok(operations.includes(op), op);
      }
      const limit = spec.body.paths['/data'].get.parameters.find((p: { name: string }) => p.name === 'limit');
      assert.deepEqual(
        [limit.schema.type, limit.schema.minimum, limit.schema.maximum, limit.required],
        ['integer', 1, 1000, false],
      );
      assert.deepEqual(spec.body.paths['/runs'].post.security, [{ ApiKey: [] }]);
      assert.ok(spec.body.components.schemas.DataPage);

      const redirect = await fetch(`${url}/docs`, { redirect: 'manual' });
      assert.equal(redirect.status, 301);
      const page = await get('/docs/');
      assert.equal(page.status, 200);
      assert.match(page.type, /text\/html/);
      assert.match(page.text, /swagger-ui-bundle\.js/);
      for (const asset of ['swagger-ui-bundle.js', 'swagger-ui.css', 'init.js']) {
        const res = await fetch(`${url}/docs/${asset}`);
        assert.equal(res.status, 200, asset);
        await res.arrayBuffer();
      }
      assert.match((await get('/docs/init.js')).text, /\.\.\/openapi\.json/);
    });

    it('refuses unknown query parameters on every endpoint', async () => {
      for (const path of ['/health', '/stats', '/metrics', '/runs/1', '/entities/1', '/openapi.json'])
        assertProblem(await get(`${path}?x=1`), 400, 'x');
    });
  });

  describe('database down', () => {
    it('answers 503 problems (health: 503 with database down) instead of 500s', async () => {
      // a TCP proxy in front of PostgreSQL that the test can cut
      const target = new URL(process.env.TEST_DATABASE_URL!);
      const sockets = new Set<net.Socket>();
      const proxy = net.createServer((client) => {
        const upstream = net.connect(Number(target.port), target.hostname);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('error', () => undefined);
          s.on('close', () => sockets.delete(s));
        }
        client.pipe(upstream).pipe(client);
      });
      proxy.listen(0, '127.0.0.1');
      await once(proxy, 'listening');
      const viaProxy = new URL(target);
      viaProxy.port = String((proxy.address() as AddressInfo).port);
      const fragile = await openDatabase(viaProxy.toString());
      const app = await serve(fragile, temporal, apiSettings());
      try {
        assert.equal((await request(`${app.url}/data?limit=1`)).status, 200);
        proxy.close();
        for (const s of sockets) s.destroy();
        for (const path of [
          '/data?limit=1',
          '/data/1',
          '/entities',
          '/runs',
          '/runs/1',
          '/stats',
          '/metrics',
          '/compare-runs?run_id_1=1&run_id_2=2',
        ]) {
          assertProblem(await request(app.url + path), 503);
        }
        const health = await request(`${app.url}/health`);
        assert.equal(health.status, 503);
        assert.equal(health.body.database, 'down');
      } finally {
        app.server.close();
        await fragile.close().catch(() => undefined);
      }
    });
  });
});
