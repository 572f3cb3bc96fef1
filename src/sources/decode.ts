// Text decoding for CSV and feeds. The encoding comes from, in order: a byte-order mark, the source's
// declared encoding, the document's own declaration (<?xml encoding="..."?>), the HTTP charset; without
// any of these the bytes are taken as UTF-8 if they are valid UTF-8, else as Windows-1252 (the superset
// of Latin-1 that real "ISO-8859-1" files use). Decoding never substitutes characters silently in valid text.
import { Transform } from 'node:stream';

export interface EncodingHints {
  declared?: string;
  contentType?: string | null;
  /** Look for <?xml ... encoding="..."?> in the first bytes. */
  xml?: boolean;
}

const BOMS: [number[], string][] = [
  [[0xef, 0xbb, 0xbf], 'utf-8'],
  [[0xff, 0xfe], 'utf-16le'],
  [[0xfe, 0xff], 'utf-16be'],
];

/** Works out a document's encoding from its first bytes (`partial`: more bytes follow) and the hints. */
export function detectEncoding(head: Uint8Array, hints: EncodingHints = {}, partial = false): string {
  for (const [bom, encoding] of BOMS) if (bom.every((b, i) => head[i] === b)) return encoding;
  const sniffed = hints.declared ? undefined : utf16WithoutBom(head);
  if (sniffed) return sniffed;
  const named =
    hints.declared ??
    (hints.xml
      ? /^\s*<\?xml[^>]*encoding=["']([\w.:-]+)["']/i.exec(Buffer.from(head.subarray(0, 200)).toString('latin1'))?.[1]
      : undefined) ??
    /charset="?([\w.:-]+)"?/i.exec(hints.contentType ?? '')?.[1];
  if (named) {
    try {
      return new TextDecoder(named === 'utf8' ? 'utf-8' : named).encoding;
    } catch {
      throw new Error(`unknown text encoding '${named}'`);
    }
  }
  try {
    // a multi-byte character may be cut at the end of a partial sample: drop it before judging
    new TextDecoder('utf-8', { fatal: true }).decode(partial ? trimPartial(head) : head);
    return 'utf-8';
  } catch {
    return 'windows-1252';
  }
}

/**
 * UTF-16 without a byte-order mark, told by its zero bytes: mostly-Latin text in UTF-16LE has a zero in every
 * odd byte and almost none in the even ones (the reverse for UTF-16BE). As UTF-8 it would "decode" into text
 * full of NUL characters.
 */
function utf16WithoutBom(head: Uint8Array): string | undefined {
  const pairs = Math.min(256, Math.floor(head.length / 2));
  if (pairs < 8) return undefined;
  let [evenZeros, oddZeros] = [0, 0];
  for (let i = 0; i < pairs; i++) {
    if (head[2 * i] === 0) evenZeros++;
    if (head[2 * i + 1] === 0) oddZeros++;
  }
  if (oddZeros >= pairs * 0.4 && evenZeros <= pairs * 0.05) return 'utf-16le';
  if (evenZeros >= pairs * 0.4 && oddZeros <= pairs * 0.05) return 'utf-16be';
  return undefined;
}

export function decode(bytes: Uint8Array, hints: EncodingHints = {}): string {
  const encoding = detectEncoding(bytes, hints);
  try {
    return new TextDecoder(encoding, { fatal: encoding === 'utf-8' }).decode(bytes);
  } catch {
    throw new Error(
      `the text is declared UTF-8 but is not valid UTF-8 (at byte ${firstInvalidUtf8(bytes)}); declare its real encoding`,
    );
  }
}

function firstInvalidUtf8(bytes: Uint8Array): number {
  // the longest valid prefix: binary search on what a fatal decoder accepts (stream mode tolerates a cut tail)
  let [good, bad] = [0, bytes.length];
  while (bad - good > 1) {
    const mid = (good + bad) >> 1;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, mid), { stream: true });
      good = mid;
    } catch {
      bad = mid;
    }
  }
  return good;
}

/** Bytes looked at before deciding an undeclared encoding. */
export const SNIFF_BYTES = 64 * 1024;

/**
 * A stream that decodes bytes to text. The encoding is decided on the first 64 KiB; a later byte that is not
 * UTF-8 in a UTF-8 text fails the stream with a clear error rather than turning into U+FFFD.
 */
export function decodingStream(hints: EncodingHints = {}): Transform {
  let decoder: InstanceType<typeof TextDecoder> | undefined;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let offset = 0;
  const decide = (partial: boolean) => {
    const head = Buffer.concat(pending);
    const encoding = detectEncoding(head, hints, partial);
    decoder = new TextDecoder(encoding, { fatal: encoding === 'utf-8' });
    pending = [];
    return head;
  };
  const run = (bytes: Buffer, stream: boolean): string => {
    try {
      const text = decoder!.decode(bytes, { stream });
      offset += bytes.length;
      return text;
    } catch {
      throw new Error(
        `the text is not valid UTF-8 after byte ${offset} although it was declared or began as UTF-8; declare its real encoding (csv.encoding)`,
      );
    }
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      try {
        if (decoder) return done(null, run(chunk, true));
        pending.push(chunk);
        pendingBytes += chunk.length;
        done(null, pendingBytes >= SNIFF_BYTES ? run(decide(true), true) : '');
      } catch (error) {
        done(error as Error);
      }
    },
    flush(done) {
      try {
        done(null, decoder ? run(Buffer.alloc(0), false) : run(decide(false), false));
      } catch (error) {
        done(error as Error);
      }
    },
  });
}

function trimPartial(bytes: Uint8Array): Uint8Array {
  const end = bytes.length;
  for (let i = 1; i <= 3 && end - i >= 0; i++) {
    const b = bytes[end - i]!;
    if ((b & 0xc0) === 0xc0) return bytes.subarray(0, end - i); // a lead byte whose sequence may be incomplete
    if ((b & 0xc0) !== 0x80) break;
  }
  return bytes;
}
