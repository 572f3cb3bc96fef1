// Reads behind the API: ordinary queries through MikroORM.
import type { EntityManager, FilterQuery } from '@mikro-orm/postgresql';
import { DataRecord, Run, RunSource, type IDataRecord, type IRun, type IRunSource } from './entities.ts';

export interface RecordFilter {
  source?: string;
  symbol?: string;
  limit: number;
  offset: number;
}

export async function listRecords(em: EntityManager, filter: RecordFilter): Promise<{ rows: IDataRecord[]; total: number }> {
  const where: FilterQuery<IDataRecord> = { deletedAt: null };
  if (filter.source) where.sourceId = filter.source;
  if (filter.symbol) where.symbol = filter.symbol.toUpperCase();
  const [rows, total] = await em.findAndCount(DataRecord, where, { limit: filter.limit, offset: filter.offset, orderBy: { id: 'asc' } });
  return { rows, total };
}

export async function lastRun(em: EntityManager): Promise<{ run: IRun; sources: IRunSource[] } | null> {
  const [run] = await em.find(Run, {}, { orderBy: { id: 'desc' }, limit: 1 });
  if (!run) return null;
  const sources = await em.find(RunSource, { run: run.id }, { orderBy: { sourceId: 'asc' } });
  return { run, sources };
}
