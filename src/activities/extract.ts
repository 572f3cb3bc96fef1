// Extract: fetch the source into raw_page chunks, then make the landed payload immutable raw data.
import { Context } from '@temporalio/activity';
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
  storePayload,
} from '../db/raw.ts';
import { throttle } from '../db/ratelimit.ts';
import { updateRunSource } from '../db/runs.ts';
import { adapterFor } from '../sources/index.ts';
import { CHUNK_BYTES } from '../sources/transport.ts';
import type { FetchedDocument } from '../sources/types.ts';
import { runStage, sourceById, type ActivityDeps, type PayloadStep, type SourceStep } from './common.ts';
import { beforeFetch } from './faults.ts';

export interface FetchOutcome {
  payloadId: number;
  bytes: number;
  pages: number;
  notModified: boolean;
}

export function extractActivities({ db, sourcesFile }: ActivityDeps) {
  return {
    /**
     * Streams the source into raw_page chunks, heartbeating each one. A retry continues where the last
     * attempt stopped: after its complete documents (API pages), or inside a local file; otherwise it
     * fetches the interrupted document again.
     */
    async fetchSource(step: SourceStep): Promise<FetchOutcome> {
      return runStage(db, step, async (progress) => {
        const { runId, sourceId } = step;
        const source = sourceById(sourcesFile, sourceId);
        const location = source.url;
        const payload = await beginPayload(db.pool, runId, sourceId, location);
        if (payload.status !== 'landing' || payload.complete) return landedSummary(db.pool, payload.id);

        await beforeFetch(source, Context.current().info.attempt, progress.signal);
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
          signal: progress.signal,
          markIncomplete: (reason) => (incompleteReason = reason),
          resumeAt: { document: resume.document, byteOffset: resume.byteOffset },
          throttle: () =>
            source.rateLimit
              ? throttle(db.pool, source.rateLimit.key, source.rateLimit.perSecond, progress.signal)
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
            progress.beat({ document, pages: seq });
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
      });
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
