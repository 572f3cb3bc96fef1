// Local source server: serves demo payloads shaped like the real upstreams (CoinPaprika tickers, CoinGecko
// markets pages, plain CSV/RSS files) with validators, conditional GETs and compression, plus fault knobs
// that tests, `make dev` and benchmarks steer to reproduce upstream misbehaviour on demand.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { z } from 'zod';
import type { Logger } from '../logger.ts';

/**
 * One injected misbehaviour for requests under `path`. Knobs combine: `latencyMs` delays first; then `reset`,
 * `redirectLoop` or `status` answer instead of the payload (in that order of precedence); otherwise `garbage`
 * and `oversizeBytes` replace the payload; `contentType` and `truncateAt` shape whatever is sent.
 */
export interface FaultRule {
  /** Applies when the request path starts with this prefix, e.g. '/coingecko'. */
  path: string;
  /** Apply to the first N matching requests only, then the rule expires (default: always). */
  times?: number;
  /** Share of matching requests to apply to, 0..1 (default 1); a request the roll spares is checked against the next rules. */
  probability?: number;
  /** Answer this status with a small JSON error body instead of the payload. */
  status?: number;
  /** Retry-After value (seconds or an HTTP date) sent with `status`. */
  retryAfter?: number | string;
  /** Delay before answering. */
  latencyMs?: number;
  /** Promise the full Content-Length but send only the first N body bytes, then destroy the socket. */
  truncateAt?: number;
  /** Answer 200 with a body that is not valid for its content type. */
  garbage?: boolean;
  /** Destroy the connection without any response. */
  reset?: boolean;
  /** Answer 302 to the same URL with an incremented `_loop` query parameter, forever. */
  redirectLoop?: boolean;
  /** Answer 302 to this base URL followed by the request's path and query (another host, to test where credentials go). */
  redirectTo?: string;
  /** Repeat the payload's records until the body is at least this many bytes, so it still parses. */
  oversizeBytes?: number;
  /** Override the Content-Type header. */
  contentType?: string;
}

export interface SourceServerOptions {
  root: string;
  log?: Logger;
  /** When set, CoinGecko requests must carry it in `x-cg-demo-api-key`. */
  coingeckoApiKey?: string;
  faults?: FaultRule[];
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  hasApiKey: boolean;
  /** The status answered; 0 while pending, or when the connection was reset without an answer. */
  status: number;
  /** When the request arrived (ms since the epoch), for tests of rate limits. */
  at: number;
}

export interface SourceServer {
  /** Starts listening; resolves to the base URL, e.g. http://127.0.0.1:8787 */
  listen(port: number, host?: string): Promise<string>;
  close(): Promise<void>;
  setFaults(rules: FaultRule[]): void;
  /** Requests received so far (for tests asserting conditional GETs, paging, auth). */
  readonly requests: RecordedRequest[];
}

const headerValue = z.string().regex(/^[\x20-\x7e]+$/, 'printable ASCII (a header value)');

const faultRuleSchema: z.ZodType<FaultRule> = z.strictObject({
  path: z.string().startsWith('/'),
  times: z.number().int().min(1).optional(),
  probability: z.number().min(0).max(1).optional(),
  status: z.number().int().min(400).max(599).optional(),
  retryAfter: z.union([z.number().int().min(0), headerValue]).optional(),
  latencyMs: z.number().int().min(0).max(600_000).optional(),
  truncateAt: z.number().int().min(0).optional(),
  garbage: z.boolean().optional(),
  reset: z.boolean().optional(),
  redirectLoop: z.boolean().optional(),
  redirectTo: z.url({ protocol: /^https?$/ }).optional(),
  // the padded body is built in memory
  oversizeBytes: z
    .number()
    .int()
    .min(1)
    .max(1 << 30)
    .optional(),
  contentType: headerValue.optional(),
});

/** Parses a JSON array of fault rules (a control request body, or SOURCE_SERVER_FAULTS); throws a readable error. */
export function parseFaultRules(json: string): FaultRule[] {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new Error(`fault rules are not valid JSON: ${(error as Error).message}`);
  }
  const parsed = z.array(faultRuleSchema).safeParse(value);
  if (!parsed.success) throw new Error(`invalid fault rules: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

const JSON_TYPE = 'application/json; charset=utf-8';
// no charset on text and XML types: the payloads declare their own encodings
const FILE_TYPES: Record<string, string> = {
  '.csv': 'text/csv',
  '.json': 'application/json',
  '.rss': 'application/rss+xml',
  '.xml': 'application/rss+xml',
  '.atom': 'application/atom+xml',
};
const MAX_CONTROL_BODY = 1 << 20;
// the fastest level: this server stands in for a remote source, and at the benchmark's 130 MB level 6 took
// seconds of a shared core before the first byte, time a real source spends on its own machine
const FAST = { level: zlib.constants.Z_BEST_SPEED };
const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);
const compress = { gzip: (body: Buffer) => gzip(body, FAST), deflate: (body: Buffer) => deflate(body, FAST) };

class HttpError extends Error {
  readonly status: number;
  readonly body: object;
  constructor(status: number, body: object) {
    super(`HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

const notFound = () => new HttpError(404, { error: 'Not Found' });

interface Payload {
  body: Buffer;
  type: string;
  mtime: Date;
}

export function createSourceServer(options: SourceServerOptions): SourceServer {
  const { root, log, coingeckoApiKey } = options;
  const requests: RecordedRequest[] = [];
  let faults: { rule: FaultRule; applied: number }[] = [];
  // aborts the latency of in-flight requests, so close() does not wait for them
  const closing = new AbortController();

  const setFaults = (rules: FaultRule[]) => {
    faults = rules.map((rule) => ({ rule, applied: 0 }));
  };
  setFaults(options.faults ?? []);

  function takeFault(pathname: string): FaultRule | undefined {
    for (const fault of faults) {
      const { rule } = fault;
      if (!pathname.startsWith(rule.path) || fault.applied >= (rule.times ?? Infinity)) continue;
      if (Math.random() >= (rule.probability ?? 1)) continue;
      fault.applied++;
      return rule;
    }
    return undefined;
  }

  async function readPayload(file: string, type: string): Promise<Payload> {
    try {
      const stat = await fs.promises.stat(file);
      if (!stat.isFile()) throw notFound();
      return { body: await fs.promises.readFile(file), type, mtime: stat.mtime };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw code === 'ENOENT' || code === 'ENOTDIR' ? notFound() : error;
    }
  }

  async function coingeckoMarkets(req: IncomingMessage, url: URL): Promise<Payload> {
    if (coingeckoApiKey !== undefined) {
      // error shape and code as documented by CoinGecko (10002: missing or wrong key)
      const key = req.headers['x-cg-demo-api-key'];
      if (key !== coingeckoApiKey) {
        throw new HttpError(401, {
          status: { error_code: 10002, error_message: key === undefined ? 'API Key Missing' : 'Invalid API Key' },
        });
      }
    }
    const currency = url.searchParams.get('vs_currency');
    if (!currency) throw new HttpError(400, { error: 'Missing parameter vs_currency' });
    // the demo data is priced in USD only
    if (currency.toLowerCase() !== 'usd') throw new HttpError(400, { error: 'invalid vs_currency' });
    const perPage = intParam(url, 'per_page', 100, 250);
    const page = intParam(url, 'page', 1, Number.MAX_SAFE_INTEGER);
    const file = path.join(root, 'coingecko-markets.json');
    const payload = await readPayload(file, JSON_TYPE);
    const coins: unknown = JSON.parse(payload.body.toString('utf8'));
    if (!Array.isArray(coins)) throw new Error(`${file} is not a JSON array`);
    return { ...payload, body: Buffer.from(JSON.stringify(coins.slice((page - 1) * perPage, page * perPage))) };
  }

  async function rootFile(encoded: string): Promise<Payload> {
    let relative: string;
    try {
      relative = decodeURIComponent(encoded);
    } catch {
      throw notFound();
    }
    // URL parsing already resolved literal dot segments; decoding can still reveal '..', '/' or NUL (%2e%2e, %2F, %00)
    if (relative.includes('\0') || path.isAbsolute(relative) || relative.split(/[\\/]/).includes('..'))
      throw notFound();
    const [realRoot, realFile] = await Promise.all([
      fs.promises.realpath(root),
      fs.promises.realpath(path.join(root, relative)).catch(() => {
        throw notFound();
      }),
    ]);
    // a symlink inside root must not lead outside it
    if (!realFile.startsWith(realRoot + path.sep)) throw notFound();
    return readPayload(realFile, FILE_TYPES[path.extname(relative).toLowerCase()] ?? 'application/octet-stream');
  }

  async function route(req: IncomingMessage, url: URL): Promise<Payload> {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, { error: 'Method Not Allowed' });
    const { pathname } = url;
    if (pathname === '/coinpaprika/v1/tickers')
      return readPayload(path.join(root, 'coinpaprika-tickers.json'), JSON_TYPE);
    if (pathname === '/coingecko/api/v3/coins/markets') return coingeckoMarkets(req, url);
    if (pathname.startsWith('/files/')) return rootFile(pathname.slice('/files/'.length));
    throw notFound();
  }

  async function serveSource(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const entry: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      ifNoneMatch: req.headers['if-none-match'],
      ifModifiedSince: req.headers['if-modified-since'],
      hasApiKey: req.headers['x-cg-demo-api-key'] !== undefined,
      status: 0,
      at: Date.now(),
    };
    requests.push(entry);
    const rule = takeFault(url.pathname);
    const reply = (status: number, headers: OutgoingHttpHeaders, body: Buffer) => {
      entry.status = status;
      write(res, status, headers, body, rule);
    };
    try {
      if (rule?.latencyMs) await delay(rule.latencyMs, undefined, { signal: closing.signal });
      if (rule?.reset) {
        req.socket.resetAndDestroy();
        return;
      }
      if (rule?.redirectLoop) return reply(302, { location: loopLocation(url) }, Buffer.alloc(0));
      if (rule?.redirectTo)
        return reply(
          302,
          { location: `${rule.redirectTo.replace(/\/+$/, '')}${url.pathname}${url.search}` },
          Buffer.alloc(0),
        );
      if (rule?.status) {
        const retryAfter = rule.retryAfter === undefined ? {} : { 'retry-after': String(rule.retryAfter) };
        const message = `${http.STATUS_CODES[rule.status] ?? 'Error'} (injected fault)`;
        return reply(rule.status, { 'content-type': JSON_TYPE, ...retryAfter }, jsonBody({ error: message }));
      }
      const payload = await route(req, url);
      if (rule?.garbage) payload.body = garbage();
      if (rule?.oversizeBytes) payload.body = oversize(payload, rule.oversizeBytes);
      const etag = `"${createHash('sha256').update(payload.body).digest('base64url')}"`;
      const headers: OutgoingHttpHeaders = {
        etag,
        'last-modified': payload.mtime.toUTCString(),
        vary: 'Accept-Encoding',
      };
      if (notModified(req, etag, payload.mtime)) return reply(304, headers, Buffer.alloc(0));
      const encoding = negotiateEncoding(req.headers['accept-encoding']);
      const body = encoding ? await compress[encoding](payload.body) : payload.body;
      reply(200, { ...headers, 'content-type': payload.type, ...(encoding && { 'content-encoding': encoding }) }, body);
    } catch (error) {
      if (closing.signal.aborted) return void res.destroy();
      if (!(error instanceof HttpError))
        log?.error({ err: error, path: url.pathname }, 'source server failed a request');
      const problem = error instanceof HttpError ? error : new HttpError(500, { error: 'Internal Server Error' });
      reply(problem.status, { 'content-type': JSON_TYPE }, jsonBody(problem.body));
    }
  }

  // Control requests steer the server from another process; they are neither recorded nor faulted.
  async function control(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const endpoint = `${req.method} ${url.pathname}`;
    const json = (status: number, value: unknown) => write(res, status, { 'content-type': JSON_TYPE }, jsonBody(value));
    // whoever reaches the server may read its payloads, but only this machine may change how it behaves
    if (!isLoopback(req.socket.remoteAddress))
      return json(403, { error: 'control endpoints answer only requests from this machine (loopback)' });
    switch (endpoint) {
      case 'PUT /_control/faults':
        try {
          setFaults(parseFaultRules(await readBody(req)));
        } catch (error) {
          return json(400, { error: (error as Error).message });
        }
        return json(
          200,
          faults.map((fault) => fault.rule),
        );
      case 'GET /_control/faults':
        return json(
          200,
          faults.map((fault) => fault.rule),
        );
      case 'DELETE /_control/faults':
        setFaults([]);
        return write(res, 204, {}, Buffer.alloc(0));
      case 'GET /_control/requests':
        return json(200, requests);
      case 'DELETE /_control/requests':
        requests.length = 0;
        return write(res, 204, {}, Buffer.alloc(0));
      default:
        return json(404, { error: `no control endpoint ${endpoint}` });
    }
  }

  const server = http.createServer((req, res) => {
    const started = performance.now();
    res.on('close', () => {
      const ms = Math.round(performance.now() - started);
      log?.debug(
        { method: req.method, path: req.url?.split('?')[0], status: res.headersSent ? res.statusCode : 0, ms },
        'source request',
      );
    });
    const handle = async () => {
      // prefixing keeps a path like //host/x a path instead of a protocol-relative URL
      const url = new URL(`http://source-server${req.url ?? '/'}`);
      await (url.pathname.startsWith('/_control/') ? control(req, res, url) : serveSource(req, res, url));
    };
    handle().catch((error: unknown) => {
      log?.error({ err: error }, 'source server failed a request');
      if (res.headersSent) res.destroy();
      else write(res, 500, { 'content-type': JSON_TYPE }, jsonBody({ error: 'Internal Server Error' }));
    });
  });

  return {
    requests,
    setFaults,
    async listen(port, host = '127.0.0.1') {
      server.listen(port, host);
      await once(server, 'listening');
      const { port: bound } = server.address() as AddressInfo;
      return `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
    },
    async close() {
      closing.abort();
      if (!server.listening) return;
      const closed = new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
      server.closeAllConnections();
      await closed;
    },
  };
}

function write(
  res: ServerResponse,
  status: number,
  headers: OutgoingHttpHeaders,
  body: Buffer,
  rule?: FaultRule,
): void {
  if (rule?.contentType) headers['content-type'] = rule.contentType;
  if (status !== 304 && status !== 204) headers['content-length'] = body.length;
  res.writeHead(status, headers);
  if (rule?.truncateAt !== undefined && rule.truncateAt < body.length) {
    // the client was promised the full Content-Length: it must notice the short body
    res.flushHeaders();
    res.write(body.subarray(0, rule.truncateAt), () => res.destroy());
  } else {
    res.end(body);
  }
}

const jsonBody = (value: unknown) => Buffer.from(JSON.stringify(value));

function intParam(url: URL, name: string, fallback: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 1 || value > max)
    throw new HttpError(400, { error: `invalid ${name}: an integer from 1 to ${max}` });
  return value;
}

function loopLocation(url: URL): string {
  const next = new URL(url);
  next.searchParams.set('_loop', String((Number(url.searchParams.get('_loop')) || 0) + 1));
  return next.pathname + next.search;
}

function notModified(req: IncomingMessage, etag: string, mtime: Date): boolean {
  const ifNoneMatch = req.headers['if-none-match'];
  // If-None-Match wins over If-Modified-Since when both are sent (RFC 9110 13.2.2)
  if (ifNoneMatch !== undefined) {
    return ifNoneMatch.split(',').some((tag) => {
      const candidate = tag.trim().replace(/^W\//, '');
      return candidate === '*' || candidate === etag;
    });
  }
  const since = Date.parse(req.headers['if-modified-since'] ?? '');
  // HTTP dates have whole seconds
  return !Number.isNaN(since) && Math.floor(mtime.getTime() / 1000) * 1000 <= since;
}

function negotiateEncoding(header: string | undefined): 'gzip' | 'deflate' | undefined {
  const accepted = new Set<string>();
  for (const part of (header ?? '').split(',')) {
    const [coding = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (!params.some((p) => /^q=0(\.0*)?$/.test(p))) accepted.add(coding);
  }
  return accepted.has('gzip') ? 'gzip' : accepted.has('deflate') ? 'deflate' : undefined;
}

/** What a proxy error page followed by bytes that are not UTF-8 looks like: valid as neither JSON, CSV nor XML. */
function garbage(): Buffer {
  return Buffer.concat([Buffer.from('<html><body>oops'), randomBytes(64)]);
}

/** Repeats all of the payload's records as often as needed to reach `size` bytes, so the body still parses. */
function oversize({ body, type }: Payload, size: number): Buffer {
  if (body.length >= size) return body;
  const text = body.toString('utf8');
  if (type.includes('json')) {
    const records = parseJsonArray(text);
    if (records?.length) return repeatBlock('[', records.map((r) => JSON.stringify(r)).join(','), ',', ']', size);
  }
  if (type.startsWith('text/csv')) {
    const headerEnd = text.indexOf('\n') + 1;
    const rows = text.slice(headerEnd);
    if (headerEnd > 0 && rows.trim())
      return repeatBlock(text.slice(0, headerEnd), rows.endsWith('\n') ? rows : `${rows}\n`, '', '', size);
  }
  // trailing whitespace keeps a JSON, XML or text document valid
  return Buffer.concat([body, Buffer.alloc(size - body.length, ' ')]);
}

function parseJsonArray(text: string): unknown[] | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function repeatBlock(head: string, block: string, separator: string, tail: string, size: number): Buffer {
  const [h, b, s, t] = [head, block, separator, tail].map((part) => Buffer.from(part)) as [
    Buffer,
    Buffer,
    Buffer,
    Buffer,
  ];
  const count = Math.max(1, Math.ceil((size - h.length - t.length + s.length) / (b.length + s.length)));
  const parts = [h, b];
  for (let i = 1; i < count; i++) parts.push(s, b);
  parts.push(t);
  return Buffer.concat(parts);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_CONTROL_BODY) throw new Error(`request body over ${MAX_CONTROL_BODY} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function isLoopback(address: string | undefined): boolean {
  return !!address && (address === '::1' || /^(::ffff:)?127\./.test(address));
}
