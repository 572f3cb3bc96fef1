// Extract's algorithm: fetch the source into raw_page chunks, resuming an interrupted attempt where it stopped
// and landing bytes equal to the last merged payload's by reference instead of writing them again. Plain inputs
// only (a database, the source, a heartbeat callback, an abort signal), so it runs without Temporal.
import type { Database } from '../db/orm.ts';
import { SourceState } from '../db/entities.ts';
import {
  appendPage,
  beginPayload,
  copyPages,
  discardDocument,
  finishLanding,
  landedSummary,
  markDocumentLanded,
  pageHash,
  previousPages,
  resumePoint,
} from '../db/raw.ts';
import { throttle } from '../db/ratelimit.ts';
import { updateRunSource } from '../db/runs.ts';
import { beforeFetch } from './faults.ts';
import type { SourceConfig } from '../sources/config.ts';
import { adapterFor } from '../sources/index.ts';
import { CHUNK_BYTES } from '../sources/transport.ts';
import type { FetchedDocument } from '../sources/types.ts';

export interface FetchOutcome {
  payloadId: number;
  bytes: number;
  pages: number;
  notModified: boolean;
}

export interface FetchOptions {
  /** Which attempt this is (1 for the first): the sources file's fault injection misbehaves only early on. */
  attempt: number;
  /** Aborts the fetch (and any wait for the rate limit). */
  signal: AbortSignal;
  /** Called after every landed (or matched) page. */
  onPage: (landed: { document: number; pages: number }) => void;
}

/**
 * Streams the source into raw_page chunks for the run. A second call for the same run continues where the
 * last one stopped: after its complete documents (API pages), or inside a local file; otherwise it fetches
 * the interrupted document again. A payload already landed is only summarized.
 */
export async function fetchAndLand(
  db: Database,
  runId: number,
  source: SourceConfig,
  { attempt, signal, onPage }: FetchOptions,
): Promise<FetchOutcome> {
  const sourceId = source.id;
  const location = source.url;
  const payload = await beginPayload(db.pool, runId, sourceId, location);
  if (payload.status !== 'landing' || payload.complete) return landedSummary(db.pool, payload.id);

  await beforeFetch(source, attempt, signal);
  const state = await db.em().findOne(SourceState, { sourceId });
  const validators = { etag: state?.etag ?? null, lastModified: state?.lastModified ?? null };
  const resume = await resumePoint(db.pool, payload.id);
  let [seq, document] = [resume.nextSeq, resume.document];
  let last: Omit<FetchedDocument, 'body'> = {
    url: location,
    httpStatus: null,
    contentType: null,
    etag: null,
    lastModified: null,
    notModified: false,
  };
  let incompleteReason: string | null = null;
  const documents = adapterFor(source).fetch(source, {
    validators,
    signal,
    markIncomplete: (reason) => (incompleteReason = reason),
    resumeAt: { document: resume.document, byteOffset: resume.byteOffset },
    throttle: () =>
      source.rateLimit
        ? throttle(db.pool, source.rateLimit.key, source.rateLimit.perSecond, signal)
        : Promise.resolve(),
  });
  // Bytes equal to the last merged payload's, page for page, are not written again: they are landed by
  // reference when the first page differs, or the payload is described by those pages if none does.
  // Nothing is landed meanwhile, so an attempt interrupted before then starts over on the retry.
  const previous = seq === 0 && document === 0 ? await previousPages(db.pool, sourceId) : null;
  let matching = previous !== null;
  const landMatched = async () => {
    matching = false;
    await copyPages(db.pool, previous!.payloadId, payload.id, seq);
    if (document > 0) await markDocumentLanded(db.pool, payload.id, document - 1);
  };
  for await (const fetched of documents) {
    const { body, ...meta } = fetched;
    last = meta;
    if (fetched.notModified) break;
    if (document === resume.document && (fetched.startOffset ?? 0) !== resume.byteOffset)
      seq = await discardDocument(db.pool, payload.id, document);
    for await (const chunk of rechunk(body, CHUNK_BYTES)) {
      const hash = pageHash(chunk);
      const before = matching ? previous!.pages[seq] : undefined;
      if (before?.hash === hash && before.document === document) seq++;
      else {
        if (matching) await landMatched();
        await appendPage(db.pool, payload.id, seq++, document, chunk, hash);
      }
      onPage({ document, pages: seq });
    }
    if (!matching) await markDocumentLanded(db.pool, payload.id, document);
    document++;
  }
  const identical = matching && !last.notModified && seq === previous!.pages.length;
  if (matching && !identical) await landMatched();
  const { bytes, pages } = await finishLanding(
    db.pool,
    payload.id,
    { ...last, incompleteReason },
    identical ? previous!.payloadId : payload.id,
  );
  await updateRunSource(db.em(), runId, sourceId, { payloadId: payload.id, bytes, pages });
  return { payloadId: payload.id, bytes, pages, notModified: last.notModified };
}

/** Regroups a byte stream into chunks of `size` bytes (the last one shorter), so raw_page rows are neither tiny nor huge. */
async function* rechunk(body: AsyncIterable<Uint8Array>, size: number): AsyncIterable<Buffer> {
  let parts: Buffer[] = [];
  let length = 0;
  for await (const piece of body) {
    let buf = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    while (length + buf.length >= size) {
      const take = size - length;
      parts.push(buf.subarray(0, take));
      yield Buffer.concat(parts);
      buf = buf.subarray(take);
      parts = [];
      length = 0;
    }
    if (buf.length) {
      parts.push(buf);
      length += buf.length;
    }
  }
  if (length) yield Buffer.concat(parts);
}
