// Extract: fetch the source into raw_page chunks, then make the landed payload immutable raw data.
import { Context } from '@temporalio/activity';
import { createHash } from 'node:crypto';
import { SourceState } from '../db/entities.ts';
import { appendPage, beginPayload, finishLanding, landedSummary, storePayload } from '../db/raw.ts';
import { updateRunSource } from '../db/runs.ts';
import { adapterFor } from '../sources/index.ts';
import { CHUNK_BYTES } from '../sources/transport.ts';
import type { FetchedDocument } from '../sources/types.ts';
import { asFailure, sourceById, type ActivityDeps, type PayloadStep, type SourceStep } from './common.ts';

export interface FetchOutcome {
  payloadId: number;
  bytes: number;
  pages: number;
  notModified: boolean;
}

export function extractActivities({ db, sourcesFile }: ActivityDeps) {
  return {
    /** Streams the source into raw_page chunks. A retry discards a half-landed payload and starts over. */
    async fetchSource({ runId, sourceId }: SourceStep): Promise<FetchOutcome> {
      const source = sourceById(sourcesFile, sourceId);
      const ctx = Context.current();
      const location = source.location.type === 'file' ? `file://${source.location.path}` : source.location.url;
      const payload = await beginPayload(db.pool, runId, sourceId, location);
      if (payload.status !== 'landing') return landedSummary(db.pool, payload.id);

      const state = await db.em().findOne(SourceState, { sourceId });
      const validators = { etag: state?.etag ?? null, lastModified: state?.lastModified ?? null };
      const hash = createHash('sha256');
      let [pages, bytes, document] = [0, 0, 0];
      let last: Omit<FetchedDocument, 'body'> = { url: location, httpStatus: null, contentType: null, etag: null, lastModified: null, notModified: false };
      let incompleteReason: string | null = null;
      await asFailure(async () => {
        const documents = adapterFor(source).fetch(source, { validators, signal: ctx.cancellationSignal, markIncomplete: (reason) => (incompleteReason = reason) });
        for await (const fetched of documents) {
          last = fetched;
          if (fetched.notModified) break;
          for await (const chunk of rechunk(fetched.body, CHUNK_BYTES)) {
            await appendPage(db.pool, payload.id, pages++, document, chunk);
            hash.update(chunk);
            bytes += chunk.length;
            ctx.heartbeat({ pages, bytes });
          }
          document++;
        }
      });
      const { body: _body, ...meta } = last as FetchedDocument;
      await finishLanding(db.pool, payload.id, { ...meta, contentHash: last.notModified ? null : hash.digest('hex'), sizeBytes: bytes, pageCount: pages, incompleteReason });
      await updateRunSource(db.em(), runId, sourceId, { payloadId: payload.id, bytes, pages });
      return { payloadId: payload.id, bytes, pages, notModified: last.notModified };
    },

    /** Makes the landed payload immutable and says whether it differs from the last merged snapshot. */
    async storeRaw({ sourceId, payloadId }: PayloadStep): Promise<{ unchanged: boolean; contentHash: string | null }> {
      const stored = await storePayload(db.pool, payloadId, sourceId);
      return { unchanged: stored.status !== 'stored', contentHash: stored.contentHash };
    },
  };
}

/** Regroups a byte stream into chunks of about `size` bytes, so raw_page rows are neither tiny nor huge. */
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
