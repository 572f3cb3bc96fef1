// The HTTP API: thin handlers over PostgreSQL (and Temporal for runs, history and schedules), inputs
// validated with zod, every error an RFC 9457 problem document. No stack trace ever reaches a client.
// The routes live in src/api/routes/*; each is declared once (src/api/operations.ts) and documented from
// the same zod schemas at /openapi.json, with Swagger UI at /docs and the web console at /.
import type { Client } from '@temporalio/client';
import cors from 'cors';
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import { pinoHttp } from 'pino-http';
import type { Database } from '../db/orm.ts';
import type { Logger } from '../logger.ts';
import { loadSettings, type Settings } from '../settings.ts';
import { requireApiKey } from './auth.ts';
import { ProblemError, isDatabaseUnavailable, isStatementTimeout, problem } from './http.ts';
import { createMetrics } from './metrics.ts';
import { createRoutes } from './operations.ts';
import { dataRoutes } from './routes/data.ts';
import { consoleAssets, consoleRoutes } from './routes/console.ts';
import { docsRoutes } from './routes/docs.ts';
import { entityRoutes } from './routes/entities.ts';
import { operatorRoutes } from './routes/operator.ts';
import { quoteRoutes } from './routes/quotes.ts';
import { sourceRoutes } from './routes/sources.ts';
import { runRoutes } from './routes/runs.ts';
import { systemRoutes } from './routes/system.ts';
import type { Context } from './routes/context.ts';
import { temporalGateway } from './temporal.ts';

export interface ApiDeps {
  db: Database;
  temporal: Client;
  log: Logger;
  /** Defaults to the process settings (environment and .env). */
  settings?: Settings;
}

/** No statement of the API runs longer: PostgreSQL cancels it, and the client gets a 503 it may retry. */
export const STATEMENT_TIMEOUT_MS = 5000;

/** Larger bodies are refused with 413: the only bodies are a list of source ids, a note, or an override (two record keys and a reason). */
export const BODY_LIMIT = '16kb';

export function createApp({ db, temporal, log, settings = loadSettings() }: ApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // every body carries its request_id and latency, so an ETag would never match: hashing each body is waste
  app.set('etag', false);
  // repeated parameters become arrays, which the zod schemas refuse: ?limit=1&limit=2 is a 400, not a guess
  app.set('query parser', 'simple');
  app.use((req, res, next) => {
    const given = req.get('x-request-id');
    res.locals.requestId = given && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
    res.locals.startedAt = performance.now();
    res.set('X-Request-Id', res.locals.requestId);
    next();
  });
  app.use(
    pinoHttp({
      logger: log,
      genReqId: (_req, res) => res.locals.requestId as string,
      // method and URL only: headers would carry X-API-Key and cookies into the logs
      serializers: {
        req: (req: IncomingMessage & { id?: string }) => ({ id: req.id, method: req.method, url: req.url }),
      },
    }),
  );
  const metrics = createMetrics(db.pool);
  app.use(metrics.middleware);
  app.use(
    helmet({
      contentSecurityPolicy: {
        // Swagger UI is served from this origin; plain-HTTP deployments must not have their assets "upgraded"
        directives: { 'upgrade-insecure-requests': null },
      },
    }),
  );
  const origins = settings.CORS_ORIGINS.split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  if (origins.length) {
    app.use(
      cors({
        origin: origins.includes('*') ? '*' : origins,
        methods: ['GET', 'POST', 'DELETE'],
        allowedHeaders: ['Content-Type', 'X-API-Key', 'X-Request-Id'],
        exposedHeaders: ['X-Request-Id'],
        maxAge: 600,
      }),
    );
  }
  app.use(express.json({ limit: BODY_LIMIT, type: ['application/json', 'application/*+json'] }));

  const context: Context = {
    db,
    temporal: temporalGateway(temporal, log),
    settings,
    links: { uiBase: settings.TEMPORAL_UI_URL, namespace: temporal.options.namespace },
    metrics,
  };
  const routes = createRoutes(app, requireApiKey(settings.API_KEY));
  dataRoutes(routes, context);
  // before entityRoutes: /entities/review and /entities/search would be taken for /entities/:id
  operatorRoutes(routes, context);
  consoleRoutes(routes, context);
  entityRoutes(routes, context);
  quoteRoutes(routes, context);
  sourceRoutes(routes, context);
  runRoutes(routes, context);
  systemRoutes(routes, context);
  docsRoutes(app);
  consoleAssets(app);
  routes.finish();

  app.use((req, res) => {
    problem(res, 404, `no route for ${req.method} ${req.path}`);
  });
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof ProblemError) {
      res.set(error.headers);
      return problem(res, error.status, error.message, error.extra);
    }
    // body-parser and Express mark client errors (malformed JSON, body too large, bad URI encoding) with a 4xx
    const status = (error as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      const type = (error as { type?: unknown }).type;
      if (type === 'entity.parse.failed')
        return problem(res, 400, 'body: not valid JSON', {
          invalid_params: [{ name: 'body', reason: 'not valid JSON' }],
        });
      if (type === 'entity.too.large') return problem(res, 413, `the request body is larger than ${BODY_LIMIT}`);
      return problem(res, status, status === 415 ? 'unsupported body encoding or charset' : 'malformed request');
    }
    if (res.headersSent) {
      req.log.error({ err: error }, 'request failed after the response started');
      return void res.end();
    }
    if (isStatementTimeout(error)) {
      req.log.warn({ err: error }, 'statement timeout');
      res.set('Retry-After', '5');
      return problem(
        res,
        503,
        `the request needed more than ${STATEMENT_TIMEOUT_MS / 1000} s of database time; narrow it (filters, a shorter range) or retry later`,
      );
    }
    if (isDatabaseUnavailable(error)) {
      req.log.warn({ err: error }, 'database unavailable');
      res.set('Retry-After', '5');
      return problem(res, 503, 'the database is unavailable; retry shortly');
    }
    req.log.error({ err: error }, 'request failed');
    return problem(res, 500, 'the request failed; the server log has the details under this request id');
  });
  return app;
}
