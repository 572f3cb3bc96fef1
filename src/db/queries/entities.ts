// Reads of canonical entities (entity, entity_link) for the API.
import type { InferEntity } from '@mikro-orm/core';
import type { EntityManager, FilterQuery, QBFilterQuery } from '@mikro-orm/postgresql';
import { DataRecord, Entity, EntityLink, type IDataRecord } from '../entities.ts';
import { pageTotal, type PageTotal } from './count.ts';
import type { IEntityLink } from './records.ts';

export type IEntity = InferEntity<typeof Entity>;

export interface EntityFilter {
  kind?: IEntity['kind'];
  /** Matched upper-case, like record symbols. */
  symbol?: string;
  /** Only entities that live records of at least this many sources describe. */
  minSources?: number;
}

export interface EntityPageRequest {
  filter: EntityFilter;
  limit: number;
  offset: number;
  after?: number;
}

function entityWhere(filter: EntityFilter): FilterQuery<IEntity> {
  const where: FilterQuery<IEntity> & Record<string, unknown> = {};
  if (filter.kind) where.kind = filter.kind;
  if (filter.symbol) where.symbol = filter.symbol.toUpperCase();
  // kept by identity resolution: the same as counting distinct sources of live linked records, without the count
  if (filter.minSources !== undefined) where.liveSources = { $gte: filter.minSources };
  return where;
}

export async function listEntities(
  em: EntityManager,
  request: EntityPageRequest,
): Promise<{ rows: IEntity[]; total: PageTotal; hasMore: boolean; sources: Map<number, string[]> }> {
  const where = entityWhere(request.filter);
  const page: FilterQuery<IEntity> =
    request.after === undefined ? where : { $and: [where, { id: { $gt: request.after } }] };
  const rows = await em.find(Entity, page, {
    limit: request.limit + 1,
    offset: request.offset,
    orderBy: { id: 'asc' },
    disableIdentityMap: true,
  });
  const first =
    request.offset === 0 && request.after === undefined ? { rows: rows.length, limit: request.limit } : undefined;
  const matching = em.createQueryBuilder(Entity).where(where as QBFilterQuery<IEntity>);
  const total = await pageTotal(em, { sql: matching.getQuery(), params: matching.getParams() }, first);
  const shown = rows.slice(0, request.limit);
  return {
    rows: shown,
    total,
    hasMore: rows.length > request.limit,
    sources: await liveSources(
      em.fork(),
      shown.map((e) => e.id),
    ),
  };
}

/** For each entity, the sources whose live records it links, sorted. */
async function liveSources(em: EntityManager, entityIds: number[]): Promise<Map<number, string[]>> {
  const result = new Map(entityIds.map((id) => [id, [] as string[]]));
  if (!entityIds.length) return result;
  const links = await em.find(EntityLink, { entity: { $in: entityIds } }, { disableIdentityMap: true });
  const records = await em.find(
    DataRecord,
    { id: { $in: links.map((l) => l.record) }, deletedAt: null },
    { fields: ['id', 'sourceId'], disableIdentityMap: true },
  );
  const sourceOf = new Map(records.map((r) => [r.id, r.sourceId]));
  for (const link of links) {
    const source = sourceOf.get(link.record);
    const list = result.get(link.entity);
    if (source && list && !list.includes(source)) list.push(source);
  }
  for (const list of result.values()) list.sort();
  return result;
}

export async function entityWithRecords(
  em: EntityManager,
  id: number,
): Promise<{ entity: IEntity; sources: string[]; records: { record: IDataRecord; link: IEntityLink }[] } | null> {
  const entity = await em.findOne(Entity, { id });
  if (!entity) return null;
  const links = await em.find(EntityLink, { entity: id });
  const records = await em.find(
    DataRecord,
    { id: { $in: links.map((l) => l.record) } },
    { orderBy: { sourceId: 'asc', id: 'asc' } },
  );
  const linkOf = new Map(links.map((l) => [l.record, l]));
  const sources = [...new Set(records.filter((r) => !r.deletedAt).map((r) => r.sourceId))].sort();
  return { entity, sources, records: records.map((record) => ({ record, link: linkOf.get(record.id)! })) };
}
