// Raw landing: payload bytes exactly as fetched, chunked into raw_page rows so nothing is held whole.
import { PassThrough, Readable } from 'node:stream';
import type { Pool } from 'pg';
import { transaction, type Queryable } from './sql.ts';

export interface LandingPayload {
  id: number;
  status: 'landing' | 'stored' | 'unchanged' | 'not_modified';
}

/**
 * The payload row for (run, source), created on the first attempt. A retried fetch gets the same row
 * back; if the earlier attempt died mid-landing its partial pages are discarded and the fetch restarts.
 */
export async function beginPayload(db: Queryable, runId: number, sourceId: string, url: string): Promise<LandingPayload> {
  const { rows } = await db.query<LandingPayload>(
    `INSERT INTO raw_payload (run_id, source_id, url) VALUES ($1, $2, $3)
     ON CONFLICT (run_id, source_id) DO UPDATE SET url = raw_payload.url
     RETURNING id::int, status`,
    [runId, sourceId, url],
  );
  const payload = rows[0]!;
  if (payload.status === 'landing') {
    await db.query('DELETE FROM raw_page WHERE payload_id = $1', [payload.id]);
    await db.query(`UPDATE raw_payload SET size_bytes = 0, page_count = 0, content_hash = NULL, fetched_at = now() WHERE id = $1`, [payload.id]);
  }
  return payload;
}

export async function appendPage(db: Queryable, payloadId: number, seq: number, document: number, body: Uint8Array): Promise<void> {
  await db.query('INSERT INTO raw_page (payload_id, seq, document, body) VALUES ($1, $2, $3, $4)', [payloadId, seq, document, body]);
}

export interface LandedMeta {
  url: string;
  httpStatus: number | null;
  contentType: string | null;
  etag: string | null;
  lastModified: string | null;
  contentHash: string | null;
  sizeBytes: number;
  pageCount: number;
  notModified: boolean;
  incompleteReason: string | null;
}

/** Records what was fetched. The payload stays `landing` until storeRaw makes it immutable. */
export async function finishLanding(db: Queryable, payloadId: number, meta: LandedMeta): Promise<void> {
  await db.query(
    `UPDATE raw_payload SET url = $2, http_status = $3, content_type = $4, etag = $5, last_modified = $6,
       content_hash = $7, size_bytes = $8, page_count = $9, status = CASE WHEN $10 THEN 'not_modified' ELSE status END,
       incomplete_reason = $11
     WHERE id = $1 AND status = 'landing'`,
    [payloadId, meta.url, meta.httpStatus, meta.contentType, meta.etag, meta.lastModified, meta.contentHash, meta.sizeBytes, meta.pageCount, meta.notModified, meta.incompleteReason],
  );
}

/** What an earlier attempt already landed, for a retried fetch that finds its payload stored. */
export async function landedSummary(db: Queryable, payloadId: number): Promise<{ payloadId: number; bytes: number; pages: number; notModified: boolean }> {
  const { rows } = await db.query<{ size_bytes: string; page_count: number; status: string }>('SELECT size_bytes, page_count, status FROM raw_payload WHERE id = $1', [payloadId]);
  const row = rows[0]!;
  return { payloadId, bytes: Number(row.size_bytes), pages: row.page_count, notModified: row.status === 'not_modified' };
}

/** The payload's origin and media type, needed to read its documents back. */
export async function payloadInfo(db: Queryable, payloadId: number): Promise<{ url: string; contentType: string | null; incompleteReason: string | null; status: string }> {
  const { rows } = await db.query('SELECT url, content_type AS "contentType", incomplete_reason AS "incompleteReason", status FROM raw_payload WHERE id = $1', [payloadId]);
  if (!rows[0]) throw new Error(`raw payload ${payloadId} does not exist`);
  return rows[0];
}

export interface StoredPayload {
  status: 'stored' | 'unchanged' | 'not_modified';
  contentHash: string | null;
  sizeBytes: number;
  pageCount: number;
  sameAsPayloadId: number | null;
}

/**
 * Makes a landed payload immutable. When its bytes equal the source's last merged snapshot it is
 * marked `unchanged` and points at that payload instead of keeping a second copy of the same bytes.
 * Idempotent: a second call returns the first call's outcome.
 */
export async function storePayload(pool: Pool, payloadId: number, sourceId: string): Promise<StoredPayload> {
  return transaction(pool, async (client) => {
    const { rows } = await client.query<{ status: string; content_hash: string | null; size_bytes: string; page_count: number; same_as_payload_id: string | null; last_payload_id: string | null; last_hash: string | null }>(
      `SELECT p.status, p.content_hash, p.size_bytes, p.page_count, p.same_as_payload_id,
              s.last_payload_id, s.content_hash AS last_hash
       FROM raw_payload p LEFT JOIN source_state s ON s.source_id = $2
       WHERE p.id = $1 FOR UPDATE OF p`,
      [payloadId, sourceId],
    );
    const row = rows[0];
    if (!row) throw new Error(`raw payload ${payloadId} does not exist`);
    if (row.status === 'landing') {
      if (row.content_hash === null) throw new Error(`raw payload ${payloadId} was never completely fetched`);
      const unchanged = row.last_hash !== null && row.last_hash === row.content_hash;
      if (unchanged) {
        await client.query('DELETE FROM raw_page WHERE payload_id = $1', [payloadId]);
        await client.query(`UPDATE raw_payload SET status = 'unchanged', same_as_payload_id = $2, stored_at = now() WHERE id = $1`, [payloadId, row.last_payload_id]);
        row.same_as_payload_id = row.last_payload_id;
      } else {
        await client.query(`UPDATE raw_payload SET status = 'stored', stored_at = now() WHERE id = $1`, [payloadId]);
      }
      row.status = unchanged ? 'unchanged' : 'stored';
    }
    return {
      status: row.status as StoredPayload['status'],
      contentHash: row.content_hash,
      sizeBytes: Number(row.size_bytes),
      pageCount: row.page_count,
      sameAsPayloadId: row.same_as_payload_id === null ? null : Number(row.same_as_payload_id),
    };
  });
}

/** The stored documents of a payload, each as a stream of its pages fetched one at a time. */
export async function* readDocuments(db: Queryable, payloadId: number): AsyncIterable<Readable> {
  const { rows } = await db.query<{ document: number; first: number; last: number }>(
    `SELECT document, min(seq) AS first, max(seq) AS last FROM raw_page WHERE payload_id = $1 GROUP BY document ORDER BY document`,
    [payloadId],
  );
  for (const { first, last } of rows) {
    yield Readable.from(pages(db, payloadId, first, last), { objectMode: false }).pipe(new PassThrough());
  }
}

async function* pages(db: Queryable, payloadId: number, first: number, last: number): AsyncIterable<Buffer> {
  for (let seq = first; seq <= last; seq++) {
    const { rows } = await db.query<{ body: Buffer }>('SELECT body FROM raw_page WHERE payload_id = $1 AND seq = $2', [payloadId, seq]);
    if (rows[0]) yield rows[0].body;
  }
}
