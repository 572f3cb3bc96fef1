// The time series: GET /entities/:id/quotes (one canonical asset seen by each of its sources over time, raw or
// in buckets with the cross-source median and spread) and GET /data/:id/history (one source record's
// observations). Both answer JSON, or CSV for Accept: text/csv (or format=csv).
import type { Request, Response } from 'express';
import {
  entitySeriesRecords,
  newestObservation,
  quoteBuckets,
  quotePage,
  rawHorizon,
  type SeriesRecord,
} from '../../db/queries.ts';
import { encodeCursor, timeCursorAfter } from '../cursor.ts';
import { badRequest, meta, notFound, send } from '../http.ts';
import type { Routes } from '../operations.ts';
import {
  EntityQuotes,
  HistoryQuery,
  IdParams,
  ObservationPage,
  QuotesQuery,
  type HistoryQuery as HistoryQueryType,
} from '../schemas.ts';
import {
  BUCKET_COLUMNS,
  OBSERVATION_COLUMNS,
  bucketsJson,
  observationJson,
  resolveRange,
  sendCsv,
  sourceMap,
} from '../series.ts';
import { DataRecord, Entity } from '../../db/entities.ts';
import type { Context } from './context.ts';

const CSV_NOTE = ' With Accept: text/csv (or format=csv) the same rows come as CSV, the next page in a Link header.';

export function quoteRoutes(routes: Routes, { db }: Context): void {
  routes.add(
    {
      method: 'get',
      path: '/entities/:id/quotes',
      operationId: 'getEntityQuotes',
      tag: 'time series',
      summary:
        "An asset's quotes over time, per source: raw observations or OHLC buckets with the cross-source median and spread",
      description:
        'interval=raw pages the observations oldest first (keyset: pass next_cursor as cursor with the same parameters); 5m, 1h, 1d and 1w ' +
        'return one bucket per interval with open, high, low, close, mean, volume and count per source. Days before raw_from come from the daily rollup.' +
        CSV_NOTE,
      params: IdParams,
      query: QuotesQuery,
      ok: { status: 200, description: 'Observations or buckets', schema: EntityQuotes, csv: true },
      costly: ({ query }) => query.interval !== 'raw',
      errors: [404],
    },
    async ({ params, query }, req, res) => {
      if (!(await db.em().findOne(Entity, { id: params.id }, { fields: ['id'] })))
        throw notFound(`no entity ${params.id}`);
      const records = await entitySeriesRecords(db.em(), params.id, query.source);
      const filters = { scope: 'entity-quotes', id: params.id, source: query.source, from: query.from, to: query.to };
      if (query.interval === 'raw') return servePage(req, res, records, query, filters);
      if (query.cursor !== undefined) throw badParam('cursor', 'only with interval=raw: buckets come in one response');
      const [newest, rawFrom] = await Promise.all([
        newestObservation(
          db.em(),
          records.map((r) => r.id),
        ),
        rawHorizon(db.em()),
      ]);
      const range = resolveRange(query.interval, query, newest, rawFrom);
      const rows = await quoteBuckets(
        db.em(),
        records.map((r) => r.id),
        query.interval,
        range.from,
        range.to,
        rawFrom,
      );
      const buckets = bucketsJson(rows, query.interval, sourceMap(records));
      if (wantsCsv(req, query.format)) {
        return sendCsv(
          res,
          [...BUCKET_COLUMNS],
          buckets.flatMap((b) =>
            b.sources.map((s) => [
              b.start,
              b.end,
              s.source,
              s.record_id,
              s.open_usd,
              s.high_usd,
              s.low_usd,
              s.close_usd,
              s.mean_usd,
              s.volume_24h_usd,
              s.observations,
              b.median_usd,
              b.spread,
            ]),
          ),
        );
      }
      send(res, EntityQuotes, {
        interval: query.interval,
        data: buckets,
        from: range.from.toISOString(),
        to: range.to.toISOString(),
        raw_from: rawFrom?.toISOString() ?? null,
        ...meta(res),
      });
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/data/:id/history',
      operationId: 'getRecordHistory',
      tag: 'time series',
      summary: "One source record's observations, oldest first",
      description:
        'Paged by keyset: pass next_cursor as cursor with the same parameters. An article has no observations.' +
        CSV_NOTE,
      params: IdParams,
      query: HistoryQuery,
      ok: { status: 200, description: 'A page of observations', schema: ObservationPage, csv: true },
      errors: [404],
    },
    async ({ params, query }, req, res) => {
      const record = await db.em().findOne(DataRecord, { id: params.id }, { fields: ['id', 'sourceId', 'kind'] });
      if (!record) throw notFound(`no record ${params.id}`);
      const records = record.kind === 'asset' ? [{ id: record.id, sourceId: record.sourceId }] : [];
      return servePage(req, res, records, query, {
        scope: 'record-history',
        id: params.id,
        from: query.from,
        to: query.to,
      });
    },
  );

  async function servePage(
    req: Request,
    res: Response,
    records: SeriesRecord[],
    query: HistoryQueryType,
    filters: Record<string, unknown>,
  ): Promise<void> {
    const after = timeCursorAfter(query.cursor, filters);
    const ids = records.map((r) => r.id);
    const [newest, rawFrom] = await Promise.all([newestObservation(db.em(), ids), rawHorizon(db.em())]);
    const range = resolveRange('raw', query, newest, rawFrom);
    const page = await quotePage(db.em(), {
      recordIds: ids,
      from: range.from,
      to: range.to,
      limit: query.limit,
      after,
    });
    const last = page.rows.at(-1);
    const next = page.hasMore && last ? encodeCursor([last.observedAt, last.recordId], filters) : null;
    const sourceOf = sourceMap(records);
    const data = page.rows.map((row) => observationJson(row, sourceOf));
    if (wantsCsv(req, query.format)) {
      return sendCsv(
        res,
        [...OBSERVATION_COLUMNS],
        data.map((o) => OBSERVATION_COLUMNS.map((c) => o[c])),
        next ? withCursor(req, next) : undefined,
      );
    }
    send(res, ObservationPage, {
      interval: 'raw',
      data,
      limit: query.limit,
      next_cursor: next,
      from: range.from.toISOString(),
      to: range.to.toISOString(),
      raw_from: rawFrom?.toISOString() ?? null,
      ...meta(res),
    });
  }
}

/** CSV when asked by format=csv, or by an Accept header that prefers it to JSON. */
function wantsCsv(req: Request, format: 'json' | 'csv' | undefined): boolean {
  if (format) return format === 'csv';
  return req.accepts(['application/json', 'text/csv']) === 'text/csv';
}

/** This request's path and query with `cursor` set: the next page of a CSV answer. */
function withCursor(req: Request, cursor: string): string {
  const url = new URL(req.originalUrl, 'http://api.invalid');
  url.searchParams.set('cursor', cursor);
  return `${url.pathname}${url.search}`;
}

const badParam = (name: string, reason: string) => badRequest([{ name, reason }]);
