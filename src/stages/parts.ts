// Normalize in parts: a payload larger than the part size is cut into parts that read, each on its own, into
// exactly the records the whole payload reads into, so that workers normalize them side by side. A part is a
// run of whole documents (the pages of a paged API) or a byte range of one large document, cut where its
// source kind says it can be (a CSV at record ends, behind its header line). Plain inputs only: no Temporal.
import type { Readable } from 'node:stream';
import type { Database } from '../db/orm.ts';
import { byteStream, documentRange, documentSizes } from '../db/raw.ts';
import type { Queryable } from '../db/sql.ts';
import type { DriftChange } from '../normalize/drift.ts';
import type { FieldMapping } from '../normalize/mapping.ts';
import type { Series } from '../normalize/series.ts';
import type { SourceConfig } from '../sources/config.ts';
import type { DocumentInfo, SourceAdapter } from '../sources/types.ts';

/** Bytes [from, to) of one document, read behind its first `prefix` bytes (a CSV's header line) when set. */
export interface Piece {
  document: number;
  from: number;
  to: number;
  prefix?: number;
  /** What the piece is read with instead of the source's own setting (the whole document's encoding). */
  csv?: SourceConfig['csv'];
}

/** What every part needs to read and judge its records the way the whole payload would have been. */
export interface PartsPlan {
  parts: Piece[][];
  /** Part k's records take positions from k × stride on: more than any part's bytes, so more than its records. */
  stride: number;
  /** The mapping, series and frozen fields decided from the payload's first records, once for all parts. */
  decision: { mapping: FieldMapping; series: Series | null; frozen: DriftChange[]; driftEvents: number };
  /** Set once every part is done: what takes part k's positions to the payload's own. */
  shifts?: number[];
}

/** Positions are int: a payload whose parts could reach past that is normalized whole. */
const MAX_POSITION = 2 ** 31 - 1;

/** The payload's parts, or null when it is small enough, or cannot be cut, to be normalized whole. */
export async function planParts(
  db: Database,
  payloadId: number,
  adapter: SourceAdapter,
  source: SourceConfig,
  info: DocumentInfo,
  partBytes: number,
): Promise<{ parts: Piece[][]; stride: number } | null> {
  const documents = await documentSizes(db.pool, payloadId);
  if (documents.reduce((sum, d) => sum + d.bytes, 0) <= partBytes) return null;
  const parts: Piece[][] = [];
  let current: Piece[] = [];
  let currentBytes = 0;
  const close = () => {
    if (current.length) parts.push(current);
    current = [];
    currentBytes = 0;
  };
  for (const { document, bytes } of documents) {
    const split =
      bytes > partBytes && adapter.split
        ? // parts of even size (a 2.1× file is three parts of 0.7, not two and a sliver), so they end together
          await adapter.split(
            documentRange(db.pool, payloadId, document, 0, bytes),
            source,
            info,
            Math.ceil(bytes / Math.ceil(bytes / partBytes)),
          )
        : null;
    if (split) {
      close();
      const bounds = [0, ...split.cuts, bytes];
      for (let i = 0; i + 1 < bounds.length; i++)
        parts.push([
          {
            document,
            from: bounds[i]!,
            to: bounds[i + 1]!,
            ...(i > 0 ? { prefix: split.prefixBytes } : {}),
            csv: split.readAs.csv,
          },
        ]);
      continue;
    }
    if (currentBytes > 0 && currentBytes + bytes > partBytes) close();
    current.push({ document, from: 0, to: bytes });
    currentBytes += bytes;
  }
  close();
  const stride = Math.max(...parts.map((part) => part.reduce((sum, p) => sum + p.to - p.from, 0))) + 1;
  if (parts.length < 2 || parts.length * stride > MAX_POSITION) return null;
  return { parts, stride };
}

/** One part's documents, each as a byte stream for the source's reader, with the source as that piece reads it. */
export function* partDocuments(
  reader: Queryable,
  payloadId: number,
  part: Piece[],
  source: SourceConfig,
): Iterable<{ document: Readable; source: SourceConfig }> {
  for (const piece of part) {
    const bytes = async function* () {
      if (piece.prefix) yield* documentRange(reader, payloadId, piece.document, 0, piece.prefix);
      yield* documentRange(reader, payloadId, piece.document, piece.from, piece.to);
    };
    yield { document: byteStream(bytes()), source: piece.csv ? { ...source, csv: piece.csv } : source };
  }
}

/** part k's shift: k × stride less the records of the parts before it. */
export function shiftsOf(stride: number, parsed: number[]): number[] {
  let before = 0;
  return parsed.map((count, k) => {
    const shift = k * stride - before;
    before += count;
    return shift;
  });
}
