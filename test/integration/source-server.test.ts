// The local source server over real HTTP: routes, validators, compression, and every fault knob.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { createSourceServer, type SourceServer } from '../../src/sourceserver/server.ts';
import { fetchJson, quietLog, tempDir } from '../helpers.ts';

const API_KEY = 'demo-key';
const tickers = [
  { id: 'btc-bitcoin', symbol: 'BTC', quotes: { USD: { price: 64000.5 } } },
  { id: 'eth-ethereum', symbol: 'ETH', quotes: { USD: { price: 3100.25 } } },
];
const coins = Array.from({ length: 7 }, (_, i) => ({
  id: `coin-${i + 1}`,
  symbol: `c${i + 1}`,
  current_price: i + 0.5,
}));
const csv = 'symbol,name,price_usd\nBTC,Bitcoin,64000.5\nETH,Ethereum,3100.25\n';
const rss =
  '<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel><title>t</title><item><title>a</title></item></channel></rss>';

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** false when the connection ended before the promised body. */
  complete: boolean;
}

/** A request that sends the path verbatim (fetch would normalize '..') and decompresses nothing. */
function rawGet(base: string, requestPath: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}${requestPath}`, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', () => undefined);
      res.on('close', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          complete: res.complete,
        }),
      );
    });
    req.on('error', reject);
  });
}

describe('source server', () => {
  let root: string;
  let outside: string;
  let server: SourceServer;
  let url: string;
  const gecko = (query: string, headers: Record<string, string> = { 'x-cg-demo-api-key': API_KEY }) =>
    fetchJson(`${url}/coingecko/api/v3/coins/markets?${query}`, { headers });

  before(async () => {
    outside = tempDir('source-server');
    root = path.join(outside, 'root');
    fs.mkdirSync(path.join(root, 'nested'), { recursive: true });
    fs.writeFileSync(path.join(root, 'coinpaprika-tickers.json'), JSON.stringify(tickers));
    fs.writeFileSync(path.join(root, 'coingecko-markets.json'), JSON.stringify(coins));
    fs.writeFileSync(path.join(root, 'sample.csv'), csv);
    fs.writeFileSync(path.join(root, 'feed.rss'), rss);
    fs.writeFileSync(path.join(root, 'nested', 'feed.atom'), '<feed xmlns="http://www.w3.org/2005/Atom"/>');
    fs.writeFileSync(path.join(root, 'nested', 'blob.bin'), Buffer.from([1, 2, 3]));
    fs.writeFileSync(path.join(outside, 'secret.txt'), 'top secret');
    fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(root, 'escape.txt'));
    server = createSourceServer({ root, log: quietLog, coingeckoApiKey: API_KEY });
    url = await server.listen(0);
  });
  afterEach(() => {
    server.setFaults([]);
    server.requests.length = 0;
  });
  after(async () => {
    await server?.close();
    fs.rmSync(outside, { recursive: true, force: true });
  });

  describe('routes', () => {
    it('serves the CoinPaprika tickers file as JSON', async () => {
      const res = await fetchJson(`${url}/coinpaprika/v1/tickers`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.deepEqual(res.body, tickers);
    });

    it('pages CoinGecko markets with per_page and page', async () => {
      const pages = [];
      for (const page of [1, 2, 3, 4]) {
        const res = await gecko(`vs_currency=usd&per_page=3&page=${page}`);
        assert.equal(res.status, 200);
        pages.push(res.body.map((coin: { id: string }) => coin.id));
      }
      assert.deepEqual(
        pages.map((p) => p.length),
        [3, 3, 1, 0],
      );
      assert.deepEqual(
        pages.flat(),
        coins.map((coin) => coin.id),
      );
      const all = await gecko('vs_currency=usd');
      assert.equal(all.body.length, 7, 'per_page defaults to 100 and page to 1');
      assert.deepEqual(
        server.requests.map((r) => r.query.page),
        ['1', '2', '3', '4', undefined],
      );
    });

    it('answers bad CoinGecko parameters with 400 and a JSON error', async () => {
      for (const query of [
        'per_page=0',
        'per_page=251',
        'per_page=abc',
        'per_page=2.5',
        'page=0',
        'page=-1',
        'page=x',
      ]) {
        const res = await gecko(`vs_currency=usd&${query}`);
        assert.equal(res.status, 400, query);
        assert.match(res.body.error, /per_page|page|vs_currency/, query);
      }
      for (const query of ['per_page=3', 'vs_currency=']) {
        const missing = await gecko(query);
        assert.equal(missing.status, 400, query);
        assert.equal(missing.body.error, 'Missing parameter vs_currency', query);
      }
      assert.equal((await gecko('vs_currency=eur')).status, 400, 'the demo data is in USD only');
      assert.equal((await gecko('vs_currency=usd&per_page=250')).status, 200);
    });

    it('requires the configured CoinGecko demo API key', async () => {
      const missing = await gecko('vs_currency=usd', {});
      assert.equal(missing.status, 401);
      assert.equal(missing.body.status.error_message, 'API Key Missing');
      const wrong = await gecko('vs_currency=usd', { 'x-cg-demo-api-key': 'nope' });
      assert.equal(wrong.status, 401);
      assert.deepEqual(
        server.requests.map((r) => [r.hasApiKey, r.status]),
        [
          [false, 401],
          [true, 401],
        ],
      );
    });

    it('serves files under the root with content types by extension, without charset', async () => {
      for (const [file, type, content] of [
        ['sample.csv', 'text/csv', csv],
        ['feed.rss', 'application/rss+xml', rss],
        ['coingecko-markets.json', 'application/json', JSON.stringify(coins)],
        ['nested/feed.atom', 'application/atom+xml', '<feed xmlns="http://www.w3.org/2005/Atom"/>'],
        ['nested/blob.bin', 'application/octet-stream', '\x01\x02\x03'],
      ]) {
        const res = await fetch(`${url}/files/${file}`);
        assert.equal(res.status, 200, file);
        assert.equal(res.headers.get('content-type'), type, file);
        assert.equal(await res.text(), content, file);
      }
    });

    it('never serves outside the root, and answers unknown paths with 404', async () => {
      for (const attempt of [
        '/files/../secret.txt',
        '/files/..%2Fsecret.txt',
        '/files/%2e%2e/secret.txt',
        '/files/nested/..%2F..%2Fsecret.txt',
        `/files/${encodeURIComponent(path.join(outside, 'secret.txt'))}`,
        '/files/escape.txt',
        '/files/nested',
        '/files/',
        '/files/missing.csv',
        '/nope',
        '/coinpaprika/v1/tickers/extra',
      ]) {
        const res = await rawGet(url, attempt);
        assert.equal(res.status, 404, attempt);
        assert.ok(!res.body.toString().includes('top secret'), attempt);
      }
    });
  });

  describe('validators and compression', () => {
    const tickersUrl = () => `${url}/coinpaprika/v1/tickers`;

    it('answers 304 to a matching If-None-Match, and changes the ETag with the content', async () => {
      const first = await fetch(tickersUrl());
      const etag = first.headers.get('etag') ?? '';
      assert.match(etag, /^"[\w-]+"$/, 'a strong, quoted ETag');
      await first.arrayBuffer();
      const again = await fetch(tickersUrl(), { headers: { 'if-none-match': etag } });
      assert.equal(again.status, 304);
      assert.equal(await again.text(), '');
      assert.equal(again.headers.get('etag'), etag);
      const other = await fetch(tickersUrl(), { headers: { 'if-none-match': '"something-else"' } });
      assert.equal(other.status, 200);
      await other.arrayBuffer();

      fs.writeFileSync(path.join(root, 'coinpaprika-tickers.json'), JSON.stringify(tickers.slice(0, 1)));
      try {
        const changed = await fetchJson(tickersUrl(), { headers: { 'if-none-match': etag } });
        assert.equal(changed.status, 200, 'the old ETag no longer matches');
        assert.notEqual(changed.headers.get('etag'), etag);
        assert.deepEqual(changed.body, tickers.slice(0, 1));
      } finally {
        fs.writeFileSync(path.join(root, 'coinpaprika-tickers.json'), JSON.stringify(tickers));
      }
      assert.deepEqual(
        server.requests.map((r) => [r.ifNoneMatch, r.status]),
        [
          [undefined, 200],
          [etag, 304],
          ['"something-else"', 200],
          [etag, 200],
        ],
      );
    });

    it('gives every CoinGecko page its own ETag', async () => {
      const tags = new Set<string | null>();
      for (const page of [1, 2, 3])
        tags.add((await gecko(`vs_currency=usd&per_page=3&page=${page}`)).headers.get('etag'));
      assert.equal(tags.size, 3);
      assert.ok(!tags.has(null));
    });

    it('answers If-Modified-Since at or after the file mtime with 304, earlier with 200', async () => {
      const mtime = new Date('2024-03-01T12:00:00.750Z');
      fs.utimesSync(path.join(root, 'sample.csv'), mtime, mtime);
      const res = await fetch(`${url}/files/sample.csv`);
      assert.equal(res.headers.get('last-modified'), 'Fri, 01 Mar 2024 12:00:00 GMT');
      await res.arrayBuffer();
      const since = (value: string, extra: Record<string, string> = {}) =>
        fetch(`${url}/files/sample.csv`, { headers: { 'if-modified-since': value, ...extra } }).then(async (r) => {
          await r.arrayBuffer();
          return r.status;
        });
      assert.equal(await since('Fri, 01 Mar 2024 12:00:00 GMT'), 304, 'second precision');
      assert.equal(await since('Sat, 02 Mar 2024 00:00:00 GMT'), 304);
      assert.equal(await since('Fri, 01 Mar 2024 11:59:59 GMT'), 200);
      assert.equal(await since('not a date'), 200);
      assert.equal(
        await since('Sat, 02 Mar 2024 00:00:00 GMT', { 'if-none-match': '"other"' }),
        200,
        'If-None-Match takes precedence',
      );
      assert.equal(server.requests[1]?.ifModifiedSince, 'Fri, 01 Mar 2024 12:00:00 GMT');
    });

    it('compresses with gzip, else deflate, else not at all', async () => {
      const gzip = await rawGet(url, '/files/sample.csv', { 'accept-encoding': 'br, gzip, deflate' });
      assert.equal(gzip.headers['content-encoding'], 'gzip');
      assert.equal(gzip.headers.vary, 'Accept-Encoding');
      assert.equal(Number(gzip.headers['content-length']), gzip.body.length);
      assert.equal(zlib.gunzipSync(gzip.body).toString(), csv);
      const deflate = await rawGet(url, '/files/sample.csv', { 'accept-encoding': 'deflate, gzip;q=0' });
      assert.equal(deflate.headers['content-encoding'], 'deflate');
      assert.equal(zlib.inflateSync(deflate.body).toString(), csv);
      const identity = await rawGet(url, '/files/sample.csv');
      assert.equal(identity.headers['content-encoding'], undefined);
      assert.equal(identity.headers['content-length'], String(Buffer.byteLength(csv)));
      assert.equal(identity.body.toString(), csv);
      assert.equal(gzip.headers.etag, identity.headers.etag, 'the ETag is of the uncompressed body');
      const viaFetch = await fetch(`${url}/files/sample.csv`);
      assert.equal(await viaFetch.text(), csv, 'fetch decompresses');
    });
  });

  describe('faults', () => {
    it('answers an injected status with Retry-After, on matching paths only', async () => {
      server.setFaults([{ path: '/coingecko', status: 429, retryAfter: 7 }]);
      const limited = await gecko('vs_currency=usd');
      assert.equal(limited.status, 429);
      assert.equal(limited.headers.get('retry-after'), '7');
      assert.match(limited.body.error, /Too Many Requests/);
      assert.equal(await fetch(`${url}/coinpaprika/v1/tickers`).then((r) => r.status), 200);
      server.setFaults([{ path: '/files', status: 503, retryAfter: 'Wed, 21 Oct 2037 07:28:00 GMT' }]);
      const unavailable = await fetchJson(`${url}/files/sample.csv`);
      assert.equal(unavailable.status, 503);
      assert.equal(unavailable.headers.get('retry-after'), 'Wed, 21 Oct 2037 07:28:00 GMT');
    });

    it('expires a rule after `times` matches, then checks the next rules in order', async () => {
      server.setFaults([
        { path: '/coinpaprika', times: 2, status: 500 },
        { path: '/coinpaprika', times: 1, status: 502 },
        { path: '/coinpaprika', probability: 0, status: 404 },
      ]);
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push(await fetch(`${url}/coinpaprika/v1/tickers`).then((r) => r.status));
      assert.deepEqual(statuses, [500, 500, 502, 200, 200]);
      assert.deepEqual(
        server.requests.map((r) => r.status),
        statuses,
      );
    });

    it('delays answers by latencyMs', async () => {
      server.setFaults([{ path: '/coinpaprika', latencyMs: 300 }]);
      const started = performance.now();
      const res = await fetchJson(`${url}/coinpaprika/v1/tickers`);
      assert.ok(performance.now() - started >= 280, 'answered after the latency');
      assert.deepEqual(res.body, tickers);
      await assert.rejects(fetch(`${url}/coinpaprika/v1/tickers`, { signal: AbortSignal.timeout(100) }), {
        name: 'TimeoutError',
      });
    });

    it('truncates the body after truncateAt bytes while promising the full length', async () => {
      server.setFaults([{ path: '/files', truncateAt: 10 }]);
      const raw = await rawGet(url, '/files/sample.csv');
      assert.equal(raw.status, 200);
      assert.equal(raw.headers['content-length'], String(Buffer.byteLength(csv)));
      assert.equal(raw.complete, false);
      assert.equal(raw.body.toString(), csv.slice(0, 10));
      const res = await fetch(`${url}/files/sample.csv`);
      await assert.rejects(res.text());
    });

    it('answers garbage that is not valid for the content type', async () => {
      server.setFaults([{ path: '/coinpaprika', garbage: true }]);
      const res = await fetch(`${url}/coinpaprika/v1/tickers`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.ok(res.headers.get('etag'));
      await assert.rejects(res.json(), SyntaxError);
    });

    it('resets the connection without an answer', async () => {
      server.setFaults([{ path: '/coinpaprika', reset: true, times: 1 }]);
      await assert.rejects(fetch(`${url}/coinpaprika/v1/tickers`), TypeError);
      assert.equal(server.requests[0]?.status, 0);
      assert.equal(
        await fetch(`${url}/coinpaprika/v1/tickers`).then((r) => r.status),
        200,
        'the server itself survives',
      );
    });

    it('redirects to itself forever', async () => {
      server.setFaults([{ path: '/files', redirectLoop: true }]);
      const first = await fetch(`${url}/files/sample.csv?x=1`, { redirect: 'manual' });
      assert.equal(first.status, 302);
      assert.equal(first.headers.get('location'), '/files/sample.csv?x=1&_loop=1');
      await assert.rejects(fetch(`${url}/files/sample.csv`, { redirect: 'follow' }), TypeError);
      assert.equal(server.requests.at(-1)?.query._loop, '20', 'fetch gave up after 20 redirects');
    });

    it('pads bodies to oversizeBytes with records, keeping them parseable', async () => {
      server.setFaults([
        { path: '/coin', oversizeBytes: 50_000 },
        { path: '/files', oversizeBytes: 20_000 },
      ]);
      const json = await fetch(`${url}/coinpaprika/v1/tickers`).then((r) => r.text());
      assert.ok(Buffer.byteLength(json) >= 50_000);
      const records = JSON.parse(json) as unknown[];
      assert.equal(records.length % tickers.length, 0);
      assert.deepEqual(records.slice(0, 2), tickers);
      const page = await gecko('vs_currency=usd&per_page=3&page=3');
      assert.ok(JSON.stringify(page.body).length >= 50_000, 'a CoinGecko page grows too');
      assert.ok(
        page.body.every((coin: { id: string }) => coin.id === 'coin-7'),
        'by repeating its own records',
      );
      const text = await fetch(`${url}/files/sample.csv`).then((r) => r.text());
      const lines = text.trimEnd().split('\n');
      assert.ok(Buffer.byteLength(text) >= 20_000);
      assert.equal(lines.filter((line) => line.startsWith('symbol,')).length, 1, 'one header line');
      assert.ok(lines.slice(1).every((line) => line.split(',').length === 3));
      const rssRes = await rawGet(url, '/files/feed.rss');
      assert.equal(rssRes.body.length, 20_000);
      assert.equal(rssRes.body.toString().trimEnd(), rss);
    });

    it('overrides the Content-Type', async () => {
      server.setFaults([
        { path: '/files/sample.csv', times: 1, contentType: 'text/html' },
        { path: '/files/sample.csv', contentType: 'text/csv; charset=utf-8' },
      ]);
      assert.equal((await rawGet(url, '/files/sample.csv')).headers['content-type'], 'text/html');
      const res = await rawGet(url, '/files/sample.csv');
      assert.equal(res.headers['content-type'], 'text/csv; charset=utf-8');
      assert.equal(res.body.toString(), csv);
    });
  });

  describe('control endpoints', () => {
    const control = (method: string, endpoint: string, body?: string) =>
      fetch(`${url}/_control/${endpoint}`, { method, ...(body !== undefined && { body }) });

    it('replaces, lists and clears fault rules; control requests are neither recorded nor faulted', async () => {
      const rules = [{ path: '/', status: 503 }];
      const put = await control('PUT', 'faults', JSON.stringify(rules));
      assert.equal(put.status, 200);
      assert.deepEqual(await put.json(), rules);
      assert.equal(await fetch(`${url}/coinpaprika/v1/tickers`).then((r) => r.status), 503);
      const listed = await fetchJson(`${url}/_control/faults`);
      assert.equal(listed.status, 200, 'the catch-all rule does not fault control requests');
      assert.deepEqual(listed.body, rules);
      assert.equal((await control('DELETE', 'faults')).status, 204);
      assert.equal(await fetch(`${url}/coinpaprika/v1/tickers`).then((r) => r.status), 200);
      assert.deepEqual(
        server.requests.map((r) => [r.path, r.status]),
        [
          ['/coinpaprika/v1/tickers', 503],
          ['/coinpaprika/v1/tickers', 200],
        ],
      );
    });

    it('rejects invalid rules with 400 and keeps the current ones', async () => {
      server.setFaults([{ path: '/files', status: 500 }]);
      for (const body of [
        'not json',
        '{"path":"/"}',
        '[{"status":500}]',
        '[{"path":"/","probability":2}]',
        '[{"path":"/","typo":true}]',
        '[{"path":"/","status":200}]',
        '[{"path":"/","contentType":"a\\nb"}]',
      ]) {
        const res = await control('PUT', 'faults', body);
        assert.equal(res.status, 400, body);
        assert.match(((await res.json()) as { error: string }).error, /fault rules/, body);
      }
      assert.equal(await fetch(`${url}/files/sample.csv`).then((r) => r.status), 500);
    });

    it('lists and clears recorded requests', async () => {
      const before = Date.now();
      await fetch(`${url}/coingecko/api/v3/coins/markets?vs_currency=usd&page=2`, {
        headers: { 'x-cg-demo-api-key': API_KEY, 'if-none-match': '"abc"' },
      }).then((r) => r.arrayBuffer());
      const listed = await fetchJson(`${url}/_control/requests`);
      const { at, ...request } = (listed.body as { at: number }[])[0]!;
      assert.ok(at >= before && at <= Date.now(), 'the arrival time is recorded');
      assert.deepEqual(
        [request],
        [
          {
            method: 'GET',
            path: '/coingecko/api/v3/coins/markets',
            query: { vs_currency: 'usd', page: '2' },
            ifNoneMatch: '"abc"',
            hasApiKey: true,
            status: 200,
          },
        ],
      );
      assert.equal((await control('DELETE', 'requests')).status, 204);
      assert.deepEqual((await fetchJson(`${url}/_control/requests`)).body, []);
      assert.equal((await control('POST', 'requests')).status, 404);
    });
  });
});
