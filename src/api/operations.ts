// One table of operations serves two purposes: each entry registers its Express route (parsing path, query
// and body with its zod schemas before the handler runs) and becomes an operation of /openapi.json, so the
// documentation cannot drift from what the server accepts and answers.
import type express from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { ProblemError, parse } from './http.ts';
import { EmptyQuery, components } from './schemas.ts';

type AnyObject = z.ZodObject<z.ZodRawShape>;

export interface Operation<
  P extends AnyObject = AnyObject,
  Q extends AnyObject = AnyObject,
  B extends z.ZodType = z.ZodType,
> {
  method: 'get' | 'post' | 'delete';
  /** Express syntax (`/data/:id`). */
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  params?: P;
  query?: Q;
  /** A JSON body; always optional (an absent body parses as `{}`). */
  body?: B;
  /** Requires a valid X-API-Key. */
  auth?: boolean;
  /** `csv`: the same response is also served as text/csv (Accept: text/csv). */
  ok: { status: number; description: string; schema?: z.ZodType; contentType?: string; csv?: boolean };
  /**
   * Whether this request is a costly one (a deep offset, an aggregate over every entity, statistics): costly
   * requests share a few database connections, so however many arrive the cheap ones still find the rest.
   */
  costly?: (input: Input<P, Q, B>) => boolean;
  /** Other non-problem responses, e.g. /health's 503 with the health document. */
  also?: Record<number, { description: string; schema: z.ZodType }>;
  /** Problem statuses the handler itself produces (400/401/413/415 are added from params, query, body, auth). */
  errors?: number[];
}

export interface Input<P extends AnyObject, Q extends AnyObject, B extends z.ZodType> {
  params: z.output<P>;
  query: z.output<Q>;
  body: z.output<B>;
}

export interface Routes {
  add<
    P extends AnyObject = typeof EmptyQuery,
    Q extends AnyObject = typeof EmptyQuery,
    B extends z.ZodType = z.ZodUndefined,
  >(
    operation: Operation<P, Q, B>,
    handler: (input: Input<P, Q, B>, req: Request, res: Response) => Promise<void> | void,
  ): void;
  /** Answers 405 (with Allow) for other methods on the documented paths. Call after every add. */
  finish(): void;
  readonly operations: readonly Operation[];
}

/**
 * Costly requests that run at once, and how many may wait for a turn. One: much of a costly request's cost is
 * the API process's own CPU (a page of 1,000 rows to serialize), which every other request shares, and a
 * bench with three at once left a normal client a fifth of its throughput.
 */
export const COSTLY_LANE = { running: 1, waiting: 30 };

/** A counting semaphore: at most `running` at once, `waiting` queued, the rest refused. */
export function lane(running: number, waiting: number) {
  let active = 0;
  const queue: (() => void)[] = [];
  return async <T>(work: () => Promise<T>): Promise<T> => {
    if (active >= running) {
      if (queue.length >= waiting)
        throw new ProblemError(
          503,
          'too many costly requests at once (deep offsets, aggregates, statistics); retry shortly',
          {},
          { 'Retry-After': '2' },
        );
      await new Promise<void>((resolve) => queue.push(resolve));
    } else active++;
    try {
      return await work();
    } finally {
      const next = queue.shift();
      if (next) next();
      else active--;
    }
  };
}

export function createRoutes(app: express.Express, requireKey: RequestHandler): Routes {
  const operations: Operation[] = [];
  const costlyLane = lane(COSTLY_LANE.running, COSTLY_LANE.waiting);
  return {
    operations,
    add(operation, handler) {
      operations.push(operation as unknown as Operation);
      const run = async (req: Request, res: Response) => {
        if (operation.body && hasBody(req) && !req.is(['application/json', 'application/*+json'])) {
          throw new ProblemError(415, 'the request body must be application/json');
        }
        const input = {
          params: parse(operation.params ?? EmptyQuery, { ...req.params }, 'path'),
          query: parse(operation.query ?? EmptyQuery, req.query, 'query'),
          body: operation.body ? parse(operation.body, req.body ?? {}, 'body') : undefined,
        };
        const typed = input as Input<never, never, never>;
        if (operation.costly?.(typed as never)) await costlyLane(async () => handler(typed, req, res));
        else await handler(typed, req, res);
      };
      const label: RequestHandler = (_req, res, next) => {
        res.locals.route = operation.path;
        next();
      };
      app[operation.method](operation.path, label, ...(operation.auth ? [requireKey] : []), run);
    },
    finish() {
      const methods = new Map<string, Set<string>>();
      for (const op of operations)
        methods.set(op.path, (methods.get(op.path) ?? new Set(['OPTIONS'])).add(op.method.toUpperCase()));
      for (const [path, allowed] of methods) {
        if (allowed.has('GET')) allowed.add('HEAD');
        const allow = [...allowed].join(', ');
        app.all(path, (req: Request, res: Response, next: NextFunction) => {
          res.locals.route = path;
          res.set('Allow', allow);
          if (req.method === 'OPTIONS') return void res.status(204).end();
          next(new ProblemError(405, `${req.method} is not allowed here; allowed: ${allow}`));
        });
      }
    },
  };
}

function hasBody(req: Request): boolean {
  return (
    req.headers['transfer-encoding'] !== undefined ||
    (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0')
  );
}

// ---------------------------------------------------------------------------------------- OpenAPI 3.1

const STANDARD_ERRORS: Record<number, string> = {
  400: 'Bad input: the problem names each invalid parameter in invalid_params',
  401: 'Missing or wrong X-API-Key (or no API_KEY configured)',
  404: 'Unknown id',
  405: 'Method not allowed',
  409: 'Conflicts with the current state (e.g. an override that says otherwise)',
  413: 'Request body larger than 16 kB',
  415: 'Request body is not JSON',
  503: 'A dependency (PostgreSQL or Temporal) is unavailable',
};

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const id = components.get(schema)?.id;
  if (id) return { $ref: `#/components/schemas/${id}` };
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

function parameters(schema: AnyObject | undefined, location: 'path' | 'query') {
  if (!schema) return [];
  return Object.entries(schema.shape).map(([name, field]) => {
    const fieldSchema = field as z.ZodType;
    const { description, ...json } = jsonSchema(fieldSchema, 'input');
    return {
      name,
      in: location,
      required: location === 'path' || !fieldSchema.safeParse(undefined).success,
      ...(description ? { description } : {}),
      schema: json,
    };
  });
}

export function openApiDocument(
  operations: readonly Operation[],
  info: { title: string; version: string; description: string },
): JsonSchema {
  const generated = z.toJSONSchema(components, {
    io: 'output',
    uri: (id) => `#/components/schemas/${id}`,
    unrepresentable: 'any',
  }) as {
    schemas: Record<string, JsonSchema>;
  };
  const schemas = Object.fromEntries(
    Object.entries(generated.schemas).map(([id, { $schema: _dialect, id: _id, ...schema }]) => [id, schema]),
  );
  const requestId = { $ref: '#/components/headers/X-Request-Id' };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const path = op.path.replace(/:(\w+)/g, '{$1}');
    const errors = new Set(op.errors ?? []);
    if (op.params || op.query || op.body || op.method === 'get') errors.add(400);
    if (op.auth) errors.add(401);
    if (op.body) for (const status of [413, 415]) errors.add(status);
    const okContent = op.ok.schema
      ? {
          [op.ok.contentType ?? 'application/json']: { schema: jsonSchema(op.ok.schema, 'output') },
          ...(op.ok.csv ? { 'text/csv': { schema: { type: 'string' } } } : {}),
        }
      : op.ok.contentType
        ? { [op.ok.contentType]: { schema: { type: 'string' } } }
        : undefined;
    paths[path] ??= {};
    paths[path][op.method] = {
      operationId: op.operationId,
      tags: [op.tag],
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      parameters: [...parameters(op.params, 'path'), ...parameters(op.query ?? EmptyQuery, 'query')],
      ...(op.body
        ? {
            requestBody: { required: false, content: { 'application/json': { schema: jsonSchema(op.body, 'input') } } },
          }
        : {}),
      responses: {
        [op.ok.status]: {
          description: op.ok.description,
          headers: { 'X-Request-Id': requestId },
          ...(okContent ? { content: okContent } : {}),
        },
        ...Object.fromEntries(
          Object.entries(op.also ?? {}).map(([status, r]) => [
            status,
            {
              description: r.description,
              headers: { 'X-Request-Id': requestId },
              content: { 'application/json': { schema: jsonSchema(r.schema, 'output') } },
            },
          ]),
        ),
        ...Object.fromEntries([...errors].sort().map((s) => [s, { $ref: `#/components/responses/Problem${s}` }])),
      },
      ...(op.auth ? { security: [{ ApiKey: [] }] } : {}),
    };
  }
  return {
    openapi: '3.1.0',
    info,
    tags: [...new Set(operations.map((o) => o.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas,
      headers: {
        'X-Request-Id': {
          description: 'The request id: echoed when the request had a well-formed X-Request-Id, generated otherwise',
          required: true,
          schema: { type: 'string' },
        },
      },
      responses: Object.fromEntries(
        Object.entries(STANDARD_ERRORS).map(([status, description]) => [
          `Problem${status}`,
          {
            description,
            headers: { 'X-Request-Id': requestId },
            content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
          },
        ]),
      ),
      securitySchemes: { ApiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } },
    },
  };
}
