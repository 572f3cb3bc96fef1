// HTTP tests of the API against the real test database. Temporal is deliberately unreachable here
// (a lazy connection to a closed port): /health must report it, not fail.
import { Client, Connection } from '@temporalio/client';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo, Server } from 'node:net';
import pg from 'pg';
import { createApp } from '../../src/api/app.ts';
import type { Database } from '../../src/db/orm.ts';
import { freePort } from '../setup.ts';
import { fetchJson, quietLog, testDatabase, truncateAll } from '../helpers.ts';

async function serve(db: Database, temporal: Client): Promise<{ server: Server; url: string }> {
  const server = createApp({ db, temporal, log: quietLog }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('API (real PostgreSQL)', () => {
  let db: Database;
  let temporal: Client;
  let server: Server;
  let url: string;

  before(async () => {
    db = await testDatabase();
    await truncateAll(db);
    temporal = new Client({ connection: Connection.lazy({ address: `127.0.0.1:${await freePort()}` }) });
    ({ server, url } = await serve(db, temporal));
    // 120 asset records of two sources; every third one is BTC-like so filters have something to find
    await db.pool.query(`INSERT INTO run (workflow_id, temporal_run_id, status) VALUES ('wf-api', 'r1', 'succeeded')`);
    await db.pool.query(`INSERT INTO raw_payload (run_id, source_id, url, status) VALUES (1, 'a', 'file:///a.csv', 'stored')`);
    await db.pool.query(`
      INSERT INTO record (kind, source_id, source_key, symbol, name, price_usd, content_hash, raw_payload_id, raw_position, run_id, first_run_id, deleted_at)
      SELECT 'asset', CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END, 'key-' || i, CASE WHEN i % 3 = 0 THEN 'BTC' ELSE 'C' || i END,
             'Coin ' || i, (i * 1.5)::numeric, md5(i::text), 1, i, 1, 1, CASE WHEN i = 119 THEN now() END
      FROM generate_series(0, 119) AS i`);
  });
  after(async () => {
    server?.close();
    await temporal?.connection.close().catch(() => undefined);
    await db?.close();
  });

  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetchJson(url + path, { headers });
    return { ...res, type: res.headers.get('content-type') ?? '', requestId: res.headers.get('x-request-id') };
  };

  it('GET /data pages through live records with limit and offset, newest id last', async () => {
    const first = await get('/data');
    assert.equal(first.status, 200);
    assert.equal(first.body.total, 119, 'the soft-deleted record is not served');
    assert.equal(first.body.limit, 50);
    assert.equal(first.body.data.length, 50);
    const second = await get('/data?limit=50&offset=100');
    assert.equal(second.body.data.length, 19);
    assert.equal(second.body.offset, 100);
    const ids = [...first.body.data, ...second.body.data].map((r: { id: number }) => r.id);
    assert.deepEqual(ids, [...ids].sort((x, y) => x - y));
    assert.equal(first.body.data[0].price_usd, '0.0', 'numerics are served as exact decimal strings');
    assert.equal(first.body.request_id, first.requestId);
    assert.ok(first.body.api_latency_ms >= 0);
  });

  it('GET /data filters by source and by symbol, case-insensitively', async () => {
    const a = await get('/data?source=a&limit=1000');
    assert.equal(a.body.total, 60);
    assert.ok(a.body.data.every((r: { source: string }) => r.source === 'a'));
    const btc = await get('/data?symbol=btc&source=b&limit=1000');
    assert.equal(btc.body.total, 20);
    assert.ok(btc.body.data.every((r: { symbol: string; source: string }) => r.symbol === 'BTC' && r.source === 'b'));
  });

  it('answers bad input with a 400 problem that names the parameter', async () => {
    for (const [query, param] of [
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=abc', 'limit'],
      ['offset=-1', 'offset'],
      ['limit=1&limit=2', 'limit'],
      ['colour=red', 'colour'],
    ] as const) {
      const res = await get(`/data?${query}`);
      assert.equal(res.status, 400, query);
      assert.match(res.type, /application\/problem\+json/);
      assert.equal(res.body.status, 400);
      assert.ok(res.body.invalid_params.some((p: { name: string }) => p.name === param), `${query} names ${param}`);
      assert.ok(!JSON.stringify(res.body).includes('at '), 'no stack trace');
    }
  });

  it('answers unknown routes with a 404 problem, and echoes a well-formed X-Request-Id', async () => {
    const res = await get('/nope', { 'X-Request-Id': 'abc-123' });
    assert.equal(res.status, 404);
    assert.equal(res.body.title, 'Not Found');
    assert.equal(res.requestId, 'abc-123');
    const hostile = await get('/data?limit=1', { 'X-Request-Id': 'bad id with spaces' });
    assert.notEqual(hostile.requestId, 'bad id with spaces');
    assert.equal(hostile.body.request_id, hostile.requestId);
  });

  it('GET /health reports Temporal down as degraded, with the last run', async () => {
    const res = await get('/health');
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'degraded');
    assert.equal(res.body.database, 'up');
    assert.equal(res.body.temporal, 'down');
    assert.equal(res.body.last_run.workflow_id, 'wf-api');
  });

  it('GET /health answers 503 when the database is down', async () => {
    const down = new pg.Pool({ host: '127.0.0.1', port: await freePort(), connectionTimeoutMillis: 500 });
    const broken = { ...db, pool: down } as Database;
    const other = await serve(broken, temporal);
    try {
      const res = await fetchJson(`${other.url}/health`);
      assert.equal(res.status, 503);
      assert.equal(res.body.database, 'down');
    } finally {
      other.server.close();
      await down.end();
    }
  });
});
