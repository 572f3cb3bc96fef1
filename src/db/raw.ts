// Raw landing: payload bytes exactly as fetched, chunked into raw_page rows so nothing is held whole.
import { PassThrough, Readable, pipeline } from 'node:stream';
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { transaction, type Queryable } from './sql.ts';

export interface LandingPayload {
  id: number;
  status: 'landing' | 'stored' | 'unchanged' | 'not_modified';
  /** Every document landed and described (finishLanding ran); only storeRaw is left. */
  complete: boolean;
}

/** The payload row for (run, source), created on the first attempt and found again by a retry. */
export async function beginPayload(
  db: Queryable,
  runId: number,
  sourceId: string,
  url: string,
): Promise<LandingPayload> {
  const { rows } = await db.query<LandingPayload>(
    `INSERT INTO raw_payload (run_id, source_id, url) VALUES ($1, $2, $3)
     ON CONFLICT (run_id, source_id) DO UPDATE SET url = raw_payload.url
     RETURNING id::int, status, content_hash IS NOT NULL AS complete`,
    [runId, sourceId, url],
  );
  return rows[0]!;
}

export interface ResumePoint {
  /** The first document not landed completely. */
  document: number;
  /** Bytes of that document already landed (whole pages; each page is written atomically). */
  byteOffset: number;
  /** The next page number. */
  nextSeq: number;
}

/** Where an interrupted fetch can continue: after its complete documents, inside the one it was landing. */
export async function resumePoint(db: Queryable, payloadId: number): Promise<ResumePoint> {
  const { rows } = await db.query<{ document: number; byte_offset: string; next_seq: number }>(
    `SELECT p.landed_documents AS document,
            coalesce((SELECT sum(length(body)) FROM raw_page WHERE payload_id = p.id AND document = p.landed_documents), 0) AS byte_offset,
            coalesce((SELECT max(seq) + 1 FROM raw_page WHERE payload_id = p.id), 0) AS next_seq
     FROM raw_payload p WHERE p.id = $1`,
    [payloadId],
  );
  const row = rows[0]!;
  return { document: row.document, byteOffset: Number(row.byte_offset), nextSeq: row.next_seq };
}

/** Drops what an interrupted attempt landed of one document, when the retry has to fetch it whole again. */
export async function discardDocument(db: Queryable, payloadId: number, document: number): Promise<number> {
  await db.query('DELETE FROM raw_page WHERE payload_id = $1 AND document >= $2', [payloadId, document]);
  const { rows } = await db.query<{ next_seq: number }>(
    'SELECT coalesce(max(seq) + 1, 0) AS next_seq FROM raw_page WHERE payload_id = $1',
    [payloadId],
  );
  return rows[0]!.next_seq;
}

export function pageHash(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

export async function appendPage(
  db: Queryable,
  payloadId: number,
  seq: number,
  document: number,
  body: Uint8Array,
  hash = pageHash(body),
): Promise<void> {
  await db.query('INSERT INTO raw_page (payload_id, seq, document, hash, body) VALUES ($1, $2, $3, $4, $5)', [
    payloadId,
    seq,
    document,
    hash,
    body,
  ]);
}

export interface PreviousPages {
  payloadId: number;
  /** Page hashes by seq, with the document each page belongs to. */
  pages: { document: number; hash: string }[];
}

/** The pages of the source's last merged payload, which a fetch of the same bytes will match page by page. */
export async function previousPages(db: Queryable, sourceId: string): Promise<PreviousPages | null> {
  const { rows } = await db.query<{ payload_id: string; document: number; hash: string }>(
    `SELECT g.payload_id, g.document, g.hash FROM source_state s JOIN raw_page g ON g.payload_id = s.last_payload_id
     WHERE s.source_id = $1 ORDER BY g.seq`,
    [sourceId],
  );
  return rows.length
    ? { payloadId: Number(rows[0]!.payload_id), pages: rows.map(({ document, hash }) => ({ document, hash })) }
    : null;
}

/** Lands the first `count` pages of an earlier payload as this payload's own, without the bytes leaving the database. */
export async function copyPages(
  db: Queryable,
  fromPayloadId: number,
  toPayloadId: number,
  count: number,
): Promise<void> {
  await db.query(
    `INSERT INTO raw_page (payload_id, seq, document, hash, body) SELECT $2, seq, document, hash, body FROM raw_page WHERE payload_id = $1 AND seq < $3`,
    [fromPayloadId, toPayloadId, count],
  );
}

export async function markDocumentLanded(db: Queryable, payloadId: number, document: number): Promise<void> {
  await db.query('UPDATE raw_payload SET landed_documents = $2 WHERE id = $1', [payloadId, document + 1]);
}

export interface LandedMeta {
  url: string;
  httpStatus: number | null;
  contentType: string | null;
  etag: string | null;
  lastModified: string | null;
  notModified: boolean;
  incompleteReason: string | null;
}

/**
 * Records what was fetched, with size, page count and content hash computed from the stored pages (so a
 * resumed fetch is described exactly). The payload stays `landing` until storeRaw makes it immutable.
 * `pagesOf`: another payload whose pages this one equals page for page (none of them were written again).
 */
export async function finishLanding(
  db: Queryable,
  payloadId: number,
  meta: LandedMeta,
  pagesOf = payloadId,
): Promise<{ bytes: number; pages: number }> {
  const { rows } = await db.query<{ size_bytes: string; page_count: number }>(
    `UPDATE raw_payload p SET url = $2, http_status = $3, content_type = $4, etag = $5, last_modified = $6,
       status = CASE WHEN $7 THEN 'not_modified' ELSE status END, incomplete_reason = $8,
       content_hash = CASE WHEN $7 THEN NULL ELSE t.content_hash END, size_bytes = t.size_bytes, page_count = t.page_count
     FROM (SELECT encode(sha256(convert_to(coalesce(string_agg(hash, '' ORDER BY seq), ''), 'UTF8')), 'hex') AS content_hash,
                  coalesce(sum(length(body)), 0) AS size_bytes, count(*)::int AS page_count
           FROM raw_page WHERE payload_id = $9) t
     WHERE p.id = $1 AND p.status = 'landing'
     RETURNING p.size_bytes, p.page_count`,
    [
      payloadId,
      meta.url,
      meta.httpStatus,
      meta.contentType,
      meta.etag,
      meta.lastModified,
      meta.notModified,
      meta.incompleteReason,
      pagesOf,
    ],
  );
  return { bytes: Number(rows[0]?.size_bytes ?? 0), pages: rows[0]?.page_count ?? 0 };
}

/** What an earlier attempt already landed, for a retried fetch that finds its payload stored. */
export async function landedSummary(
  db: Queryable,
  payloadId: number,
): Promise<{ payloadId: number; bytes: number; pages: number; notModified: boolean }> {
  const { rows } = await db.query<{ size_bytes: string; page_count: number; status: string }>(
    'SELECT size_bytes, page_count, status FROM raw_payload WHERE id = $1',
    [payloadId],
  );
  const row = rows[0]!;
  return {
    payloadId,
    bytes: Number(row.size_bytes),
    pages: row.page_count,
    notModified: row.status === 'not_modified',
  };
}

/** The payload's origin and media type, needed to read its documents back. */
export async function payloadInfo(
  db: Queryable,
  payloadId: number,
): Promise<{
  url: string;
  contentType: string | null;
  incompleteReason: string | null;
  status: string;
  fetchedAt: Date;
}> {
  const { rows } = await db.query(
    'SELECT url, content_type AS "contentType", incomplete_reason AS "incompleteReason", status, fetched_at AS "fetchedAt" FROM raw_payload WHERE id = $1',
    [payloadId],
  );
  if (!rows[0]) throw new Error(`raw payload ${payloadId} does not exist`);
  // the pool hands timestamps over as text (MikroORM's type parsers)
  return { ...rows[0], fetchedAt: new Date(rows[0].fetchedAt) };
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
    const { rows } = await client.query<{
      status: string;
      content_hash: string | null;
      size_bytes: string;
      page_count: number;
      same_as_payload_id: string | null;
      last_payload_id: string | null;
      last_hash: string | null;
    }>(
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
        await client.query(
          `UPDATE raw_payload SET status = 'unchanged', same_as_payload_id = $2, stored_at = now() WHERE id = $1`,
          [payloadId, row.last_payload_id],
        );
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
  for (const { first, last } of rows) yield byteStream(pages(db, payloadId, first, last));
}

/** Bytes as a stream a reader can take. */
export function byteStream(chunks: AsyncIterable<Buffer>): Readable {
  // pipeline, not pipe: a failed page read (the database went away) reaches the reader as the stream's
  // error instead of an unheard 'error' event on the source stream, which would end the process
  return pipeline(Readable.from(chunks, { objectMode: false }), new PassThrough(), () => {});
}

async function* pages(db: Queryable, payloadId: number, first: number, last: number): AsyncIterable<Buffer> {
  for (let seq = first; seq <= last; seq++) {
    const { rows } = await db.query<{ body: Buffer }>('SELECT body FROM raw_page WHERE payload_id = $1 AND seq = $2', [
      payloadId,
      seq,
    ]);
    if (rows[0]) yield rows[0].body;
  }
}

/** Each stored document's size in bytes, in document order. */
export async function documentSizes(db: Queryable, payloadId: number): Promise<{ document: number; bytes: number }[]> {
  const { rows } = await db.query<{ document: number; bytes: string }>(
    'SELECT document, sum(length(body)) AS bytes FROM raw_page WHERE payload_id = $1 GROUP BY document ORDER BY document',
    [payloadId],
  );
  return rows.map((r) => ({ document: r.document, bytes: Number(r.bytes) }));
}

/** Bytes [from, to) of one stored document, fetched a page at a time (only the pages that overlap the range). */
export async function* documentRange(
  db: Queryable,
  payloadId: number,
  document: number,
  from: number,
  to: number,
): AsyncIterable<Buffer> {
  const { rows } = await db.query<{ seq: number; start: string; bytes: number }>(
    `SELECT seq, coalesce(sum(length(body)) OVER (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS start,
            length(body) AS bytes
     FROM raw_page WHERE payload_id = $1 AND document = $2 ORDER BY seq`,
    [payloadId, document],
  );
  for (const { seq, start, bytes } of rows) {
    const first = Number(start);
    if (first + bytes <= from || first >= to) continue;
    const { rows: page } = await db.query<{ body: Buffer }>(
      'SELECT body FROM raw_page WHERE payload_id = $1 AND seq = $2',
      [payloadId, seq],
    );
    const body = page[0]!.body;
    yield body.subarray(Math.max(0, from - first), Math.min(bytes, to - first));
  }
}
