// Reads of unified records for the API: filtered pages (offset or keyset) and one record with its lineage.
import type { InferEntity } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { DataRecord, EntityLink, FieldIssue, Quarantine, RawPayload, Run, type IDataRecord } from '../entities.ts';
import { EXACT_COUNT_BELOW, pageTotal, type PageTotal } from './count.ts';

export type IRawPayload = InferEntity<typeof RawPayload>;
export type IQuarantine = InferEntity<typeof Quarantine>;
export type IFieldIssue = InferEntity<typeof FieldIssue>;
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

/** A record as the API lists it: timestamps already ISO 8601 UTC text, formatted by PostgreSQL. */
export type RecordRow = Omit<
  IDataRecord,
  'createdAt' | 'updatedAt' | 'deletedAt' | 'publishedAt' | 'sourceUpdatedAt' | 'observedAt'
> & {
  observedAt: string;
  createdAt: string;
  updatedAt: string;
  deletedAt: string | null;
  publishedAt: string | null;
  sourceUpdatedAt: string | null;
};

const iso = (column: string, as: string) =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "${as}"`;
/** The columns of a record as GET /data returns them (also what the bench's bare handler selects). */
export const RECORD_ROW = [
  'id::float8 AS id',
  'kind',
  'source_id AS "sourceId"',
  'source_key AS "sourceKey"',
  'symbol',
  'name',
  'rank',
  'price_usd AS "priceUsd"',
  'market_cap_usd AS "marketCapUsd"',
  'volume_24h_usd AS "volume24hUsd"',
  'circulating_supply AS "circulatingSupply"',
  'total_supply AS "totalSupply"',
  'max_supply AS "maxSupply"',
  'percent_change_24h AS "percentChange24h"',
  'open_usd AS "openUsd"',
  'high_usd AS "highUsd"',
  'low_usd AS "lowUsd"',
  iso('observed_at', 'observedAt'),
  'title',
  'url',
  'summary',
  'author',
  iso('published_at', 'publishedAt'),
  iso('source_updated_at', 'sourceUpdatedAt'),
  'run_id::float8 AS "runId"',
  'first_run_id::float8 AS "firstRunId"',
  'raw_payload_id::float8 AS "rawPayloadId"',
  'raw_position AS "rawPosition"',
  iso('created_at', 'createdAt'),
  iso('updated_at', 'updatedAt'),
  iso('deleted_at', 'deletedAt'),
  'deleted_run_id::float8 AS "deletedRunId"',
].join(', ');

/** The filter as SQL conditions on record, with their parameters (MikroORM's `?` placeholders, in order). */
function recordWhere(filter: RecordFilter): { conditions: string[]; params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return '?';
  };
  if (!filter.includeDeleted) conditions.push('deleted_at IS NULL');
  if (filter.source) conditions.push(`source_id = ${param(filter.source)}`);
  if (filter.kind) conditions.push(`kind = ${param(filter.kind)}`);
  if (filter.symbol) conditions.push(`symbol = ${param(filter.symbol.toUpperCase())}`);
  if (filter.updatedSince) conditions.push(`updated_at >= ${param(filter.updatedSince)}`);
  if (filter.entityId !== undefined)
    conditions.push(`id IN (SELECT record_id FROM entity_link WHERE entity_id = ${param(filter.entityId)})`);
  return { conditions, params };
}

const whereSql = (conditions: string[]) => (conditions.length ? `WHERE ${conditions.join(' AND ')}` : '');

/**
 * A page of records. Hand-written SQL rather than the query builder: this is the API's busiest path, and
 * building the query, hydrating rows and formatting dates in JavaScript were about a third of its CPU.
 */
export async function listRecords(
  em: EntityManager,
  request: RecordPageRequest,
  exactCountBelow = EXACT_COUNT_BELOW,
): Promise<{ rows: RecordRow[]; total: PageTotal; hasMore: boolean }> {
  const { conditions, params } = recordWhere(request.filter);
  const descending = request.sort === '-id';
  const page = [...conditions];
  const pageParams = [...params];
  if (request.after !== undefined) {
    page.push(`id ${descending ? '<' : '>'} ?`);
    pageParams.push(request.after);
  }
  // one row more than asked tells whether another page exists, without a second query; ordered by the
  // column (record.id), not the float8 output of the same name, or PostgreSQL sorts every matching row
  const rows = await em
    .getConnection()
    .execute<RecordRow[]>(
      `SELECT ${RECORD_ROW} FROM record ${whereSql(page)} ORDER BY record.id ${descending ? 'DESC' : 'ASC'} LIMIT ${request.limit + 1} OFFSET ${request.offset}`,
      pageParams,
    );
  const first =
    request.offset === 0 && request.after === undefined ? { rows: rows.length, limit: request.limit } : undefined;
  const total = await pageTotal(
    em,
    { sql: `SELECT 1 FROM record ${whereSql(conditions)}`, params },
    first,
    exactCountBelow,
  );
  return { rows: rows.slice(0, request.limit), total, hasMore: rows.length > request.limit };
}

export interface RecordLineage {
  record: IDataRecord;
  payload: IRawPayload | null;
  run: InferEntity<typeof Run> | null;
  link: IEntityLink | null;
  /** The latest quarantined rows with the record's source and key, newest first (a reprocess dry run's left out). */
  quarantine: IQuarantine[];
  /** The optional fields of the row the record was last written from that it could not keep. */
  fieldIssues: IFieldIssue[];
}

const dryRunIds = (em: EntityManager) =>
  em.createQueryBuilder(Run, 'dr').select('dr.id').where({ dryRun: true }).toRaw();

export async function recordLineage(em: EntityManager, id: number): Promise<RecordLineage | null> {
  const record = await em.findOne(DataRecord, { id });
  if (!record) return null;
  const [payload, run, link, quarantine, fieldIssues] = await Promise.all([
    em.fork().findOne(RawPayload, { id: record.rawPayloadId }),
    em.fork().findOne(Run, { id: record.runId }),
    em.fork().findOne(EntityLink, { record: id }),
    em
      .fork()
      .find(
        Quarantine,
        { sourceId: record.sourceId, sourceKey: record.sourceKey, runId: { $nin: dryRunIds(em) } },
        { orderBy: { id: 'desc' }, limit: 10 },
      ),
    // the row the record was read from, by the (run, source, position) index; a record is never written by a
    // dry run, so its issues are never a dry run's
    em
      .fork()
      .find(
        FieldIssue,
        { runId: record.runId, sourceId: record.sourceId, rawPosition: record.rawPosition },
        { orderBy: { id: 'asc' } },
      ),
  ]);
  return { record, payload, run, link, quarantine, fieldIssues };
}
