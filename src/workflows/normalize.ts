// Normalize one payload: whole, or, when it is large and its kind can be cut, as parts that any worker of
// the task queue takes, at most `concurrency` at once, joined once all are staged. A failed part is retried
// alone; the parts already staged stay. Only ids and counts pass through here.
import { patched } from '@temporalio/workflow';
import type { Activities, PartOutcome, PayloadStep } from '../activities/index.ts';

type Stages = Pick<Activities, 'normalize' | 'normalizePart' | 'finishParts'>;

/** `at(what)`: the activities, each call labelled in the Web UI with what it does ("normalize part 2/5"). */
export function normalizeStage(at: (what: string) => Stages, payload: PayloadStep): Promise<unknown> {
  // histories from before parts existed replay with the whole-payload call they made; its promise itself, as
  // before: a step more between activities would reorder the commands of sources running side by side
  if (!patched('normalize-in-parts')) return at('normalize').normalize(payload);
  return inParts(at, payload);
}

async function inParts(at: (what: string) => Stages, payload: PayloadStep): Promise<void> {
  const planned = await at('normalize').normalize({ ...payload, inParts: true });
  if (!('parts' in planned)) return;
  const outcomes: PartOutcome[] = [];
  let next = 0;
  let failed = false;
  const lane = async () => {
    for (let part = next++; part < planned.parts && !failed; part = next++) {
      try {
        outcomes[part] = await at(`normalize part ${part + 1}/${planned.parts}`).normalizePart({ ...payload, part });
      } catch (error) {
        failed = true; // no part starts after one failed for good
        throw error;
      }
    }
  };
  // the parts still running finish before the source is reported failed (and its staging dropped)
  const lanes = await Promise.allSettled(Array.from({ length: Math.min(planned.concurrency, planned.parts) }, lane));
  const failure = lanes.find((l) => l.status === 'rejected');
  if (failure) throw failure.reason;
  await at('join parts').finishParts({ ...payload, outcomes });
}
