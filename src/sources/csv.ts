// CSV files of asset quotes, local or over HTTP, streamed through csv-parse. Real exports come in UTF-8
// (with or without BOM), UTF-16 and Latin-1, with ",", ";" or tab, "#" comment banners, quoted fields and
// ragged rows. Header names are matched onto unified fields later (src/normalize/mapping.ts).
import { parse } from 'csv-parse';
import { Readable, pipeline } from 'node:stream';
import { decodingStream } from './decode.ts';
import { openLocation } from './transport.ts';
import type { SourceAdapter, SourceFields, Unparsed } from './types.ts';

const CSV_TYPES = ['text/csv', 'text/plain', 'application/csv', 'application/vnd.ms-excel', 'application/octet-stream'];
const DELIMITERS = [',', ';', '\t'];
/** Characters of one CSV record beyond which it is quarantined as unreadable. */
export const MAX_RECORD_BYTES = 1 << 20;

export const csvSource: SourceAdapter = {
  recordKind: 'asset',

  async *fetch(source, context) {
    yield await openLocation(source, context, CSV_TYPES);
  },

  async *read(document: Readable, source, info): AsyncIterable<SourceFields | Unparsed> {
    const text = pipeline(document, decodingStream({ declared: source.csv.encoding, contentType: info.contentType }), () => {});
    const chunks = text[Symbol.asyncIterator]();
    // read just far enough to see the header line: the delimiter is the candidate it uses most
    let head = '';
    let header: string | undefined;
    for (;;) {
      header = headerLine(head);
      if (header !== undefined) break;
      const next = await chunks.next();
      if (next.done) break;
      head += String(next.value);
    }
    header ??= headerLine(head, true);
    if (header === undefined) return;
    const delimiter = source.csv.delimiter ?? DELIMITERS.reduce((best, d) => (count(header!, d) > count(header!, best) ? d : best));
    const rest = (async function* () {
      yield head;
      for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield String(next.value);
    })();
    // a line csv-parse cannot read (a stray quote) is skipped by the parser and quarantined by us, in its place
    const broken: { line: number; record: Unparsed }[] = [];
    const rows = pipeline(
      Readable.from(rest),
      parse({
        delimiter, comment: '#', comment_no_infix: true, skip_empty_lines: true, relax_column_count: true, relax_quotes: true,
        // one line of megabytes (an unclosed quote swallowing the file) is quarantined, not held in memory whole
        max_record_size: MAX_RECORD_BYTES,
        info: true, raw: true, skip_records_with_error: true,
        on_skip: (error, raw) => void broken.push({ line: Number(error?.lines ?? 0), record: { unparsed: (raw ?? '').slice(0, 10_000), reason: `unreadable CSV line: ${error?.message ?? 'unknown error'}` } }),
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
      row.forEach((value, i) => (fields[names![i] ?? `column_${i + 1}`] = value.trim()));
      yield fields;
    }
    for (const { record } of broken) yield record;
  },
};

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
