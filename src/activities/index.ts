// The activities of an ingest run, stage by stage: each a short shell over its stage's module (src/stages,
// or src/db where the stage is one statement). They pass ids and counts only: the data itself moves from
// the source into raw_page, stage_record and record inside PostgreSQL.
import type { ActivityDeps } from './common.ts';
import { extractActivities } from './extract.ts';
import { identityActivities } from './identity.ts';
import { loadActivities } from './load.ts';
import { normalizeActivities } from './normalize.ts';
import { retentionActivities } from './retention.ts';
import { runActivities } from './runs.ts';

export function createActivities(deps: ActivityDeps) {
  return {
    ...runActivities(deps),
    ...extractActivities(deps),
    ...normalizeActivities(deps),
    ...loadActivities(deps),
    ...identityActivities(deps),
    ...retentionActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { ActivityDeps, PayloadStep, SourceStep } from './common.ts';
export type { FetchOutcome } from './extract.ts';
export type { IdentityCounts } from './identity.ts';
export type { MergeCounts, MergePreview, OrphanCounts } from './load.ts';
export type { NormalizeOutcome, PartOutcome, PlannedParts } from './normalize.ts';
export type { ReprocessPlan, RunPlan, RunSummary, SourcePlan } from './runs.ts';
export type { SourceOutcome } from '../db/runs.ts';
