// A finished run's anomalies: each source judged against the median of its recent succeeded runs, with the
// rules of src/anomalies.ts; stored so that metrics, the API and an operator reading runs later see them.
import type { EntityManager } from '@mikro-orm/postgresql';
import { THRESHOLDS, baselineOf, runAnomalies, sourceAnomalies, sourceFacts, type Anomaly } from '../anomalies.ts';
import { Run, RunAnomaly, RunSource } from './entities.ts';
import { previousSucceeded } from './queries/runs.ts';

export async function detectAnomalies(em: EntityManager, runId: number): Promise<Anomaly[]> {
  const run = await em.findOneOrFail(Run, { id: runId });
  const sources = await em.find(RunSource, { run: runId }, { orderBy: { sourceId: 'asc' } });
  const found = runAnomalies(run.status);
  for (const s of sources) {
    const history = await previousSucceeded(em, s.sourceId, runId, THRESHOLDS.baselineRuns);
    found.push(...sourceAnomalies(s.sourceId, sourceFacts(s), baselineOf(history.map(sourceFacts))));
  }
  return found;
}

/** Replaces the run's stored anomalies (a retried finish stores them once). */
export async function storeAnomalies(em: EntityManager, runId: number, anomalies: Anomaly[]): Promise<void> {
  await em.transactional(async (tx) => {
    await tx.nativeDelete(RunAnomaly, { run: runId });
    for (const a of anomalies) tx.create(RunAnomaly, { run: runId, sourceId: a.source, rule: a.rule, message: a.message, current: a.current, reference: a.reference });
  });
}
