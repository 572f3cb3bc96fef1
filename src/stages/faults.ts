// Fault injection from the sources file (`faults:`), for demos and tests of recovery. Only the first
// attempt of a stage misbehaves (or the first N for fetch_failures), so a retry shows the recovery.
import { setTimeout as sleep } from 'node:timers/promises';
import type { SourceConfig } from '../sources/config.ts';
import { RetryableSourceError } from '../sources/types.ts';

export async function beforeFetch(source: SourceConfig, attempt: number, signal: AbortSignal): Promise<void> {
  const faults = source.faults;
  if (!faults) return;
  if (faults.latencyMs) await sleep(faults.latencyMs, undefined, { signal });
  if (attempt <= (faults.fetchFailures ?? 0))
    throw new RetryableSourceError(
      `source '${source.id}': injected fetch failure (attempt ${attempt} of the first ${faults.fetchFailures})`,
    );
  if (faults.fetchFailureRate && Math.random() < faults.fetchFailureRate)
    throw new RetryableSourceError(`source '${source.id}': injected fetch failure (rate ${faults.fetchFailureRate})`);
}

/** `position`: the record's within the part being normalized (`part`; a whole payload is part 0). */
export function atRecord(source: SourceConfig, attempt: number, position: number, part = 0): void {
  const faults = source.faults;
  if (!faults || attempt !== 1 || (faults.atPart ?? 0) !== part) return;
  // SIGKILL: nothing runs after it, exactly like a machine dying under the worker
  if (position === faults.crashAtRecord) process.kill(process.pid, 'SIGKILL');
  if (position === faults.failAtRecord)
    throw new Error(`source '${source.id}': injected failure at record ${position}`);
}
