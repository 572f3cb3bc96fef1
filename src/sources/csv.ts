// CSV files of asset quotes, local or over HTTP, streamed through csv-parse. Real exports come in UTF-8
// (with or without BOM), UTF-16 and Latin-1, with ",", ";" or tab, "#" comment banners, quoted fields and
// ragged rows. Header names are matched onto unified fields later (src/normalize/mapping.ts).
import { parse } from 'csv-parse';
import { Readable, pipeline } from 'node:stream';
import { SNIFF_BYTES, decodingStream, detectEncoding } from './decode.ts';
import { openLocation } from './transport.ts';
import {
  UnreadablePayloadError,
  type DocumentSplit,
  type SourceAdapter,
  type SourceFields,
  type Unparsed,
} from './types.ts';
import type { SourceConfig } from './config.ts';

const CSV_TYPES = ['text/csv', 'text/plain', 'application/csv', 'application/vnd.ms-excel', 'application/octet-stream'];
const DELIMITERS = [',', ';', '\t'];
/** Characters of one CSV record (or of the text before the header line ends) beyond which it is refused. */
export const MAX_RECORD_CHARS = 1 << 20;

export const csvSource: SourceAdapter = {
  recordKind: 'asset',

  async *fetch(source, context) {
    yield await openLocation(source, context, CSV_TYPES);
  },

  async *read(document: Readable, source, info): AsyncIterable<SourceFields | Unparsed> {
    const text = pipeline(
      document,
      decodingStream({ declared: source.csv.encoding, contentType: info.contentType }),
      () => {},
    );
    const chunks = text[Symbol.asyncIterator]();
    // read just far enough to see the header line: the delimiter is the candidate it uses most
    let head = '';
    let header: string | undefined;
    for (;;) {
      header = headerLine(head);
      if (header !== undefined) break;
      if (head.length > MAX_RECORD_CHARS)
        throw new UnreadablePayloadError(`no CSV header line within the first ${MAX_RECORD_CHARS} characters`);
      const next = await chunks.next();
      if (next.done) break;
      head += String(next.value);
    }
    header ??= headerLine(head, true);
    if (header === undefined) return;
    const delimiter =
      source.csv.delimiter ?? DELIMITERS.reduce((best, d) => (count(header!, d) > count(header!, best) ? d : best));
    const rest = (async function* () {
      yield head;
      for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield String(next.value);
    })();
    // a line csv-parse cannot read (a stray quote) is skipped by the parser and quarantined by us, in its place
    const broken: { line: number; record: Unparsed }[] = [];
    const refuse = (line: number, text: string, reason: string) =>
      broken.push({ line, record: { unparsed: text.slice(0, 10_000), reason } });
    const rows = pipeline(
      Readable.from(wholeRecords(rest, delimiter, MAX_RECORD_CHARS, refuse)),
      parse({
        delimiter,
        comment: '#',
        comment_no_infix: true,
        skip_empty_lines: true,
        relax_column_count: true,
        relax_quotes: true,
        info: true,
        raw: true,
        skip_records_with_error: true,
        on_skip: (error, raw) =>
          void broken.push({
            line: Number(error?.lines ?? 0),
            record: {
              unparsed: (raw ?? '').slice(0, 10_000),
              reason: `unreadable CSV line: ${error?.message ?? 'unknown error'}`,
            },
          }),
      }),
      () => {},
    ) as AsyncIterable<{ record: string[]; info: { lines: number } }>;
    let names: string[] | undefined;
    for await (const { record: row, info } of rows) {
      while (broken.length && broken[0]!.line < info.lines) yield broken.shift()!.record;
      if (!names) {
        names = uniqueNames(row);
        continue;
      }
      const fields: SourceFields = {};
      // trimmed here, not by csv-parse: its trim option turns a stray quote into a lost line
      for (const [i, value] of row.entries()) fields[names![i] ?? `column_${i + 1}`] = value.trim();
      yield fields;
    }
    for (const { record } of broken) yield record;
  },

  split: splitCsv,
};

/**
 * Encodings in which a byte below 0x80 is always that ASCII character, so quotes, line ends and delimiters
 * can be found in the bytes; with the setting that reads them.
 */
const CUTTABLE: Record<string, NonNullable<SourceConfig['csv']['encoding']>> = {
  'utf-8': 'utf8',
  'windows-1252': 'latin1',
};

/**
 * Cuts a CSV file at record ends, each later part read behind the file's header line. The bytes are scanned
 * as Latin-1 (one character per byte) with the scanner the reader itself uses, from the header on. A file is
 * not cut when its parts might read differently from the whole: a UTF-16 file, a header that is not one plain
 * line, a comment line among the records (csv-parse skips its quotes, the scanner would not), line ends of
 * another kind than the header's, or a record the reader refuses (too long, a quote that never closes).
 */
async function splitCsv(
  document: AsyncIterable<Uint8Array>,
  source: SourceConfig,
  info: { url: string; contentType: string | null },
  partBytes: number,
): Promise<DocumentSplit | null> {
  const bytes = document[Symbol.asyncIterator]();
  // the encoding, decided on the same bytes the reader decides it on
  const head: Buffer[] = [];
  let headBytes = 0;
  let more = true;
  while (headBytes < SNIFF_BYTES) {
    const next = await bytes.next();
    if (next.done) {
      more = false;
      break;
    }
    head.push(Buffer.from(next.value));
    headBytes += next.value.length;
  }
  let start = Buffer.concat(head);
  let encoding: string;
  try {
    encoding = detectEncoding(start, { declared: source.csv.encoding, contentType: info.contentType }, more);
  } catch {
    return null; // the reader says why
  }
  const declared = CUTTABLE[encoding];
  if (!declared) return null;
  const bom = encoding === 'utf-8' && start[0] === 0xef && start[1] === 0xbb && start[2] === 0xbf ? 3 : 0;
  // the header line: the first line that is neither blank nor a comment, as the reader finds it in the text
  let prefixBytes = -1;
  for (let at = bom; ; ) {
    const end = start.indexOf(10, at);
    if (end < 0) {
      const next = more ? await bytes.next() : { done: true as const, value: undefined };
      if (next.done || start.length > MAX_RECORD_CHARS) return null;
      start = Buffer.concat([start, next.value]);
      continue;
    }
    const line = start.toString('latin1', at, end);
    at = end + 1;
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    prefixBytes = at;
    break;
  }
  const decoder = new TextDecoder(encoding);
  const prefixText = decoder.decode(start.subarray(0, prefixBytes));
  const header = headerLine(prefixText);
  if (header === undefined || `${header}\n` !== prefixText.slice(-header.length - 1)) return null;
  const delimiter =
    source.csv.delimiter ?? DELIMITERS.reduce((best, d) => (count(header, d) > count(header, best) ? d : best));
  const readAs: SourceConfig = { ...source, csv: { ...source.csv, encoding: declared, delimiter } };
  // the prefix alone must read into no record: it is the header and nothing else
  for await (const _ of csvSource.read(Readable.from([start.subarray(0, prefixBytes)]), readAs, info)) return null;

  // the scanner passes text on at record ends, one input slice at a time: slices much smaller than a part
  // let a cut fall close to where it is wanted
  const slice = Math.max(1024, Math.min(64 * 1024, Math.floor(partBytes / 8)));
  const chunks = (async function* () {
    const text = function* (buffer: Buffer) {
      for (let at = 0; at < buffer.length; at += slice) yield buffer.toString('latin1', at, at + slice);
    };
    yield* text(start.subarray(prefixBytes));
    for (let next = await bytes.next(); !next.done; next = await bytes.next()) yield* text(Buffer.from(next.value));
  })();
  let refused = false;
  const refuse = () => {
    refused = true;
  };
  const cuts: number[] = [];
  let offset = prefixBytes;
  let lastCut = prefixBytes;
  // csv-parse ends records with the line end it meets first (the header's); the scanner ends them at any
  const otherLineEnd = prefixText.endsWith('\r\n') ? /\r(?!\n)|(^|[^\r])\n/ : /\r(?!\n)/;
  for await (const text of wholeRecords(chunks, delimiter, MAX_RECORD_CHARS, refuse)) {
    if (refused || /(^|[\r\n])[ \t]*#/.test(text) || otherLineEnd.test(text)) return null;
    offset += text.length;
    if (offset - lastCut >= partBytes) {
      cuts.push(offset);
      lastCut = offset;
    }
  }
  if (refused) return null;
  while (cuts.length && cuts.at(-1)! >= offset) cuts.pop();
  return cuts.length ? { prefixBytes, cuts, readAs } : null;
}

/** The first line that is neither blank nor a comment, once it is complete (or the text has ended). */
function headerLine(text: string, ended = false): string | undefined {
  const lines = text.split('\n');
  const complete = ended ? lines : lines.slice(0, -1);
  return complete.find((line) => line.trim() !== '' && !line.trimStart().startsWith('#'));
}

/** Blank header cells become column_N and repeated names get a suffix, so no value is lost to a collision. */
function uniqueNames(row: string[]): string[] {
  const seen = new Map<string, number>();
  return row.map((raw, i) => {
    const name = raw.trim() || `column_${i + 1}`;
    const n = (seen.get(name) ?? 0) + 1;
    seen.set(name, n);
    return n === 1 ? name : `${name}_${n}`;
  });
}

function count(line: string, delimiter: string): number {
  // delimiters inside quotes do not count
  return line.replace(/"[^"]*"/g, '').split(delimiter).length - 1;
}

/**
 * The text with every record longer than `maxChars` taken out before csv-parse sees it: csv-parse's own
 * max_record_size drops the rest of the file after the first long record, and holding such a record whole
 * is what the limit is for. Such a record is refused by its first line only (a line without end, or a quote
 * that opens and never closes): that line is replaced by an empty one, so line numbers hold, and the text
 * after it is read again. Quotes are read as csv-parse reads them with relax_quotes: one opens a quoted field
 * only at the start of a field. Everything else passes through unchanged, in chunks cut at record ends.
 */
export async function* wholeRecords(
  chunks: AsyncIterable<string>,
  delimiter: string,
  maxChars: number,
  refuse: (line: number, text: string, reason: string) => void,
): AsyncIterable<string> {
  let text = ''; // from the start of the first record not passed on yet
  let line = 1; // the line that record starts on
  let scan = newScan();
  let dropping: { line: number; kept: string } | null = null; // a line too long: the rest of it is dropped as it arrives
  const tooLong = (first: number) =>
    `unreadable CSV line: a record longer than ${maxChars} characters (from line ${first})`;
  for await (const chunk of chunks) {
    let input = chunk;
    if (dropping) {
      const end = lineEnd(input, 0);
      if (end < 0) continue;
      refuse(dropping.line, dropping.kept, tooLong(dropping.line));
      line = dropping.line + 1;
      dropping = null;
      yield input[end]!;
      input = input.slice(end + 1);
    }
    text += input;
    let out = '';
    for (;;) {
      scanRecords(text, scan, delimiter, maxChars);
      if (scan.end > 0) {
        out += text.slice(0, scan.end);
        text = text.slice(scan.end);
        line += scan.endLines;
        scan = { ...scan, at: scan.at - scan.end, end: 0, endLines: 0, lines: scan.lines - scan.endLines };
      }
      if (!scan.overlong) break;
      // the record being read is too long: its first line goes, the rest is read again
      const end = lineEnd(text, 0);
      if (end < 0) {
        dropping = { line, kept: text.slice(0, 10_000) };
        text = '';
        scan = newScan();
        break;
      }
      refuse(line, text.slice(0, end), tooLong(line));
      out += text[end];
      text = text.slice(end + 1);
      line += 1;
      scan = newScan();
    }
    if (out) yield out;
  }
  if (dropping) return void refuse(dropping.line, dropping.kept, tooLong(dropping.line));
  // the text ends inside a quoted field: that quote never closed, and its line goes
  for (;;) {
    scanRecords(text, scan, delimiter, maxChars, true);
    if (!scan.quoted) return void (text && (yield text));
    if (scan.end > 0) yield text.slice(0, scan.end);
    text = text.slice(scan.end);
    line += scan.endLines;
    const end = lineEnd(text, 0);
    refuse(
      line,
      text.slice(0, end < 0 ? undefined : end),
      `unreadable CSV line: a quote opened on line ${line} never closes`,
    );
    if (end < 0) return;
    yield text[end]!;
    text = text.slice(end + 1);
    line += 1;
    scan = newScan();
  }
}

interface RecordScan {
  /** Where scanning goes on. */
  at: number;
  quoted: boolean;
  /** Lines begun since the text's start. */
  lines: number;
  /** The index after the last complete record's line end, and the lines up to there. */
  end: number;
  endLines: number;
  /** The record after `end` is longer than the limit: scanning stopped in it. */
  overlong: boolean;
}
const newScan = (): RecordScan => ({ at: 0, quoted: false, lines: 0, end: 0, endLines: 0, overlong: false });

/** The index of the first line end (\n, or \r not followed by \n) at or after `from`, or -1. */
function lineEnd(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    if (text[i] === '\n' || (text[i] === '\r' && text[i + 1] !== '\n' && i + 1 < text.length)) return i;
  }
  return -1;
}

const QUOTE = 34;
const LF = 10;
const CR = 13;

/**
 * Scans on from `scan.at`, moving `scan.end` past every record that ends in the text, and stopping in a
 * record longer than `maxChars`; `final` when no text follows. It jumps from one quote or line end to the
 * next (indexOf), so a file costs a few searches per line, not a step per character.
 */
function scanRecords(text: string, scan: RecordScan, delimiter: string, maxChars: number, final = false): void {
  const separator = delimiter.charCodeAt(0);
  let { quoted, lines, end, endLines } = scan;
  let i = scan.at;
  let quote = -2; // the next quote, line feed and carriage return at or after i (-1: none; -2: not looked for)
  let lf = -2;
  let cr = -2;
  const next = (at: number, known: number, char: string) =>
    known !== -1 && known < at ? text.indexOf(char, at) : known;
  for (;;) {
    if (quoted) {
      quote = next(i, quote, '"');
      const stop = quote < 0 ? text.length : quote;
      if (stop - end >= maxChars) {
        scan.overlong = true;
        break;
      }
      for (let n = text.indexOf('\n', i); n >= 0 && n < stop; n = text.indexOf('\n', n + 1)) lines++;
      if (quote < 0) {
        i = text.length;
        break;
      }
      if (quote + 1 === text.length && !final) {
        i = quote; // it may be the first of an escaped pair
        break;
      }
      if (text.charCodeAt(quote + 1) !== QUOTE) quoted = false;
      i = quote + (quoted ? 2 : 1);
      continue;
    }
    quote = next(i, quote, '"');
    lf = next(i, lf, '\n');
    cr = next(i, cr, '\r');
    let at = lf < 0 ? Infinity : lf;
    if (quote >= 0 && quote < at) at = quote;
    if (cr >= 0 && cr < at) at = cr;
    if ((at === Infinity ? text.length : at) - end >= maxChars) {
      scan.overlong = true;
      break;
    }
    if (at === Infinity) {
      i = text.length;
      break;
    }
    const c = text.charCodeAt(at);
    i = at + 1;
    if (c === QUOTE) {
      // a quote opens a quoted field only where a field starts; elsewhere it is text (relax_quotes)
      const before = text.charCodeAt(at - 1);
      quoted = at === end || before === separator || before === LF || before === CR;
      continue;
    }
    if (c === CR && text.charCodeAt(at + 1) === LF) continue; // the line feed ends it
    if (c === CR && at + 1 === text.length && !final) {
      i = at; // \r\n may be split across chunks
      break;
    }
    lines++;
    end = i;
    endLines = lines;
  }
  Object.assign(scan, { at: i, quoted, lines, end, endLines });
}
