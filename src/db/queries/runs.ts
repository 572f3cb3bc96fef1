// Reads of runs and their per-source outcomes for the API. A reprocess dry run is left out of every list,
// latest and baseline (it changed nothing, so it is no run of its sources); getRun still shows it by id.
import { raw } from '@mikro-orm/core';
import type { EntityManager, FilterQuery } from '@mikro-orm/postgresql';
import { Run, RunAnomaly, RunSource, SourceState, type IRun, type IRunSource } from '../entities.ts';

export interface RunWithSources {
  run: IRun;
  sources: IRunSource[];
}

export async function lastRun(em: EntityManager): Promise<RunWithSources | null> {
  const [run] = await em.find(Run, { dryRun: false }, { orderBy: { id: 'desc' }, limit: 1 });
  if (!run) return null;
  return { run, sources: await em.find(RunSource, { run: run.id }, { orderBy: { sourceId: 'asc' } }) };
}

export async function getRun(em: EntityManager, id: number): Promise<RunWithSources | null> {
  const run = await em.findOne(Run, { id });
  if (!run) return null;
  return { run, sources: await em.find(RunSource, { run: id }, { orderBy: { sourceId: 'asc' } }) };
}

/** Run ids of dry runs, as a subquery for `run: { $nin: ... }`. */
const dryRunIds = (em: EntityManager) =>
  em.createQueryBuilder(Run, 'dr').select('dr.id').where({ dryRun: true }).toRaw();

/** Each source's outcome in the latest run that included it. */
export async function latestRunPerSource(em: EntityManager): Promise<IRunSource[]> {
  const latest = await em
    .createQueryBuilder(RunSource, 's')
    .select(['s.sourceId', raw('max(s.run_id) as latest')])
    .where({ run: { $nin: dryRunIds(em) } })
    .groupBy('s.sourceId')
    .execute<{ sourceId: string; latest: string | number }[]>();
  if (!latest.length) return [];
  return em.find(
    RunSource,
    { $or: latest.map((l) => ({ sourceId: l.sourceId, run: Number(l.latest) })) },
    { orderBy: { sourceId: 'asc' } },
  );
}

export interface RunListRequest {
  limit: number;
  offset: number;
  source?: string;
  status?: IRun['status'];
}

/** Newest first, each with its per-source rows. */
export async function listRuns(
  em: EntityManager,
  request: RunListRequest,
): Promise<{ runs: RunWithSources[]; total: number }> {
  const where: FilterQuery<IRun> & Record<string, unknown> = { dryRun: false };
  if (request.status) where.status = request.status;
  if (request.source)
    where.id = {
      $in: em.createQueryBuilder(RunSource, 's').select('s.run').where({ sourceId: request.source }).toRaw(),
    };
  const [runs, total] = await em.findAndCount(Run, where, {
    limit: request.limit,
    offset: request.offset,
    orderBy: { id: 'desc' },
  });
  const sources = runs.length
    ? await em.find(RunSource, { run: { $in: runs.map((r) => r.id) } }, { orderBy: { sourceId: 'asc' } })
    : [];
  return { runs: runs.map((run) => ({ run, sources: sources.filter((s) => s.run === run.id) })), total };
}

/** A source's latest completed (succeeded) outcomes before a run, newest first: the baseline for anomalies. */
export async function previousSucceeded(
  em: EntityManager,
  sourceId: string,
  beforeRunId: number,
  count: number,
): Promise<IRunSource[]> {
  return em.find(
    RunSource,
    { sourceId, run: { $lt: beforeRunId, $nin: dryRunIds(em) }, status: 'succeeded', finishedAt: { $ne: null } },
    { orderBy: { run: 'desc' }, limit: count },
  );
}

/** The anomalies stored when the run finished (src/db/anomalies.ts). */
export async function storedAnomalies(em: EntityManager, runId: number) {
  return em.find(RunAnomaly, { run: runId }, { orderBy: { id: 'asc' } });
}

/** The latest anomalies about one entity (price divergences across its sources), newest first. */
export async function entityAnomalies(em: EntityManager, entityId: number, limit = 20) {
  return em.find(RunAnomaly, { entityId }, { orderBy: { id: 'desc' }, limit });
}

/** Records an operator's approval of a source's shrink; null when the source has no state (never merged). */
export async function approveShrink(em: EntityManager, sourceId: string): Promise<Date | null> {
  const now = new Date();
  // the checkpoint forgets the last payload's hash and validators: the next run applies its snapshot again,
  // even if the source sends the same bytes, and this time its deletes go through
  const updated = await em.nativeUpdate(
    SourceState,
    { sourceId },
    { shrinkApprovedAt: now, lastPayloadId: null, contentHash: null, etag: null, lastModified: null },
  );
  return updated ? now : null;
}
