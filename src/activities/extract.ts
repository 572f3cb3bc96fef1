// Extract: fetch the source into raw_page chunks (src/stages/extract.ts), then make the landed payload
// immutable raw data.
import { storePayload } from '../db/raw.ts';
import { fetchAndLand, type FetchOutcome } from '../stages/extract.ts';
import { runStage, sourceById, type ActivityDeps, type PayloadStep, type SourceStep } from './common.ts';

export type { FetchOutcome };

export function extractActivities({ db, sourcesFile }: ActivityDeps) {
  return {
    /** Streams the source into raw_page chunks, heartbeating each one; a retry continues where the last attempt stopped. */
    async fetchSource(step: SourceStep): Promise<FetchOutcome> {
      return runStage(db, step, async (progress) =>
        fetchAndLand(db, step.runId, sourceById(sourcesFile, step.sourceId), {
          attempt: progress.attempt,
          signal: progress.signal,
          onPage: (landed) => progress.beat(landed),
        }),
      );
    },

    /** Makes the landed payload immutable and says whether it differs from the last merged snapshot. */
    async storeRaw(step: PayloadStep): Promise<{ unchanged: boolean; contentHash: string | null }> {
      return runStage(db, step, async () => {
        const stored = await storePayload(db.pool, step.payloadId, step.sourceId);
        return { unchanged: stored.status !== 'stored', contentHash: stored.contentHash };
      });
    },
  };
}
