// The HTTP API: thin reads over PostgreSQL (and Temporal for health), inputs validated with zod,
// every error an RFC 9457 problem document. No stack trace ever reaches a client.
import type { Client } from '@temporalio/client';
import express, { type NextFunction, type Request, type Response } from 'express';
import { randomUUID } from 'node:crypto';
import { pinoHttp } from 'pino-http';
import { z } from 'zod';
import type { IDataRecord } from '../db/entities.ts';
import type { Database } from '../db/orm.ts';
import { lastRun, listRecords } from '../db/queries.ts';
import type { Logger } from '../logger.ts';

export interface ApiDeps {
  db: Database;
  temporal: Client;
  log: Logger;
}

const dataQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(50),
    offset: z.coerce.number().int().min(0).max(100_000_000).default(0),
    source: z.string().min(1).max(64).optional(),
    symbol: z.string().min(1).max(40).optional(),
  })
  .strict();

export function createApp({ db, temporal, log }: ApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use((req, res, next) => {
    const given = req.get('x-request-id');
    res.locals.requestId = given && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
    res.locals.startedAt = performance.now();
    res.set('X-Request-Id', res.locals.requestId);
    next();
  });
  app.use(pinoHttp({ logger: log, genReqId: (_req, res) => res.locals.requestId as string }));

  app.get('/health', async (_req, res) => {
    const [database, temporalStatus] = await Promise.all([
      db.pool.query('SELECT 1').then(() => 'up' as const, () => 'down' as const),
      temporal.connection
        .withDeadline(Date.now() + 2000, () => temporal.workflowService.getSystemInfo({}))
        .then(() => 'up' as const, () => 'down' as const),
    ]);
    const last = database === 'up' ? await lastRun(db.em()) : null;
    const status = database === 'up' && temporalStatus === 'up' ? 'ok' : 'degraded';
    res.status(database === 'up' ? 200 : 503).json({
      status,
      database,
      temporal: temporalStatus,
      last_run: last && {
        id: last.run.id,
        workflow_id: last.run.workflowId,
        status: last.run.status,
        started_at: last.run.startedAt,
        finished_at: last.run.finishedAt ?? null,
        sources: last.sources.map((s) => ({ source: s.sourceId, status: s.status, inserted: s.inserted, updated: s.updated, unchanged: s.unchanged, quarantined: s.quarantined })),
      },
      ...meta(res),
    });
  });

  app.get('/data', async (req, res) => {
    const query = parse(dataQuery, req.query);
    const { rows, total } = await listRecords(db.em(), query);
    res.json({ data: rows.map(recordJson), total, limit: query.limit, offset: query.offset, ...meta(res) });
  });

  app.use((req, res) => {
    problem(res, 404, 'Not Found', `no route for ${req.method} ${req.path}`);
  });
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof BadRequest) return problem(res, 400, 'Bad Request', error.message, { invalid_params: error.params });
    const status = (error as { status?: number }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) return problem(res, status, 'Bad Request', (error as Error).message);
    req.log.error({ err: error }, 'request failed');
    return problem(res, 500, 'Internal Server Error', 'the request failed; the server log has the details under this request id');
  });
  return app;
}

class BadRequest extends Error {
  readonly params: { name: string; reason: string }[];
  constructor(params: { name: string; reason: string }[]) {
    super(params.map((p) => `${p.name}: ${p.reason}`).join('; '));
    this.params = params;
  }
}

function parse<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new BadRequest(
    result.error.issues.flatMap((i) =>
      i.code === 'unrecognized_keys' ? i.keys.map((k) => ({ name: k, reason: 'unknown parameter' })) : [{ name: i.path.join('.') || '(query)', reason: i.message }],
    ),
  );
}

function meta(res: Response) {
  return { request_id: res.locals.requestId as string, api_latency_ms: Math.round((performance.now() - (res.locals.startedAt as number)) * 100) / 100 };
}

function problem(res: Response, status: number, title: string, detail: string, extra: Record<string, unknown> = {}): void {
  res.status(status).type('application/problem+json').json({ type: 'about:blank', title, status, detail, ...extra, request_id: res.locals.requestId });
}

function recordJson(r: IDataRecord) {
  const common = {
    id: r.id,
    kind: r.kind,
    source: r.sourceId,
    source_key: r.sourceKey,
    source_updated_at: r.sourceUpdatedAt ?? null,
    run_id: r.runId,
    raw_payload_id: r.rawPayloadId,
    raw_position: r.rawPosition,
    updated_at: r.updatedAt,
  };
  if (r.kind === 'article') {
    return { ...common, title: r.title, url: r.url, summary: r.summary, author: r.author, published_at: r.publishedAt ?? null };
  }
  return {
    ...common,
    symbol: r.symbol,
    name: r.name,
    rank: r.rank,
    price_usd: r.priceUsd,
    market_cap_usd: r.marketCapUsd,
    volume_24h_usd: r.volume24hUsd,
    circulating_supply: r.circulatingSupply,
    total_supply: r.totalSupply,
    max_supply: r.maxSupply,
    percent_change_24h: r.percentChange24h,
  };
}
