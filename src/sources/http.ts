// HTTP fetching with undici: connect/header/body timeouts, at most 5 redirects, gzip/deflate/br, a body
// size cap, a content-type check and conditional requests. Failures are sorted into the ones a retry can
// fix (network, 408, 429, 5xx; with the source's Retry-After) and the ones it cannot (other 4xx, wrong type).
// Redirects are followed here, not by undici: the credential goes only to the configured origin (undici's
// redirect handling strips authorization and cookies, never a header such as x-cg-demo-api-key).
import { Agent, interceptors, request, type Dispatcher } from 'undici';
import type { SourceConfig } from './config.ts';
import { PermanentSourceError, RetryableSourceError, type FetchedDocument, type Validators } from './types.ts';
import { redactUrl, scrub } from './redact.ts';

export interface HttpGet {
  source: SourceConfig;
  url: string;
  /** Acceptable media types; a response of another declared type is refused. */
  accept: string[];
  validators?: Validators;
  signal?: AbortSignal;
}

const USER_AGENT = 'temporal-etl/0.1 (+https://github.com/temporalio)';
const agents = new Map<string, Dispatcher>();

function agentFor({ timeoutMs, maxBytes }: SourceConfig['http']): Dispatcher {
  const key = `${timeoutMs}:${maxBytes}`;
  let agent = agents.get(key);
  if (!agent) {
    agent = new Agent({
      connectTimeout: Math.min(timeoutMs, 10_000),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    }).compose(interceptors.decompress({ maxSize: maxBytes }));
    agents.set(key, agent);
  }
  return agent;
}

/** Redirects followed before a fetch fails as a redirect loop. */
const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export async function httpGet({
  source,
  url: requested,
  accept,
  validators,
  signal,
}: HttpGet): Promise<FetchedDocument> {
  const headers: Record<string, string> = {
    accept: `${accept.join(', ')};q=1, */*;q=0.1`,
    'accept-encoding': 'gzip, deflate, br',
    'user-agent': USER_AGENT,
  };
  if (validators?.etag) headers['if-none-match'] = validators.etag;
  if (validators?.lastModified) headers['if-modified-since'] = validators.lastModified;
  const secret = source.auth ? process.env[source.auth.env] : undefined;
  if (source.auth && !secret && source.auth.required)
    throw new PermanentSourceError(
      `source '${source.id}': set ${source.auth.env}, the credential for ${source.auth.header}`,
    );
  // the credential belongs to the origin the sources file names: scheme, host and port (so never to plain http)
  const origin = new URL(requested).origin;
  const safe = (text: string) => scrub(text, [secret]);

  let url = requested;
  let response: Dispatcher.ResponseData;
  for (let hop = 0; ; hop++) {
    const credential =
      source.auth && secret && new URL(url).origin === origin ? { [source.auth.header.toLowerCase()]: secret } : {};
    try {
      response = await request(url, {
        method: 'GET',
        headers: { ...headers, ...credential },
        signal,
        dispatcher: agentFor(source.http),
      });
    } catch (error) {
      throw classify(source, redactUrl(url), error, safe);
    }
    const location = response.headers.location;
    if (!REDIRECTS.has(response.statusCode) || typeof location !== 'string') break;
    await response.body.dump();
    if (hop >= MAX_REDIRECTS)
      throw new PermanentSourceError(
        `source '${source.id}': ${redactUrl(requested)} redirected more than ${MAX_REDIRECTS} times (a redirect loop?)`,
      );
    const next = new URL(location, url);
    if (next.protocol !== 'http:' && next.protocol !== 'https:')
      throw new PermanentSourceError(`source '${source.id}': ${redactUrl(url)} redirected to a ${next.protocol} URL`);
    url = next.toString();
  }
  const { statusCode } = response;
  const header = (name: string) => {
    const value = response.headers[name];
    return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
  };
  const document = {
    url: redactUrl(url),
    httpStatus: statusCode,
    contentType: header('content-type'),
    etag: header('etag'),
    lastModified: header('last-modified'),
  };

  if (statusCode === 304) {
    await response.body.dump();
    return { ...document, notModified: true, body: emptyBody() };
  }
  if (statusCode < 200 || statusCode >= 300) {
    const excerpt = safe((await response.body.text().catch(() => '')).slice(0, 200).replace(/\s+/g, ' '));
    const message = `source '${source.id}': ${document.url} answered ${statusCode}${excerpt ? `: ${excerpt}` : ''}`;
    if (statusCode === 408 || statusCode === 429 || statusCode >= 500)
      throw new RetryableSourceError(message, retryAfterMs(header('retry-after')));
    throw new PermanentSourceError(message);
  }
  const mediaType = document.contentType?.split(';')[0]?.trim().toLowerCase();
  if (mediaType && !accept.includes(mediaType)) {
    await response.body.dump();
    throw new PermanentSourceError(
      `source '${source.id}': ${document.url} sent ${mediaType}, expected ${accept.join(' or ')}`,
    );
  }
  return { ...document, notModified: false, body: capped(response.body, source, document.url) };
}

/** The body, failing as soon as it exceeds the source's max_bytes, and explaining a body cut short. */
async function* capped(body: AsyncIterable<Uint8Array>, source: SourceConfig, url: string): AsyncIterable<Uint8Array> {
  let total = 0;
  try {
    for await (const chunk of body) {
      total += chunk.byteLength;
      if (total > source.http.maxBytes)
        throw new PermanentSourceError(
          `source '${source.id}': ${url} is larger than max_bytes (${source.http.maxBytes} bytes)`,
        );
      yield chunk;
    }
  } catch (error) {
    if (error instanceof PermanentSourceError) throw error;
    // undici's decompression stops at the same cap: a compressed body that inflates past it
    if (/exceeded maxSize/.test((error as Error).message))
      throw new PermanentSourceError(
        `source '${source.id}': ${url} is larger than max_bytes (${source.http.maxBytes} bytes) once decompressed`,
      );
    throw new RetryableSourceError(
      `source '${source.id}': the body of ${url} ended after ${total} bytes: ${(error as Error).message}`,
    );
  }
}

async function* emptyBody(): AsyncIterable<Uint8Array> {}

function classify(source: SourceConfig, url: string, error: unknown, safe: (text: string) => string): Error {
  const e = error as { code?: string; message?: string; name?: string };
  const message = safe(`source '${source.id}': ${url}: ${e.message ?? String(error)}`);
  if (e.name === 'AbortError') return error as Error;
  if (/redirect/i.test(e.message ?? '')) return new PermanentSourceError(message);
  if (e.code === 'ENOTFOUND' || e.code === 'ERR_INVALID_URL') return new PermanentSourceError(message);
  return new RetryableSourceError(message); // refused, reset, timeouts: the next attempt may succeed
}

/** Retry-After as seconds or an HTTP date; capped at an hour so a broken header cannot park a run. */
export function retryAfterMs(value: string | null): number | undefined {
  if (!value) return undefined;
  const ms = /^\d+$/.test(value.trim()) ? Number(value) * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), 3_600_000) : undefined;
}
