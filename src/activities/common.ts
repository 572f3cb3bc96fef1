// What every stage needs: its dependencies, the source's configuration, and one translation of source
// errors into Temporal failures (retry or not, and when).
import { ApplicationFailure } from '@temporalio/activity';
import type { Database } from '../db/orm.ts';
import { loadSourcesConfig, type SourceConfig } from '../sources/config.ts';
import { PermanentSourceError, RetryableSourceError, UnreadablePayloadError } from '../sources/types.ts';

export interface ActivityDeps {
  db: Database;
  sourcesFile: string;
}

export interface SourceStep {
  runId: number;
  sourceId: string;
}
export interface PayloadStep extends SourceStep {
  payloadId: number;
}

export function sourceById(sourcesFile: string, id: string): SourceConfig {
  const source = loadSourcesConfig(sourcesFile).find((s) => s.id === id);
  if (!source) throw ApplicationFailure.nonRetryable(`source '${id}' is not in ${sourcesFile}`, 'UnknownSource');
  return source;
}

/** Runs work and turns source errors into failures Temporal retries (or not) as the error says. */
export async function asFailure<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof PermanentSourceError || error instanceof UnreadablePayloadError) {
      throw ApplicationFailure.nonRetryable(error.message, error.name);
    }
    if (error instanceof RetryableSourceError) {
      throw ApplicationFailure.create({ message: error.message, type: error.name, nextRetryDelay: error.retryAfterMs });
    }
    throw error;
  }
}
