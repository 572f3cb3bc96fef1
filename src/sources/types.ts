// The one interface every source kind implements. Fetching yields bytes (landed raw, untouched);
// reading turns stored bytes back into records. Keeping the two apart is what lets a run resume,
// and a past payload be re-normalized later, without calling the source again.
import type { Readable } from 'node:stream';
import type { RecordKind, UnifiedField } from '../normalize/record.ts';
import type { SourceConfig } from './config.ts';

/** Validators from the last merged payload, for conditional requests. */
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
  /** Where in the document the body starts: more than 0 only when a fetch resumed inside it. */
  startOffset?: number;
  body: AsyncIterable<Uint8Array>;
}

export interface FetchContext {
  validators: Validators;
  signal?: AbortSignal;
  /** Says the documents fetched are not the whole source (a page cap was hit): nothing may be deleted. */
  markIncomplete(reason: string): void;
  /**
   * Where an interrupted fetch stopped: documents before `document` are landed; of that one, `byteOffset`
   * bytes are. A source that can start there (a later page, a file offset) does; others start over.
   */
  resumeAt: { document: number; byteOffset: number };
  /** Waits for the source's rate limit (shared by every worker) before a request. */
  throttle(): Promise<void>;
}

/** What is known about a stored document when it is read back. */
export interface DocumentInfo {
  url: string;
  contentType: string | null;
}

/** A record as the source wrote it, flattened: nested keys are joined with dots (quotes.USD.price). */
export type SourceFields = Record<string, unknown>;

/** A record the source sent that could not be parsed at all (a broken CSV line); it is quarantined as is. */
export interface Unparsed {
  unparsed: string;
  reason: string;
}
export const isUnparsed = (record: SourceFields | Unparsed): record is Unparsed =>
  typeof record.unparsed === 'string' && typeof record.reason === 'string' && Object.keys(record).length === 2;

export interface SourceAdapter {
  /** What the source's records become in the unified schema. */
  readonly recordKind: RecordKind;
  /** Where each unified field is found in this source's records. Without one (CSV), the header is matched instead. */
  readonly fieldMap?: Partial<Record<UnifiedField, string>>;
  /** The documents that together make one complete snapshot of the source, in order. */
  fetch(source: SourceConfig, context: FetchContext): AsyncIterable<FetchedDocument>;
  /** Reads one stored document back into records, in source order. */
  read(document: Readable, source: SourceConfig, info: DocumentInfo): AsyncIterable<SourceFields | Unparsed>;
  /**
   * Where one large stored document can be cut into parts of about `partBytes` that read, each on its own,
   * into exactly the records the whole document reads into (a CSV cut at record ends); null when it cannot be
   * (a text encoding whose bytes do not show the record ends). Sources without it are never cut.
   */
  split?(
    document: AsyncIterable<Uint8Array>,
    source: SourceConfig,
    info: DocumentInfo,
    partBytes: number,
  ): Promise<DocumentSplit | null>;
  /**
   * Values this source writes for "no value" in a field, beyond the empty spellings every source has
   * ("", "-", "N/A", ...): CoinPaprika's rank 0 is "not ranked", not a rank. They are read as null.
   */
  readonly sentinels?: Partial<Record<UnifiedField, readonly (string | number)[]>>;
}

/** How a document is cut: each part from a cut to the next, every part after the first read behind the prefix. */
export interface DocumentSplit {
  /** The bytes at the document's start that every later part is read behind (a CSV's header line). */
  prefixBytes: number;
  /** Byte offsets where parts begin, ascending, each after the prefix and at a record boundary. */
  cuts: number[];
  /** The source as every part is read, so that each decides what the whole document decided (encoding, delimiter). */
  readAs: SourceConfig;
}

/** A source failure that retrying cannot fix (missing file, 404, bad credentials, wrong content type). */
export class PermanentSourceError extends Error {
  override name = 'PermanentSourceError';
}

/** A failure worth retrying, at the time the source asked for (Retry-After) when it said so. */
export class RetryableSourceError extends Error {
  override name = 'RetryableSourceError';
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs?: number) {
    super(message);
    this.retryAfterMs = retryAfterMs;
  }
}

/** A stored payload that cannot be read as the source kind says it should (not a feed, no usable columns). */
export class UnreadablePayloadError extends Error {
  override name = 'UnreadablePayloadError';
}
