// RSS 0.91/1.0/2.0 and Atom feeds, parsed with rss-parser after decoding the bytes ourselves (declared
// or undeclared ISO-8859-1/2, GB2312, UTF-16...) and repairing the slips feed readers forgive (xml-repair.ts).
// Each item becomes an article keyed by its guid, else its canonical link, else a hash of title and date, so
// the same item keeps its key from run to run.
import { compile } from 'html-to-text';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import Parser from 'rss-parser';
import { canonicalUrl } from '../normalize/urls.ts';
import { decode } from './decode.ts';
import { openLocation } from './transport.ts';
import { UnreadablePayloadError, type SourceAdapter, type SourceFields } from './types.ts';
import { lineAndColumn, RepairLimitError, repairXml, type RepairedXml } from './xml-repair.ts';

const FEED_TYPES = [
  'application/rss+xml',
  'application/atom+xml',
  'application/rdf+xml',
  'application/xml',
  'text/xml',
];
/**
 * Feeds are small (the largest real ones, podcast archives, run to a few megabytes), and rss-parser builds the
 * whole document in memory at many times its size: this bounds what one feed may cost the worker.
 */
export const MAX_FEED_BYTES = 8 * 1024 * 1024;

/**
 * What repairs may add to a feed's text: room for a few slips in every item, not for a document that is all
 * slips (each repair is a reference the parser pays for, and bare ampersands grow fivefold).
 */
const repairAllowance = (length: number) => Math.floor(length / 4) + 4096;
/** The root elements rss-parser reads (xml2js names elements as written, prefix included). */
const FEED_ROOTS = new Set(['rss', 'rdf:RDF', 'feed']);

type Item = Parser.Item & Record<string, unknown>;
// one parser per document: xml2js keeps state from a failed parse (a truncated document) that lets the next
// document's errors pass unreported
const newParser = () =>
  new Parser<Record<string, unknown>, Item>({
    customFields: { item: ['dc:date', 'updated', 'published', 'description', 'summary', 'author', 'dc:creator'] },
    // an <rss> root without a version (or with one rss-parser does not know) is read as RSS 2.0, as feed readers do
    defaultRSS: 2,
  });

export const rssSource: SourceAdapter = {
  recordKind: 'article',
  fieldMap: {
    sourceKey: 'key',
    title: 'title',
    url: 'link',
    summary: 'summary',
    author: 'author',
    publishedAt: 'published',
    sourceUpdatedAt: 'updated',
  },

  async *fetch(source, context) {
    yield await openLocation(source, context, FEED_TYPES);
  },

  async *read(document: Readable, _source, info): AsyncIterable<SourceFields> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of document) {
      size += (chunk as Buffer).length;
      if (size > MAX_FEED_BYTES) throw new UnreadablePayloadError(`a feed larger than ${MAX_FEED_BYTES} bytes`);
      chunks.push(chunk as Buffer);
    }
    const xml = decode(Buffer.concat(chunks), { contentType: info.contentType, xml: true });
    let repaired: RepairedXml;
    try {
      repaired = repairXml(xml, xml.length + repairAllowance(xml.length));
    } catch (error) {
      if (!(error instanceof RepairLimitError)) throw error;
      throw new UnreadablePayloadError(
        `not an RSS or Atom feed (malformed XML): too many bare & or <, or unknown entities, to repair (${error.message})`,
      );
    }
    // judged before parsing: an HTML page is rarely well-formed, and its root says more than its first slip
    if (!repaired.root)
      throw new UnreadablePayloadError(
        `not an RSS or Atom feed (${xml.trim() ? 'no XML element in the document' : 'an empty document'})`,
      );
    if (!FEED_ROOTS.has(repaired.root)) {
      throw new UnreadablePayloadError(
        `not an RSS or Atom feed (root element <${repaired.root}>): a feed's root element is <rss>, <rdf:RDF> or <feed>`,
      );
    }
    let feed: Parser.Output<Item>;
    try {
      feed = await newParser().parseString(repaired.text);
    } catch (error) {
      throw new UnreadablePayloadError(unreadable(error as Error, xml, repaired));
    }
    for (const item of feed.items) yield articleFields(item);
  },
};

/**
 * Why a document with a feed's root element could not be read. sax ends its messages with the position as
 * "\nLine: 0\nColumn: 12\nChar: x" (line from 0, column counting the character it stopped at, in the repaired
 * text): that becomes "at line 1, column 12" in the original document, with an excerpt.
 */
function unreadable(error: Error, xml: string, repaired: RepairedXml): string {
  const root = repaired.root!;
  const sax = /^([^\n]*)\nLine: (\d+)\nColumn: (\d+)\nChar: ([\s\S]*)$/.exec(error.message);
  if (!sax) {
    // (rss-parser says "not recognized" for an empty root, and fails on a missing channel with a TypeError)
    if (/^Feed not recognized/.test(error.message))
      return `not an RSS or Atom feed (the <${root}> root element is empty)`;
    if (root !== 'feed' && !/<channel[\s/>]/.test(repaired.text))
      return `not an RSS or Atom feed (the <${root}> root element has no <channel>)`;
    return `not an RSS or Atom feed (rss-parser cannot read the <${root}> root element: ${error.message})`;
  }
  const [, reason, line, column, char] = sax;
  let lineStart = 0;
  for (let n = Number(line); n > 0; n--) {
    const lineEnd = repaired.text.indexOf('\n', lineStart);
    if (lineEnd < 0) break;
    lineStart = lineEnd + 1;
  }
  // the end of the document (char is empty) is after its last character, anything else at the character itself
  let at = repaired.originalOffset(Math.max(0, lineStart + Number(column) - (char ? 1 : 0)));
  let what = reason!.replace(/\.$/, '');
  let note = '';
  if (reason === 'Invalid character entity') {
    // sax stops at the reference's ';': point at its '&' and name it
    const start = xml.lastIndexOf('&', at);
    const name = xml.slice(start + 1, at);
    if (start >= 0 && /^[^\s<&;]+$/.test(name)) {
      what += ` &${name};`;
      at = start;
      if (repaired.declaredEntities.has(name)) note = ' (entities declared in the DOCTYPE are not expanded)';
    }
  }
  const { line: l, column: c } = lineAndColumn(xml, at);
  const where = char ? `at line ${l}, column ${c}` : `at the end of the document (line ${l}, column ${c})`;
  return `not an RSS or Atom feed (malformed XML): ${what} ${where}${excerpt(xml, at)}${note}`;
}

/** The original text just before and at `at`, on its line, as a quoted excerpt. */
function excerpt(xml: string, at: number): string {
  const lineStart = Math.max(xml.lastIndexOf('\n', at - 1), xml.lastIndexOf('\r', at - 1)) + 1;
  const lineEnd = /[\r\n]/.exec(xml.slice(at, at + 10))?.index;
  const text = xml.slice(Math.max(lineStart, at - 30), at + (lineEnd ?? 10)).trim();
  return text ? `, near ${JSON.stringify(text)}` : '';
}

function articleFields(item: Item): SourceFields {
  const title = text(item.title);
  const link = firstString(item.link);
  const url = link ? canonicalUrl(link) : null;
  const published =
    firstString(item.pubDate) ??
    firstString(item['dc:date']) ??
    firstString(item.published) ??
    firstString(item.updated);
  const guid = firstString(item.guid) ?? firstString(item.id);
  return {
    key: keyOf(guid, url, title, published),
    guid,
    title,
    link: url,
    summary: text(item.content ?? item.description ?? item.summary ?? item.contentSnippet),
    author: text(item.creator ?? item['dc:creator'] ?? item.author),
    published,
    updated: firstString(item.updated),
  };
}

/** guid (as a canonical URL when it is one), else the canonical link, else a hash of title and date. */
function keyOf(guid: string | null, url: string | null, title: string | null, published: string | null): string | null {
  if (guid) return /^https?:\/\//i.test(guid) ? canonicalUrl(guid) : guid;
  if (url) return url;
  if (title)
    return `sha256:${createHash('sha256')
      .update(`${title}\u001f${published ?? ''}`)
      .digest('hex')
      .slice(0, 32)}`;
  return null;
}

// compiled once: html-to-text's convert() compiles its options on every call, most of the cost of a feed item
const htmlToText = compile({
  wordwrap: false,
  selectors: [
    { selector: 'a', options: { ignoreHref: true } },
    { selector: 'img', format: 'skip' },
  ],
});

/** HTML (escaped or not) reduced to plain text on one line. */
function text(value: unknown): string | null {
  const raw = firstString(value);
  if (!raw) return null;
  // text without markup or entities is already plain
  const plain = /[<&]/.test(raw) ? htmlToText(raw) : raw;
  return plain.replace(/\s+/g, ' ').trim() || null;
}

// xml2js gives a string, an array of them, or an object with the text under `_` (and attributes under `$`)
function firstString(value: unknown): string | null {
  if (typeof value === 'string') return value.trim() || null;
  if (Array.isArray(value)) return firstString(value[0]);
  if (value && typeof value === 'object') {
    const v = value as { _?: unknown; $?: { href?: unknown }; name?: unknown };
    return firstString(v._ ?? v.$?.href ?? v.name);
  }
  return null;
}
