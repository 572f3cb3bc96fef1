// Reads of unified records for the API: filtered pages (offset or keyset) and one record with its lineage.
import type { InferEntity } from '@mikro-orm/core';
import type { EntityManager, FilterQuery } from '@mikro-orm/postgresql';
import { DataRecord, EntityLink, Quarantine, RawPayload, Run, type IDataRecord } from '../entities.ts';

export type IRawPayload = InferEntity<typeof RawPayload>;
export type IQuarantine = InferEntity<typeof Quarantine>;
export type IEntityLink = InferEntity<typeof EntityLink>;

export interface RecordFilter {
  source?: string;
  kind?: IDataRecord['kind'];
  /** Matched upper-case: symbols are stored upper-case. */
  symbol?: string;
  entityId?: number;
  updatedSince?: Date;
  includeDeleted: boolean;
}

export interface RecordPageRequest {
  filter: RecordFilter;
  sort: 'id' | '-id';
  limit: number;
  offset: number;
  /** Keyset: continue after this id (in sort order). */
  after?: number;
}

/**
 * How a page's `total` is counted. Exact for now (one COUNT over the filter, cheap with the source and
 * symbol indexes); when a million-row scan gets too slow, an estimate (pg_class.reltuples for the unfiltered
 * case, the planner's row estimate otherwise) can be passed instead without touching the callers.
 */
export type CountRecords = (em: EntityManager, where: FilterQuery<IDataRecord>) => Promise<number>;
export const exactCount: CountRecords = (em, where) => em.count(DataRecord, where);

function recordWhere(em: EntityManager, filter: RecordFilter): FilterQuery<IDataRecord> {
  const where: FilterQuery<IDataRecord> & Record<string, unknown> = {};
  if (!filter.includeDeleted) where.deletedAt = null;
  if (filter.source) where.sourceId = filter.source;
  if (filter.kind) where.kind = filter.kind;
  if (filter.symbol) where.symbol = filter.symbol.toUpperCase();
  if (filter.updatedSince) where.updatedAt = { $gte: filter.updatedSince };
  if (filter.entityId !== undefined) {
    where.id = { $in: em.createQueryBuilder(EntityLink, 'l').select('l.record').where({ entity: filter.entityId }).toRaw() };
  }
  return where;
}

export async function listRecords(
  em: EntityManager,
  request: RecordPageRequest,
  countRecords: CountRecords = exactCount,
): Promise<{ rows: IDataRecord[]; total: number; hasMore: boolean }> {
  const where = recordWhere(em, request.filter);
  const descending = request.sort === '-id';
  const page: FilterQuery<IDataRecord> =
    request.after === undefined ? where : { $and: [where, { id: descending ? { $lt: request.after } : { $gt: request.after } }] };
  const [rows, total] = await Promise.all([
    // one row more than asked tells whether another page exists, without a second query
    em.find(DataRecord, page, { limit: request.limit + 1, offset: request.offset, orderBy: { id: descending ? 'desc' : 'asc' }, disableIdentityMap: true }),
    countRecords(em.fork(), where),
  ]);
  return { rows: rows.slice(0, request.limit), total, hasMore: rows.length > request.limit };
}

export interface RecordLineage {
  record: IDataRecord;
  payload: IRawPayload | null;
  run: InferEntity<typeof Run> | null;
  link: IEntityLink | null;
  /** The latest quarantined rows with the record's source and key, newest first. */
  quarantine: IQuarantine[];
}

export async function recordLineage(em: EntityManager, id: number): Promise<RecordLineage | null> {
  const record = await em.findOne(DataRecord, { id });
  if (!record) return null;
  const [payload, run, link, quarantine] = await Promise.all([
    em.fork().findOne(RawPayload, { id: record.rawPayloadId }),
    em.fork().findOne(Run, { id: record.runId }),
    em.fork().findOne(EntityLink, { record: id }),
    em.fork().find(Quarantine, { sourceId: record.sourceId, sourceKey: record.sourceKey }, { orderBy: { id: 'desc' }, limit: 10 }),
  ]);
  return { record, payload, run, link, quarantine };
}
