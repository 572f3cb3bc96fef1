// Anomaly rules: a source's outcome in one run checked against a reference (another run, or the median of
// recent completed runs). Pure functions over counts, shared by the worker (which stores each finished run's
// anomalies) and the API (GET /compare-runs, GET /runs/anomalies). Every threshold is here, with why.
import type { IRunSource } from './db/entities.ts';

export const THRESHOLDS = {
  /** Records parsed changed by more than this share of the reference (up or down): +60 % or −60 % trips it. */
  recordChangeRatio: 0.5,
  /** A source run slower than this many times the reference... */
  durationFactor: 2,
  /** ...and slower by at least this much: sub-second runs double on scheduling noise alone. */
  durationMinDeltaMs: 1000,
  /** The quarantined share of parsed records at least doubled... */
  quarantineFactor: 2,
  /** ...and rose by at least this many percentage points (0.05 = 5 points): 0.1 % → 0.3 % is noise. */
  quarantineMinPoints: 0.05,
  /** The baseline of GET /runs/anomalies: the median of at most this many previous completed runs per source. */
  baselineRuns: 10,
} as const;

export type AnomalyRule =
  | 'run_failed'
  | 'source_failed'
  | 'record_count_change'
  | 'duration_spike'
  | 'quarantine_spike'
  | 'price_divergence';

export interface Anomaly {
  rule: AnomalyRule;
  source: string | null;
  message: string;
  current: number | null;
  reference: number | null;
}

/** What the rules look at in one source's outcome. */
export interface SourceFacts {
  status: 'running' | 'succeeded' | 'unchanged' | 'superseded' | 'failed';
  /** Records parsed from the payload (0 when the payload was unchanged: nothing was parsed). */
  records: number;
  quarantined: number;
  durationMs: number | null;
}

/** The reference a source is judged against; null where it has nothing to say. */
export interface Reference {
  records: number | null;
  quarantineShare: number | null;
  durationMs: number | null;
}

export function quarantineShare(facts: Pick<SourceFacts, 'records' | 'quarantined'>): number | null {
  return facts.records > 0 ? facts.quarantined / facts.records : null;
}

/**
 * Only a `succeeded` outcome parsed its payload, so only succeeded outcomes are compared by counts and
 * duration: an `unchanged` one stopped after the fetch (0 records, a short duration) and a failed one
 * stopped anywhere. A failure is always an anomaly.
 */
export function referenceOf(facts: SourceFacts | null): Reference {
  if (facts?.status !== 'succeeded') return { records: null, quarantineShare: null, durationMs: null };
  return { records: facts.records, quarantineShare: quarantineShare(facts), durationMs: facts.durationMs };
}

/** The median of each fact over completed (succeeded) outcomes, newest or oldest first alike. */
export function baselineOf(history: SourceFacts[]): Reference & { runs: number } {
  const done = history.filter((h) => h.status === 'succeeded');
  const shares = done.map(quarantineShare).filter((s): s is number => s !== null);
  const durations = done.map((h) => h.durationMs).filter((d): d is number => d !== null);
  return {
    runs: done.length,
    records: median(done.map((h) => h.records)),
    quarantineShare: median(shares),
    durationMs: median(durations),
  };
}

export function median(values: number[]): number | null {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function sourceAnomalies(source: string, current: SourceFacts, reference: Reference): Anomaly[] {
  if (current.status === 'failed') {
    return [{ rule: 'source_failed', source, message: `${source} failed`, current: null, reference: null }];
  }
  if (current.status !== 'succeeded') return [];
  const found: Anomaly[] = [];
  if (reference.records !== null && reference.records > 0) {
    const change = (current.records - reference.records) / reference.records;
    if (Math.abs(change) > THRESHOLDS.recordChangeRatio) {
      found.push({
        rule: 'record_count_change',
        source,
        message: `${source}: ${current.records} records parsed, ${formatPercent(change, true)} against ${reference.records}`,
        current: current.records,
        reference: reference.records,
      });
    }
  }
  if (current.durationMs !== null && reference.durationMs !== null) {
    if (
      current.durationMs > THRESHOLDS.durationFactor * reference.durationMs &&
      current.durationMs - reference.durationMs >= THRESHOLDS.durationMinDeltaMs
    ) {
      const factor =
        reference.durationMs > 0 ? `${(current.durationMs / reference.durationMs).toFixed(1)}×` : 'far more than';
      found.push({
        rule: 'duration_spike',
        source,
        message: `${source}: took ${current.durationMs} ms, ${factor} the reference ${reference.durationMs} ms`,
        current: current.durationMs,
        reference: reference.durationMs,
      });
    }
  }
  const share = quarantineShare(current);
  if (share !== null && reference.quarantineShare !== null) {
    // shares are binary fractions (0.06 - 0.01 is 0.0499…): compared with a tolerance far below one record in a billion
    if (
      share >= THRESHOLDS.quarantineFactor * reference.quarantineShare - EPSILON &&
      share - reference.quarantineShare >= THRESHOLDS.quarantineMinPoints - EPSILON
    ) {
      found.push({
        rule: 'quarantine_spike',
        source,
        message: `${source}: ${formatPercent(share)} of records quarantined against ${formatPercent(reference.quarantineShare)}`,
        current: round(share),
        reference: round(reference.quarantineShare),
      });
    }
  }
  return found;
}

export function runAnomalies(status: 'running' | 'succeeded' | 'partial' | 'failed'): Anomaly[] {
  return status === 'failed'
    ? [
        {
          rule: 'run_failed',
          source: null,
          message: 'the run failed: no source succeeded',
          current: null,
          reference: null,
        },
      ]
    : [];
}

const EPSILON = 1e-9;
const round = (n: number) => Math.round(n * 10_000) / 10_000;
const formatPercent = (n: number, signed = false) => `${signed && n > 0 ? '+' : ''}${(n * 100).toFixed(1)} %`;

/** What the rules need from a run_source row. */
export function sourceFacts(s: IRunSource): SourceFacts {
  const durationMs =
    s.status === 'running' || !s.finishedAt ? null : new Date(s.finishedAt).getTime() - new Date(s.startedAt).getTime();
  return { status: s.status, records: s.parsed, quarantined: s.quarantined, durationMs };
}
