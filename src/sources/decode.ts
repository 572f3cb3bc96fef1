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
  return detect(head, hints, partial).encoding;
}

function detect(head: Uint8Array, hints: EncodingHints, partial: boolean): { encoding: string; guessed: boolean } {
  for (const [bom, encoding] of BOMS) if (bom.every((b, i) => head[i] === b)) return { encoding, guessed: false };
  const named =
    hints.declared ??
    (hints.xml ? /^\s*<\?xml[^>]*encoding=["']([\w.:-]+)["']/i.exec(Buffer.from(head.subarray(0, 200)).toString('latin1'))?.[1] : undefined) ??
    /charset="?([\w.:-]+)"?/i.exec(hints.contentType ?? '')?.[1];
  if (named) {
    try {
      return { encoding: new TextDecoder(named === 'utf8' ? 'utf-8' : named).encoding, guessed: false };
    } catch {
      throw new Error(`unknown text encoding '${named}'`);
    }
  }
  try {
    // a multi-byte character may be cut at the end of a partial sample: drop it before judging
    new TextDecoder('utf-8', { fatal: true }).decode(partial ? trimPartial(head) : head);
    return { encoding: 'utf-8', guessed: true };
  } catch {
    return { encoding: 'windows-1252', guessed: true };
  }
}

export function decode(bytes: Uint8Array, hints: EncodingHints = {}): string {
  return new TextDecoder(detectEncoding(bytes, hints)).decode(bytes);
}

/** Bytes looked at before deciding an undeclared encoding. */
const SNIFF_BYTES = 64 * 1024;

/**
 * A stream that decodes bytes to text. The encoding is decided on the first 64 KiB; when that was a guess of
 * UTF-8, a later byte that is not UTF-8 fails the stream with a clear error rather than turning into U+FFFD.
 */
export function decodingStream(hints: EncodingHints = {}): Transform {
  let decoder: InstanceType<typeof TextDecoder> | undefined;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let offset = 0;
  const decide = (partial: boolean) => {
    const head = Buffer.concat(pending);
    const { encoding, guessed } = detect(head, hints, partial);
    decoder = new TextDecoder(encoding, { fatal: guessed && encoding === 'utf-8' });
    pending = [];
    return head;
  };
  const run = (bytes: Buffer, stream: boolean): string => {
    try {
      const text = decoder!.decode(bytes, { stream });
      offset += bytes.length;
      return text;
    } catch {
      throw new Error(`the text is not valid UTF-8 after byte ${offset} although it began as UTF-8; declare its encoding (csv.encoding)`);
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
  let end = bytes.length;
  for (let i = 1; i <= 3 && end - i >= 0; i++) {
    const b = bytes[end - i]!;
    if ((b & 0xc0) === 0xc0) return bytes.subarray(0, end - i); // a lead byte whose sequence may be incomplete
    if ((b & 0xc0) !== 0x80) break;
  }
  return bytes;
}
