// Identity: link the source's records to canonical entities across sources. The rules are
// src/identity/rules.ts; the set-based SQL that applies them is src/db/identity.ts.
import { resolveEntities, type IdentityCounts } from '../db/identity.ts';
import { recordKindOf, refuseDryRun, runStage, type ActivityDeps, type SourceStep } from './common.ts';

export type { IdentityCounts };

export function identityActivities({ db, sourcesFile }: ActivityDeps) {
  return {
    /** Across sources: links the source's records without an entity (new ones, or sent back by an override). */
    async resolveEntities(step: SourceStep): Promise<IdentityCounts> {
      return runStage<IdentityCounts, { judged: number }>(db, step, async (progress) => {
        // resolution moves the source's resolved marks
        await refuseDryRun(db, step, 'link entities');
        // one transaction: a retry starts again, so the records judged are shown, never resumed from
        let judged = 0;
        return resolveEntities(db.pool, step.runId, step.sourceId, recordKindOf(sourcesFile, step.sourceId), {
          onBlock: ({ records }) => {
            judged += records;
            progress.beat({ judged });
          },
        });
      });
    },
  };
}
