// GET /data (filtered pages of unified records, offset or keyset) and GET /data/:id (one record with lineage).
import { listRecords, recordLineage, type RecordFilter, type RecordRow } from '../../db/queries.ts';
import { pageAfter, pageFields } from '../cursor.ts';
import { meta, notFound, send } from '../http.ts';
import type { Routes } from '../operations.ts';
import { DataPage, DataQuery, IdParams, RecordDetail } from '../schemas.ts';
import { iso, linkJson, recordJson, runRefJson } from '../serialize.ts';
import { runLinks } from '../temporal.ts';
import type { Context } from './context.ts';

export function dataRoutes(routes: Routes, { db, temporal, links }: Context): void {
  routes.add(
    {
      method: 'get',
      path: '/data',
      operationId: 'listRecords',
      tag: 'data',
      summary: 'Unified records, filtered and paged',
      description:
        'Live records by default. Page with limit and offset, or for deep pages with cursor: pass the next_cursor of the previous page with the same filters (a cursor from other filters is a 400). Numbers such as prices stay exact decimal strings.',
      query: DataQuery,
      ok: { status: 200, description: 'A page of records', schema: DataPage },
      costly: ({ query }) => query.offset > 0,
    },
    async ({ query }, _req, res) => {
      const filter: RecordFilter = {
        source: query.source,
        kind: query.kind,
        symbol: query.symbol,
        entityId: query.entity_id,
        updatedSince: query.updated_since,
        includeDeleted: query.include_deleted,
      };
      // what selects and orders the rows: a cursor is only valid for the same
      const fingerprinted = { ...filter, symbol: filter.symbol?.toUpperCase(), sort: query.sort };
      const after = pageAfter(query, fingerprinted);
      const page = withinBudget(
        await listRecords(db.em(), { filter, sort: query.sort, limit: query.limit, offset: query.offset, after }),
      );
      send(res, DataPage, { data: page.rows.map(recordJson), ...pageFields(query, fingerprinted, page), ...meta(res) });
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/data/:id',
      operationId: 'getRecord',
      tag: 'data',
      summary: 'One record with its lineage',
      description:
        'The record (also when soft-deleted), the raw payload it came from and its position there, the run that last wrote it with a link to the Temporal Web UI (null, with history_expired, once its history is past the namespace retention), its entity link with the evidence, the latest quarantined rows with the same source and key, and the optional fields the run that wrote it could not keep.',
      params: IdParams,
      ok: { status: 200, description: 'The record and its lineage', schema: RecordDetail },
      errors: [404],
    },
    async ({ params }, _req, res) => {
      const found = await recordLineage(db.em(), params.id);
      if (!found) throw notFound(`no record ${params.id}`);
      const { record, payload, run, link, quarantine, fieldIssues } = found;
      send(res, RecordDetail, {
        data: recordJson(record),
        lineage: {
          raw_payload: payload && {
            id: payload.id,
            url: payload.url,
            fetched_at: iso(payload.fetchedAt),
            http_status: payload.httpStatus ?? null,
            content_type: payload.contentType ?? null,
            content_hash: payload.contentHash ?? null,
            size_bytes: payload.sizeBytes,
            status: payload.status,
          },
          raw_position: record.rawPosition,
          run: run && runRefJson(run, await runLinks(links, temporal)),
          first_run_id: record.firstRunId,
          deleted_run_id: record.deletedRunId ?? null,
        },
        entity_link: link && linkJson(link),
        quarantine: quarantine.map((q) => ({
          id: q.id,
          run_id: q.runId,
          reason: q.reason,
          raw_payload_id: q.rawPayloadId,
          raw_position: q.rawPosition,
          created_at: iso(q.createdAt),
        })),
        field_issues: fieldIssues.map((i) => ({ run_id: i.runId, field: i.field, value: i.value, reason: i.reason })),
        ...meta(res),
      });
    },
  );
}

/** Bytes a page of records may take: a page of a thousand long articles is cut short, its next_cursor continues it. */
export const PAGE_BUDGET_BYTES = 4 * 2 ** 20;

function withinBudget<P extends { rows: RecordRow[]; hasMore: boolean }>(page: P): P {
  let bytes = 0;
  for (let i = 0; i < page.rows.length; i++) {
    const r = page.rows[i]!;
    // the fixed fields take about 600 bytes as JSON; only text can be long (values are bounded: src/normalize/limits.ts)
    bytes +=
      600 +
      (r.summary?.length ?? 0) +
      (r.title?.length ?? 0) +
      (r.url?.length ?? 0) +
      r.sourceKey.length +
      (r.name?.length ?? 0) +
      (r.author?.length ?? 0);
    if (i > 0 && bytes > PAGE_BUDGET_BYTES) return { ...page, rows: page.rows.slice(0, i), hasMore: true };
  }
  return page;
}
