// Normalize: stage the stored payload's records, good ones into stage_record, bad ones into quarantine
// (src/stages/normalize.ts). The heartbeat carries the committed position, so a retry resumes from it.
import { normalizePayload, type NormalizeOutcome } from '../stages/normalize.ts';
import { runStage, sourceById, type ActivityDeps, type PayloadStep } from './common.ts';

export type { NormalizeOutcome };

export function normalizeActivities({ db, sourcesFile }: ActivityDeps) {
  return {
    /**
     * Stages the payload's records, committing every 50,000 and heartbeating the position: a retry after a
     * crash keeps what was committed, drops anything after it, and continues from there.
     */
    async normalize(step: PayloadStep): Promise<NormalizeOutcome> {
      return runStage<NormalizeOutcome, { position: number }>(db, step, async (progress) =>
        normalizePayload(db, step, sourceById(sourcesFile, step.sourceId), {
          attempt: progress.attempt,
          resumeFrom: progress.resumeFrom?.position ?? 0,
          onCheckpoint: (committed) => progress.beat(committed),
          log: progress.log,
          signal: progress.signal,
        }),
      );
    },
  };
}
