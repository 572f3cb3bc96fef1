// Schema drift bookkeeping: ordinary queries through MikroORM.
import { storable } from './sql.ts';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { DriftChange, ObservedSchema } from '../normalize/drift.ts';
import { DriftEvent, RunSource, SourceState } from './entities.ts';

/** The schema the source's most recent other normalized run observed. */
export async function previousObservedSchema(em: EntityManager, sourceId: string, runId: number): Promise<ObservedSchema | null> {
  const [previous] = await em.find(RunSource, { sourceId, run: { $ne: runId }, observedSchema: { $ne: null } }, { orderBy: { run: 'desc' }, limit: 1 });
  return (previous?.observedSchema as ObservedSchema | undefined) ?? null;
}

export async function acceptedRenames(em: EntityManager, sourceId: string): Promise<Record<string, string>> {
  const state = await em.findOne(SourceState, { sourceId });
  return state?.fieldRenames ?? {};
}

export async function acceptRenames(em: EntityManager, sourceId: string, kind: string, renames: Record<string, string>): Promise<void> {
  await em.upsert(SourceState, { sourceId, kind, fieldRenames: renames }, { onConflictFields: ['sourceId'], onConflictMergeFields: ['fieldRenames'] });
}

export type DriftAction = 'applied' | 'reported' | 'quarantined';

/** Replaces this run's drift events for the source (a retried normalize records them once). */
export async function recordDrift(em: EntityManager, runId: number, sourceId: string, events: (DriftChange & { action: DriftAction })[]): Promise<void> {
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
