// Normalize: stage the stored payload's records, good ones into stage_record, bad ones into quarantine
// (src/stages/normalize.ts). The heartbeat carries the committed position, so a retry resumes from it. A payload
// larger than the part size is only planned by `normalize` when the workflow asks for parts: its parts are
// then staged by `normalizePart` on any worker, and `finishParts` joins them.
import {
  finishParts,
  normalizePart,
  normalizePayload,
  type NormalizeOptions,
  type NormalizeOutcome,
  type PartOutcome,
  type PlannedParts,
} from '../stages/normalize.ts';
import { runStage, sourceById, type ActivityDeps, type PayloadStep, type Progress } from './common.ts';

export type { NormalizeOutcome, PartOutcome, PlannedParts };

const resumable = (progress: Progress<{ position: number }>): NormalizeOptions => ({
  attempt: progress.attempt,
  resumeFrom: progress.resumeFrom?.position ?? 0,
  onCheckpoint: (committed) => progress.beat(committed),
  log: progress.log,
  signal: progress.signal,
});

export function normalizeActivities({ db, sourcesFile, partBytes, partConcurrency = 1 }: ActivityDeps) {
  return {
    /**
     * Stages the payload's records, committing every 50,000 and heartbeating the position: a retry after a
     * crash keeps what was committed, drops anything after it, and continues from there. With `inParts`, a
     * payload larger than the part size is planned instead: the result says how many parts to run.
     */
    async normalize(
      step: PayloadStep & { inParts?: boolean },
    ): Promise<NormalizeOutcome | (PlannedParts & { concurrency: number })> {
      const { inParts, ...payload } = step;
      return runStage<NormalizeOutcome | (PlannedParts & { concurrency: number }), { position: number }>(
        db,
        payload,
        async (progress) => {
          const source = sourceById(sourcesFile, payload.sourceId);
          const result = await normalizePayload(db, payload, source, {
            ...resumable(progress),
            ...(inParts && partBytes ? { partBytes } : {}),
          });
          return 'parts' in result ? { ...result, concurrency: partConcurrency } : result;
        },
      );
    },

    /** Stages one part of a planned payload; resumable like a whole payload. */
    async normalizePart(step: PayloadStep & { part: number }): Promise<PartOutcome> {
      const { part, ...payload } = step;
      return runStage<PartOutcome, { position: number }>(db, payload, async (progress) =>
        normalizePart(db, payload, sourceById(sourcesFile, payload.sourceId), part, resumable(progress)),
      );
    },

    /** Once every part is staged: their positions joined into the payload's, and the counts written. */
    async finishParts(step: PayloadStep & { outcomes: PartOutcome[] }): Promise<NormalizeOutcome> {
      const { outcomes, ...payload } = step;
      return runStage<NormalizeOutcome>(db, payload, async (progress) =>
        finishParts(db, payload, sourceById(sourcesFile, payload.sourceId), outcomes, progress.log),
      );
    },
  };
}
