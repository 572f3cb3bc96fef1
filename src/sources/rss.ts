// RSS 0.91/1.0/2.0 and Atom feeds, parsed with rss-parser after decoding the bytes ourselves (declared
// or undeclared ISO-8859-1/2, GB2312, UTF-16...). Each item becomes an article keyed by its guid, else its
// canonical link, else a hash of title and date, so the same item keeps its key from run to run.
import { compile } from 'html-to-text';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import Parser from 'rss-parser';
import { canonicalUrl } from '../normalize/urls.ts';
import { decode } from './decode.ts';
import { openLocation } from './transport.ts';
import { UnreadablePayloadError, type SourceAdapter, type SourceFields } from './types.ts';

const FEED_TYPES = ['application/rss+xml', 'application/atom+xml', 'application/rdf+xml', 'application/xml', 'text/xml'];
/**
 * Feeds are small (the largest real ones, podcast archives, run to a few megabytes), and rss-parser builds the
 * whole document in memory at many times its size: this bounds what one feed may cost the worker.
 */
export const MAX_FEED_BYTES = 8 * 1024 * 1024;

type Item = Parser.Item & Record<string, unknown>;
const parser = new Parser<Record<string, unknown>, Item>({
  customFields: { item: ['dc:date', 'updated', 'published', 'description', 'summary', 'author', 'dc:creator'] },
});

export const rssSource: SourceAdapter = {
  recordKind: 'article',
  fieldMap: { sourceKey: 'key', title: 'title', url: 'link', summary: 'summary', author: 'author', publishedAt: 'published', sourceUpdatedAt: 'updated' },

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
    let feed: Awaited<ReturnType<typeof parser.parseString>>;
    try {
      feed = await parser.parseString(xml);
    } catch (error) {
      const root = /<([A-Za-z][\w:.-]*)[\s>]/.exec(xml.replace(/<\?[^>]*\?>|<!--[\s\S]*?-->|<!DOCTYPE[^>]*>/g, ''))?.[1];
      throw new UnreadablePayloadError(`not an RSS or Atom feed${root ? ` (root element <${root}>)` : ''}: ${(error as Error).message}`);
    }
    for (const item of feed.items) yield articleFields(item);
  },
};

function articleFields(item: Item): SourceFields {
  const title = text(item.title);
  const link = firstString(item.link);
  const url = link ? canonicalUrl(link) : null;
  const published = firstString(item.pubDate) ?? firstString(item['dc:date']) ?? firstString(item.published) ?? firstString(item.updated);
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
  if (title) return `sha256:${createHash('sha256').update(`${title}\u001f${published ?? ''}`).digest('hex').slice(0, 32)}`;
  return null;
}

// compiled once: html-to-text's convert() compiles its options on every call, most of the cost of a feed item
const htmlToText = compile({ wordwrap: false, selectors: [{ selector: 'a', options: { ignoreHref: true } }, { selector: 'img', format: 'skip' }] });

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
