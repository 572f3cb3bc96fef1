// A finished run's anomalies: each source judged against the median of its recent succeeded runs, with the
// rules of src/anomalies.ts; stored so that metrics, the API and an operator reading runs later see them.
// A reprocess dry run is neither judged nor part of any baseline: it wrote nothing, and it is no run of the source.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Pool } from 'pg';
import { THRESHOLDS, baselineOf, runAnomalies, sourceAnomalies, sourceFacts, type Anomaly } from '../anomalies.ts';
import { Run, RunAnomaly, RunSource } from './entities.ts';
import { previousSucceeded } from './queries/runs.ts';

export async function detectAnomalies(em: EntityManager, runId: number): Promise<Anomaly[]> {
  const run = await em.findOneOrFail(Run, { id: runId });
  if (run.dryRun) return [];
  const sources = await em.find(RunSource, { run: runId }, { orderBy: { sourceId: 'asc' } });
  const found = runAnomalies(run.status);
  for (const s of sources) {
    const history = await previousSucceeded(em, s.sourceId, runId, THRESHOLDS.baselineRuns);
    found.push(...sourceAnomalies(s.sourceId, sourceFacts(s), baselineOf(history.map(sourceFacts))));
  }
  return found;
}

/** Replaces the run's stored anomalies of the history rules (a retried finish stores them once). */
export async function storeAnomalies(em: EntityManager, runId: number, anomalies: Anomaly[]): Promise<void> {
  await em.transactional(async (tx) => {
    await tx.nativeDelete(RunAnomaly, { run: runId, rule: { $ne: 'price_divergence' } });
    for (const a of anomalies) tx.create(RunAnomaly, fields(a, runId));
  });
}

export interface DivergenceRule {
  /** A spread of the latest prices, (max − min) / median, above this is an anomaly. */
  threshold: number;
  /** Only quotes this close to the entity's newest one are compared: prices a day apart may differ honestly. */
  windowMs: number;
}

export const DEFAULT_DIVERGENCE: DivergenceRule = { threshold: 0.05, windowMs: 60 * 60 * 1000 };

export interface Divergence {
  entityId: number;
  label: string;
  medianUsd: string;
  spread: number;
  quotes: { source: string; record_id: number; price_usd: string; observed_at: string }[];
}

/**
 * Entities this run wrote a record of, quoted by two or more sources within the window of the newest quote,
 * whose latest prices spread more than the threshold. Only entities that link two records or more are read:
 * a first load of a million singletons costs one pass over entity_link, not a join of everything it wrote.
 */
export async function detectDivergences(pool: Pool, runId: number, rule: DivergenceRule): Promise<Divergence[]> {
  // a run that wrote no record moved no price: nothing new to compare (and entity_link is not read); a dry
  // run's counts are what it would have written
  const written = await pool.query<{ n: number }>(
    'SELECT coalesce(sum(s.inserted + s.updated + s.restored), 0)::int AS n FROM run_source s JOIN run r ON r.id = s.run_id WHERE s.run_id = $1 AND NOT r.dry_run',
    [runId],
  );
  if (written.rows[0]!.n === 0) return [];
  const { rows } = await pool.query<{
    entity_id: string;
    label: string;
    median: string;
    spread: number;
    quotes: Divergence['quotes'];
  }>(
    `WITH shared AS (
       SELECT entity_id FROM entity_link GROUP BY entity_id HAVING count(*) >= 2
     ), quoted AS (
       SELECT l.entity_id, r.id AS record_id, r.source_id, r.price_usd, r.observed_at, r.run_id,
         max(r.observed_at) OVER (PARTITION BY l.entity_id) AS newest
       FROM shared s JOIN entity_link l ON l.entity_id = s.entity_id JOIN record r ON r.id = l.record_id
       WHERE r.deleted_at IS NULL AND r.kind = 'asset' AND r.price_usd > 0
     ), judged AS (
       SELECT entity_id, array_agg(price_usd ORDER BY price_usd) AS prices,
         jsonb_agg(jsonb_build_object('source', source_id, 'record_id', record_id, 'price_usd', price_usd::text,
           'observed_at', to_char(observed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) ORDER BY source_id) AS quotes
       FROM quoted WHERE observed_at >= newest - $2 * interval '1 millisecond'
       GROUP BY entity_id HAVING count(*) >= 2 AND bool_or(run_id = $1)
     ), measured AS (
       SELECT entity_id, quotes, prices,
         CASE WHEN cardinality(prices) % 2 = 1 THEN prices[(cardinality(prices) + 1) / 2]
           ELSE (prices[cardinality(prices) / 2] + prices[cardinality(prices) / 2 + 1]) / 2 END AS median
       FROM judged
     )
     SELECT m.entity_id, coalesce(e.symbol, e.name, 'entity ' || e.id) AS label, trim_scale(m.median)::text AS median,
       round((m.prices[cardinality(m.prices)] - m.prices[1]) / m.median, 6)::float8 AS spread, m.quotes
     FROM measured m JOIN entity e ON e.id = m.entity_id
     WHERE (m.prices[cardinality(m.prices)] - m.prices[1]) / m.median > $3
     ORDER BY m.entity_id`,
    [runId, rule.windowMs, rule.threshold],
  );
  return rows.map((r) => ({
    entityId: Number(r.entity_id),
    label: r.label,
    medianUsd: r.median,
    spread: r.spread,
    quotes: r.quotes,
  }));
}

/** Stores the run's divergences as price_divergence anomalies (a retried finish replaces them). */
export async function storeDivergences(
  em: EntityManager,
  runId: number,
  divergences: Divergence[],
  rule: DivergenceRule,
): Promise<Anomaly[]> {
  const anomalies = divergences.map((d) => ({
    rule: 'price_divergence' as const,
    source: null,
    message: `${d.label} (entity ${d.entityId}): ${d.quotes.map((q) => `${q.source} ${q.price_usd}`).join(', ')} spread ${(d.spread * 100).toFixed(1)} % around ${d.medianUsd}, more than ${(rule.threshold * 100).toFixed(1)} %`,
    current: d.spread,
    reference: rule.threshold,
  }));
  await em.transactional(async (tx) => {
    await tx.nativeDelete(RunAnomaly, { run: runId, rule: 'price_divergence' });
    for (const [i, d] of divergences.entries()) {
      tx.create(RunAnomaly, {
        ...fields(anomalies[i]!, runId),
        entityId: d.entityId,
        details: { median_usd: d.medianUsd, spread: d.spread, threshold: rule.threshold, quotes: d.quotes },
      });
    }
  });
  return anomalies;
}

const fields = (a: Anomaly, runId: number) => ({
  run: runId,
  sourceId: a.source,
  rule: a.rule,
  message: a.message,
  current: a.current,
  reference: a.reference,
});
