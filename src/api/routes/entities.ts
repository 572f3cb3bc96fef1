// GET /entities and GET /entities/:id: canonical entities across sources, with their records and link evidence.
import { entityAnomalies, entityWithRecords, listEntities, type EntityFilter } from '../../db/queries.ts';
import { pageAfter, pageFields } from '../cursor.ts';
import { meta, notFound, send } from '../http.ts';
import type { Routes } from '../operations.ts';
import { EntitiesQuery, EntityDetail, EntityPage, IdParams } from '../schemas.ts';
import { anomalyJson, entityJson, linkJson, recordJson } from '../serialize.ts';
import type { Context } from './context.ts';

export function entityRoutes(routes: Routes, { db }: Context): void {
  routes.add(
    {
      method: 'get',
      path: '/entities',
      operationId: 'listEntities',
      tag: 'entities',
      summary: 'Canonical entities, filtered and paged (id order)',
      description: 'Page with limit and offset, or with cursor (the next_cursor of the previous page, same filters).',
      query: EntitiesQuery,
      ok: { status: 200, description: 'A page of entities', schema: EntityPage },
      costly: ({ query }) => query.min_sources !== undefined || query.offset > 0,
    },
    async ({ query }, _req, res) => {
      const filter: EntityFilter = { kind: query.kind, symbol: query.symbol, minSources: query.min_sources };
      const fingerprinted = { ...filter, symbol: filter.symbol?.toUpperCase() };
      const after = pageAfter(query, fingerprinted);
      const page = await listEntities(db.em(), { filter, limit: query.limit, offset: query.offset, after });
      send(res, EntityPage, {
        data: page.rows.map((e) => entityJson(e, page.sources.get(e.id) ?? [])),
        ...pageFields(query, fingerprinted, page),
        ...meta(res),
      });
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/entities/:id',
      operationId: 'getEntity',
      tag: 'entities',
      summary: 'One entity with its source records and the evidence of each link',
      params: IdParams,
      ok: { status: 200, description: 'The entity', schema: EntityDetail },
      errors: [404],
    },
    async ({ params }, _req, res) => {
      const found = await entityWithRecords(db.em(), params.id);
      if (!found) throw notFound(`no entity ${params.id}`);
      const anomalies = await entityAnomalies(db.em(), params.id);
      send(res, EntityDetail, {
        data: entityJson(found.entity, found.sources),
        records: found.records.map(({ record, link }) => ({ record: recordJson(record), link: linkJson(link) })),
        anomalies: anomalies.map((a) => ({ ...anomalyJson(a), run_id: Number(a.run) })),
        ...meta(res),
      });
    },
  );
}
