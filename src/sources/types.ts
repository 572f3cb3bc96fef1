// The one interface every source kind implements. Fetching yields bytes (landed raw, untouched);
// reading turns stored bytes back into records. Keeping the two apart is what lets a run resume,
// and a past payload be re-normalized later, without calling the source again.
import type { Readable } from 'node:stream';
import type { RecordKind } from '../normalize/record.ts';
import type { SourceConfig } from './config.ts';

/** Validators from the last stored payload, for conditional requests. */
export interface Validators {
  etag: string | null;
  lastModified: string | null;
}

/** One response (a file, a feed, one page of a paged API) as the source sent it. */
export interface FetchedDocument {
  url: string;
  httpStatus: number | null;
  contentType: string | null;
  etag: string | null;
  lastModified: string | null;
  /** True when the source answered "not modified" to a conditional request: no body follows. */
  notModified: boolean;
  body: AsyncIterable<Uint8Array>;
}

export interface FetchContext {
  validators: Validators;
  signal?: AbortSignal;
}

/** A record read back from a stored document: the source's own fields, and the same values keyed by unified field. */
export interface RawRecord {
  /** As the source named them: kept in quarantine so an operator sees what arrived. */
  fields: Record<string, unknown>;
  /** Unified field name → the source's value, before cleanup and validation. */
  candidate: Record<string, unknown>;
}

export interface SourceAdapter {
  /** What the source's records become in the unified schema. */
  readonly recordKind: RecordKind;
  /** The documents that together make one complete snapshot of the source, in order. */
  fetch(source: SourceConfig, context: FetchContext): AsyncIterable<FetchedDocument>;
  /** Reads one stored document back into records, in source order. */
  read(document: Readable, source: SourceConfig): AsyncIterable<RawRecord>;
}

/** A source failure that retrying cannot fix (missing file, 404, invalid credentials, not a feed). */
export class PermanentSourceError extends Error {
  override name = 'PermanentSourceError';
}
