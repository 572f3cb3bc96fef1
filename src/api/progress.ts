// How far a running run is: each source's stage from the workflow's `progress` query, and how far the stage
// running for it has got from its activity's latest heartbeat (every stage heartbeats with its source id and,
// when it has one, its position: records staged by normalize, pages landed by fetch). The workflow itself
// never sees a heartbeat, so the two are joined here.
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { Progress } from '../workflows/observability.ts';
import type { TemporalGateway } from './temporal.ts';

export interface SourceProgress {
  source: string;
  stage: string;
  records: number | null;
  attempt: number | null;
}

/** A short deadline: progress is an extra on a PostgreSQL read, never a reason for it to wait or fail. */
const PROGRESS_TIMEOUT_MS = 2000;

/** null when Temporal cannot say (unreachable, or the execution is gone). */
export async function runProgress(
  temporal: TemporalGateway,
  workflowId: string,
  temporalRunId: string,
): Promise<SourceProgress[] | null> {
  try {
    return await temporal.call(
      'run progress',
      async (client) => {
        const handle = client.workflow.getHandle(workflowId, temporalRunId);
        const [description, progress] = await Promise.all([handle.describe(), handle.query<Progress>('progress')]);
        const running = new Map<string, { records: number | null; attempt: number | null }>();
        for (const activity of description.raw.pendingActivities ?? []) {
          const details = decode(activity.heartbeatDetails?.payloads?.[0]);
          if (typeof details?.source !== 'string') continue;
          const records = [details.position, details.pages, details.records].find((n) => typeof n === 'number') as
            | number
            | undefined;
          running.set(details.source, { records: records ?? null, attempt: activity.attempt ?? null });
        }
        return Object.entries(progress.sources).map(([source, { stage }]) => ({
          source,
          stage,
          records: null,
          attempt: null,
          ...running.get(source),
        }));
      },
      { timeoutMs: PROGRESS_TIMEOUT_MS },
    );
  } catch {
    return null;
  }
}

function decode(payload: unknown): Record<string, unknown> | undefined {
  if (!payload) return undefined;
  try {
    const value = defaultPayloadConverter.fromPayload(payload as Payload);
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined; // a keep-alive heartbeat before the first position carries an empty payload
  }
}
