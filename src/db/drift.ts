// Schema drift bookkeeping: ordinary queries through MikroORM.
import { storable } from './sql.ts';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { DriftChange, ObservedSchema } from '../normalize/drift.ts';
import { DriftEvent, SourceState } from './entities.ts';

/**
 * The schema observed in the source's payload fetched last before this one (by another run, dry runs left
 * out). By fetch order rather than run order: a reprocess of an old payload is compared with what came before
 * that payload, as its first run was, and its old schema never becomes what the next fetch is compared with;
 * a dry run's never does either.
 */
export async function previousObservedSchema(
  em: EntityManager,
  sourceId: string,
  runId: number,
  payloadId: number,
): Promise<ObservedSchema | null> {
  const [previous] = await em.getConnection().execute<{ observed_schema: ObservedSchema }[]>(
    `SELECT s.observed_schema FROM run_source s JOIN run r ON r.id = s.run_id JOIN raw_payload p ON p.id = s.payload_id
     WHERE s.source_id = ? AND s.run_id <> ? AND s.observed_schema IS NOT NULL AND NOT r.dry_run
       AND (p.fetched_at, p.id) < (SELECT fetched_at, id FROM raw_payload WHERE id = ?)
     ORDER BY p.fetched_at DESC, p.id DESC, s.run_id DESC LIMIT 1`,
    [sourceId, runId, payloadId],
  );
  return previous?.observed_schema ?? null;
}

export async function acceptedRenames(em: EntityManager, sourceId: string): Promise<Record<string, string>> {
  const state = await em.findOne(SourceState, { sourceId });
  return state?.fieldRenames ?? {};
}

export async function acceptRenames(
  em: EntityManager,
  sourceId: string,
  kind: string,
  renames: Record<string, string>,
): Promise<void> {
  await em.upsert(
    SourceState,
    { sourceId, kind, fieldRenames: renames },
    { onConflictFields: ['sourceId'], onConflictMergeFields: ['fieldRenames'] },
  );
}

export type DriftAction = 'applied' | 'reported' | 'quarantined';

/** Replaces this run's drift events for the source (a retried normalize records them once). */
export async function recordDrift(
  em: EntityManager,
  runId: number,
  sourceId: string,
  events: (DriftChange & { action: DriftAction })[],
): Promise<void> {
  await em.transactional(async (tx) => {
    await tx.nativeDelete(DriftEvent, { runId, sourceId });
    for (const e of events) {
      tx.create(DriftEvent, {
        runId,
        sourceId,
        change: e.change,
        field: storable(e.field, 500),
        previousField: e.previousField == null ? null : storable(e.previousField, 500),
        previousType: e.previousType ?? null,
        currentType: e.currentType ?? null,
        confidence: e.confidence ?? null,
        action: e.action,
      });
    }
  });
}
