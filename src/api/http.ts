// HTTP plumbing shared by every route: RFC 9457 problem documents, input parsing with zod, and the
// request_id / api_latency_ms fields every JSON body carries.
import type { Response } from 'express';
import { STATUS_CODES } from 'node:http';
import type { z } from 'zod';

export interface InvalidParam {
  name: string;
  reason: string;
}

/** An error that becomes a problem document with this status; anything else becomes a bare 500. */
export class ProblemError extends Error {
  readonly status: number;
  readonly extra: Record<string, unknown>;
  readonly headers: Record<string, string>;
  constructor(
    status: number,
    detail: string,
    extra: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ) {
    super(detail);
    this.status = status;
    this.extra = extra;
    this.headers = headers;
  }
}

export const badRequest = (params: InvalidParam[]) =>
  new ProblemError(400, params.map((p) => `${p.name}: ${p.reason}`).join('; '), { invalid_params: params });
export const notFound = (detail: string) => new ProblemError(404, detail);
export const unavailable = (detail: string) => new ProblemError(503, detail, {}, { 'Retry-After': '5' });

/** Parses one part of the request (path, query or body); a failure is a 400 naming each bad parameter. */
export function parse<T extends z.ZodType>(schema: T, input: unknown, whole: string): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw badRequest(
    result.error.issues.flatMap((i) =>
      i.code === 'unrecognized_keys'
        ? i.keys.map((k) => ({ name: k, reason: 'unknown parameter' }))
        : [{ name: i.path.join('.') || whole, reason: i.message }],
    ),
  );
}

export function meta(res: Response): { request_id: string; api_latency_ms: number } {
  return {
    request_id: res.locals.requestId as string,
    api_latency_ms: Math.round((performance.now() - (res.locals.startedAt as number)) * 100) / 100,
  };
}

export function problem(res: Response, status: number, detail: string, extra: Record<string, unknown> = {}): void {
  res
    .status(status)
    .type('application/problem+json')
    .json({
      type: 'about:blank',
      title: STATUS_CODES[status] ?? 'Error',
      status,
      detail,
      ...extra,
      request_id: res.locals.requestId as string,
    });
}

/** Sends a JSON body typed by its response schema, so the compiler holds handlers to the documented shape. */
export function send<T extends z.ZodType>(res: Response, _schema: T, body: z.output<T>, status = 200): void {
  res.status(status).json(body);
}

// errno codes of a refused, reset or unreachable connection, and PostgreSQL's own "cannot serve you" states:
// class 08 (connection exception), 57P01–57P03 (shutting down, cannot connect now), 53300 (too many connections)
const DOWN_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);

/** Whether an error means PostgreSQL is unreachable (a 503), as opposed to a bug (a 500). */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 5) return false;
  const { code, message, cause, errors } = error as {
    code?: unknown;
    message?: unknown;
    cause?: unknown;
    errors?: unknown;
  };
  if (typeof code === 'string' && (DOWN_CODES.has(code) || /^08/.test(code))) return true;
  if (
    typeof message === 'string' &&
    /Connection terminated|timeout exceeded when trying to connect|no PostgreSQL connection was free|Client has encountered a connection error/i.test(
      message,
    )
  )
    return true;
  if (Array.isArray(errors) && errors.some((e) => isDatabaseUnavailable(e, depth + 1))) return true;
  return isDatabaseUnavailable(cause, depth + 1);
}

/** PostgreSQL cancelled the statement at the API's statement_timeout (SQLSTATE 57014). */
export function isStatementTimeout(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 5) return false;
  const { code, cause } = error as { code?: unknown; cause?: unknown };
  return code === '57014' || isStatementTimeout(cause, depth + 1);
}
