// The CLI's HTTP client for the API, and how its answers become exit codes. Errors are the API's RFC 9457
// problem documents: their detail (and invalid_params) is what a person reads, never a stack trace. The API
// key goes only into the X-API-Key header of writes and is never printed.
import { CliError, EXIT } from './command.ts';

export interface ApiOptions {
  /** Statuses that are answers, not errors (GET /health's 503 still carries the health document). */
  accept?: number[];
}

export interface ApiAnswer<T> {
  status: number;
  body: T;
}

export class ApiClient {
  readonly base: string;
  readonly #key: string | undefined;
  readonly #timeoutMs: number;

  constructor(base: string, key: string | undefined, timeoutMs = 30_000) {
    this.base = base.replace(/\/+$/, '');
    this.#key = key;
    this.#timeoutMs = timeoutMs;
  }

  get<T>(
    path: string,
    query: Record<string, string | number | boolean | undefined> = {},
    options: ApiOptions = {},
  ): Promise<ApiAnswer<T>> {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, String(value));
    const search = params.size ? `?${params}` : '';
    return this.#request<T>('GET', `${path}${search}`, undefined, options);
  }

  post<T>(path: string, body: unknown, options: ApiOptions = {}): Promise<ApiAnswer<T>> {
    return this.#request<T>('POST', path, body, options);
  }

  delete<T>(path: string, options: ApiOptions = {}): Promise<ApiAnswer<T>> {
    return this.#request<T>('DELETE', path, undefined, options);
  }

  async #request<T>(method: string, path: string, body: unknown, { accept = [] }: ApiOptions): Promise<ApiAnswer<T>> {
    const url = `${this.base}${path}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET' && this.#key) headers['x-api-key'] = this.#key;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      throw new CliError(
        EXIT.unreachable,
        `cannot reach the API at ${this.base} (${networkReason(error)}); is it running (make dev)? ETL_API_URL sets where it is`,
      );
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // a proxy's HTML error page, say: reported below by status
    }
    if (res.ok || accept.includes(res.status)) {
      if (parsed === undefined)
        throw new CliError(EXIT.failed, `${method} ${path} answered ${res.status} without a JSON body`);
      return { status: res.status, body: parsed as T };
    }
    throw problemError(method, path, res.status, parsed, this.#key !== undefined);
  }
}

/** An error answer as a CliError with the exit code its status means. */
function problemError(method: string, path: string, status: number, body: unknown, haveKey: boolean): CliError {
  const problem = body && typeof body === 'object' ? (body as Record<string, unknown>) : undefined;
  const detail = typeof problem?.detail === 'string' ? problem.detail : `${method} ${path} answered ${status}`;
  const invalid = Array.isArray(problem?.invalid_params)
    ? (problem.invalid_params as { name?: unknown; reason?: unknown }[])
    : [];
  const details = invalid.map((p) => `${String(p.name)}: ${String(p.reason)}`);
  if (status === 401 || status === 403) {
    const hint = haveKey
      ? 'API_KEY (environment or .env) is not the key the API has'
      : 'set API_KEY (environment or .env) to the key the API has';
    return new CliError(EXIT.refused, `${detail} (${hint})`, details, problem);
  }
  const code =
    status === 400 || status === 413 || status === 415 || status === 422
      ? EXIT.usage
      : status === 404
        ? EXIT.notFound
        : status === 409
          ? EXIT.refused
          : status === 503
            ? EXIT.unreachable
            : EXIT.failed;
  // a 400 names every bad parameter in invalid_params; its detail repeats them on one line
  return new CliError(code, details.length ? 'the API refused the request:' : detail, details, problem);
}

function networkReason(error: unknown): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'no answer in time';
  const code = e.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND') return 'unknown host';
  return code ?? e.cause?.message ?? e.message ?? String(error);
}
