// The delete guard: whether a complete snapshot may soft-delete the records it no longer contains. A pure
// function of the run's counts, so every rule is tested as a unit; src/db/merge.ts gathers the counts.

export interface DeleteLimits {
  maxDeleteRatio: number;
  maxQuarantineRatio: number;
  /** Why the snapshot is not the whole source, when it is not. */
  incompleteReason: string | null;
  /** Days of runs whose live counts make the baseline. */
  windowDays: number;
}

export interface OrphanFacts {
  /** Live records the snapshot no longer has. */
  orphans: number;
  /** Live records now, before any delete. */
  live: number;
  /**
   * The most live records the source had after any run of the baseline window (or since an approved shrink),
   * now included: the count a run's deletes are measured against, so a source cannot be walked down by runs
   * that each stay under the ratio.
   */
  baseline: number;
  /** When the baseline window starts, for the reason. */
  baselineSince: string;
  parsed: number;
  quarantined: number;
  /** Quarantined records without a key: any orphan may be one of them. */
  keyless: number;
  /** An operator approved a deliberate shrink: the ratio is not applied this once. */
  shrinkApproved: boolean;
}

const percent = (ratio: number) => `${Math.round(ratio * 1000) / 10}%`;

/** Why the deletes are held, or null when they may go ahead. */
export function deleteGuard(f: OrphanFacts, limits: DeleteLimits): string | null {
  if (f.orphans === 0) return null;
  if (limits.incompleteReason)
    return `held ${f.orphans} deletes: the snapshot is incomplete (${limits.incompleteReason})`;
  // a source that answers with nothing at all is broken, not emptied
  if (f.parsed === 0) return `held ${f.orphans} deletes: the snapshot is empty`;
  if (f.quarantined > f.parsed * limits.maxQuarantineRatio) {
    return `held ${f.orphans} deletes: ${f.quarantined} of ${f.parsed} records quarantined (${percent(f.quarantined / f.parsed)}): more than max_quarantine_ratio ${percent(limits.maxQuarantineRatio)}`;
  }
  if (f.keyless > 0)
    return `held ${f.orphans} deletes: ${f.keyless} quarantined records have no key, so any orphan may be one of them`;
  if (f.shrinkApproved) return null;
  if (f.orphans > f.live * limits.maxDeleteRatio) {
    return `held ${f.orphans} of ${f.live} live records (${percent(f.orphans / f.live)}): more than max_delete_ratio ${percent(limits.maxDeleteRatio)}`;
  }
  const remaining = f.live - f.orphans;
  if (remaining < f.baseline * (1 - limits.maxDeleteRatio)) {
    return (
      `held ${f.orphans} deletes: ${remaining} live records would remain, ${percent(1 - remaining / f.baseline)} fewer than the ${f.baseline} ` +
      `the source had since ${f.baselineSince}: more than max_delete_ratio ${percent(limits.maxDeleteRatio)} (a deliberate shrink is approved with POST /sources/:id/approve-shrink)`
    );
  }
  return null;
}
