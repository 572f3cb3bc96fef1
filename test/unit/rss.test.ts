import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { recorded } from '../recorded.ts';
import { parseSourcesConfig } from '../../src/sources/config.ts';
import { decode } from '../../src/sources/decode.ts';
import { rssSource } from '../../src/sources/rss.ts';
import { UnreadablePayloadError, type SourceFields } from '../../src/sources/types.ts';
import { repairXml } from '../../src/sources/xml-repair.ts';

const source = parseSourcesConfig('sources:\n  - {id: n, kind: rss, url: n.rss}\n', '/tmp/f.yaml')[0]!;
async function read(xml: string | Buffer, contentType: string | null = null): Promise<SourceFields[]> {
  const items: SourceFields[] = [];
  for await (const item of rssSource.read(Readable.from([Buffer.from(xml)]), source, {
    url: 'file:///n.rss',
    contentType,
  }))
    items.push(item as SourceFields);
  return items;
}

const rss = (items: string, declaration = '<?xml version="1.0" encoding="UTF-8"?>') =>
  `${declaration}<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>t</title>${items}</channel></rss>`;

describe('rss source', () => {
  it('keys items by guid, else canonical link, else a hash of title and date', async () => {
    const items = await read(
      rss(`<item><title>A</title><guid isPermaLink="false">id-1</guid><link>https://x.test/a</link></item>
           <item><title>B</title><link>https://X.test/b/?utm_source=rss#c</link></item>
           <item><title>C</title><pubDate>Wed, 02 Oct 2002 13:00:00 GMT</pubDate></item>
           <item><title>D</title><guid>https://x.test/d/?utm_medium=feed</guid></item>`),
    );
    assert.deepEqual(
      items.map((i) => i.key),
      ['id-1', 'https://x.test/b', items[2]!.key, 'https://x.test/d'],
    );
    assert.match(String(items[2]!.key), /^sha256:[0-9a-f]{32}$/);
    const again = await read(rss('<item><title>C</title><pubDate>Wed, 02 Oct 2002 13:00:00 GMT</pubDate></item>'));
    assert.equal(again[0]!.key, items[2]!.key, 'the same item gets the same key on the next run');
    assert.equal(items[1]!.link, 'https://x.test/b');
  });

  it('reduces escaped and CDATA HTML to text and keeps the raw date for validation', async () => {
    const [item] = await read(
      rss(`<item><title>Ether &amp;amp; gas</title><link>https://x.test/e</link><dc:creator>B. R.</dc:creator>
           <description><![CDATA[<p>Ether <em>fell</em> &amp; blocks <a href="https://x.test">emptied</a>.</p><img src="c.png"/>]]></description>
           <pubDate>23 Jun 21 1500 PST</pubDate></item>`),
    );
    assert.equal(item!.title, 'Ether & gas');
    assert.equal(item!.summary, 'Ether fell & blocks emptied.');
    assert.equal(item!.author, 'B. R.');
    assert.equal(item!.published, '23 Jun 21 1500 PST');
  });

  it('decodes a feed by its XML declaration (ISO-8859-2, GB2312) and without one', async () => {
    // a feed whose title is the given bytes, in whatever encoding the declaration names
    const feed = (declaration: string, title: number[]) =>
      Buffer.concat([
        Buffer.from(`${declaration}<rss version="2.0"><channel><title>t</title><item><title>`),
        Buffer.from(title),
        Buffer.from('</title></item></channel></rss>'),
      ]);
    const title = async (bytes: Buffer) => (await read(bytes))[0]!.title;
    // ISO-8859-2: 0xF3 is ó, 0xB3 is ł
    assert.equal(
      await title(feed('<?xml version="1.0" encoding="ISO-8859-2"?>', [0x4b, 0x72, 0xf3, 0x6c, 0x20, 0xb3])),
      'Król ł',
    );
    assert.equal(
      await title(feed('<?xml version="1.0" encoding="GB2312"?>', [0xb1, 0xc8, 0xcc, 0xd8, 0xb1, 0xd2])),
      '比特币',
    );
    // no declaration and not UTF-8: Latin-1 (as Windows-1252)
    assert.equal(await title(feed('', [0x43, 0x61, 0x66, 0xe9])), 'Café');
  });

  it('says clearly when a document is not a feed', async () => {
    await assert.rejects(
      read('<html><head><title>Moved</title></head><body>gone</body></html>'),
      /not an RSS or Atom feed \(root element <html>\)/,
    );
    // a real page is not well-formed XML either: its root is what says it is not a feed
    const page =
      '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Moved & gone</title></head><body>gone<br></body></html>';
    await assert.rejects(read(page), (error: Error) => {
      assert.ok(error instanceof UnreadablePayloadError);
      assert.equal(
        error.message,
        "not an RSS or Atom feed (root element <html>): a feed's root element is <rss>, <rdf:RDF> or <feed>",
      );
      return true;
    });
    await assert.rejects(read(' \n '), /^UnreadablePayloadError: not an RSS or Atom feed \(an empty document\)$/);
    await assert.rejects(read('Service Unavailable'), /not an RSS or Atom feed \(no XML element in the document\)/);
    await assert.rejects(
      read('<rss version="2.0"><items/></rss>'),
      /not an RSS or Atom feed \(the <rss> root element has no <channel>\)$/,
    );
    await assert.rejects(read('<rss/>'), /not an RSS or Atom feed \(the <rss> root element is empty\)$/);
  });

  it('reads an <rss> root without a version attribute as RSS 2.0', async () => {
    const items = await read(
      '<rss><channel><title>t</title><item><title>A</title><guid>a</guid></item><item><title>B</title><guid>b</guid></item></channel></rss>',
    );
    assert.deepEqual(
      items.map((i) => [i.key, i.title]),
      [
        ['a', 'A'],
        ['b', 'B'],
      ],
    );
    assert.equal(
      (await read(rss('<item><title>C</title></item>').replace(' version="2.0"', ' version=""')))[0]!.title,
      'C',
    );
  });

  it('escapes a bare ampersand, in text and in attribute values', async () => {
    const [item] = await read(
      rss(
        '<item><title>Bonds & yields</title><link>https://x.test/q?a=1&b=2</link><description>R&D: 5 & up, AT&T</description></item>',
      ),
    );
    assert.equal(item!.title, 'Bonds & yields');
    assert.equal(item!.link, 'https://x.test/q?a=1&b=2');
    assert.equal(item!.summary, 'R&D: 5 & up, AT&T');
    const [entry] = await read(
      '<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>e</id><title>T</title><link href="https://x.test/r?id=7&lang=en"/></entry></feed>',
    );
    assert.equal(entry!.link, 'https://x.test/r?id=7&lang=en');
  });

  it('reads HTML entities as their characters and shows unknown ones as written', async () => {
    const [item] = await read(
      rss('<item><title>Fed&nbsp;holds&mdash;caf&eacute; owner&rsquo;s &NBSP;view&hellip; &foo; &#0;x</title></item>'),
    );
    assert.equal(item!.title, 'Fed holds\u2014caf\u00e9 owner\u2019s view\u2026 &foo; \uFFFDx');
    // the XML entities and valid character references are the document's own
    const [xml] = await read(
      rss('<item><title>x &gt; 2 &amp;amp; &quot;q&quot; &apos;a&apos; &#8364;&#x20AC;</title></item>'),
    );
    assert.equal(xml!.title, 'x > 2 & "q" \'a\' \u20ac\u20ac');
  });

  it('keeps CDATA, comments and markup as they are, and a well-formed document byte for byte', async () => {
    const cdata = rss(
      '<item><title>A</title><description><![CDATA[<p>R&D &nbsp; a < b</p>]]></description><!-- a & b --></item>',
    );
    assert.equal(repairXml(cdata).text, cdata);
    assert.equal((await read(cdata))[0]!.summary, 'R&D a < b');
    const slips = rss('<item><title>a < b & c</title><description><![CDATA[x & y]]></description></item>');
    assert.equal(repairXml(slips).text, slips.replace('a < b & c', 'a &lt; b &amp; c'));
  });

  it('reads a < that starts no markup as text, and a byte-order mark after leading whitespace', async () => {
    assert.equal((await read(rss('<item><title>BTC < $100k</title></item>')))[0]!.title, 'BTC < $100k');
    assert.equal((await read(`\n \uFEFF${rss('<item><title>A</title></item>')}`))[0]!.title, 'A');
  });

  it('names what makes a feed unreadable and where, by line and column of the original document', async () => {
    // the repairs on the line (&nbsp; and & shorten and lengthen it) do not move the column
    const unclosed =
      '<?xml version="1.0"?>\n<rss version="2.0"><channel><title>t</title>\n<item><title>a&nbsp;& b</item></channel></rss>';
    await assert.rejects(read(unclosed), (error: Error) => {
      assert.ok(error instanceof UnreadablePayloadError);
      assert.equal(
        error.message,
        'not an RSS or Atom feed (malformed XML): Unexpected close tag at line 3, column 30, near "<item><title>a&nbsp;& b</item></channel"',
      );
      assert.doesNotMatch(error.message, /Line: |Column: |Char: /);
      return true;
    });
    await assert.rejects(
      read('<rss version="2.0">\r\n<channel>\r\n<item><title>x</title></itm></channel></rss>'),
      /Unexpected close tag at line 3, column 28,/,
    );
    await assert.rejects(
      read('<rss version="2.0">\n<channel><title>t</title>\n<item><title>a</tit'),
      /^UnreadablePayloadError: not an RSS or Atom feed \(malformed XML\): Unclosed root tag at the end of the document \(line 3, column 20\), near "<item><title>a<\/tit"$/,
    );
  });

  it('refuses a billion-laughs feed without expanding its entities, in bounded time and memory', async () => {
    // each level ten references to the one below: expanded, the title would be 10^9 "lol"s
    const entities = Array.from(
      { length: 9 },
      (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`,
    ).join('');
    const laughs = (title: string) =>
      `<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY lol "lol">${entities}\n]>\n<rss version="2.0"><channel><title>t</title><item>${title}<guid>a</guid></item></channel></rss>`;
    const started = performance.now();
    const rssBefore = process.memoryUsage().rss;
    await assert.rejects(
      read(laughs('<title>&lol9;</title>')),
      /^UnreadablePayloadError: not an RSS or Atom feed \(malformed XML\): Invalid character entity &lol9; at line 5, column 58, near ".*" \(entities declared in the DOCTYPE are not expanded\)$/,
    );
    // in an attribute value too
    await assert.rejects(
      read(laughs('<title>x</title><enclosure url="&lol9;"/>')),
      /Invalid character entity &lol9; at line 5, column 83.*not expanded/,
    );
    assert.ok(performance.now() - started < 1000, `${performance.now() - started} ms`);
    assert.ok(process.memoryUsage().rss - rssBefore < 64 * 2 ** 20, 'no expansion held in memory');
  });

  it('refuses every broken document, also the one after a truncated document', async () => {
    // one rss-parser for all documents carried a failed parse's state into the next, which then passed unchecked
    await assert.rejects(read('<rss version="2.0"><channel><title>t</title><item><title>a</tit'), /Unclosed root tag/);
    await assert.rejects(
      read(
        '<!DOCTYPE rss [<!ENTITY x "y">]><rss version="2.0"><channel><item><title>&x;</title></item></channel></rss>',
      ),
      /Invalid character entity &x;/,
    );
    assert.equal((await read(rss('<item><title>fine</title></item>')))[0]!.title, 'fine');
  });

  it('bounds what repairs may add to a document', async () => {
    const started = performance.now();
    await assert.rejects(
      read(rss(`<item><title>${'&'.repeat(1 << 20)}</title></item>`)),
      /not an RSS or Atom feed \(malformed XML\): too many bare & or <, or unknown entities, to repair/,
    );
    assert.ok(performance.now() - started < 2000);
    // a few slips in every item are well within it
    const items = Array.from(
      { length: 2000 },
      (_, i) => `<item><title>Q&A ${i} & more</title><link>https://x.test/?a=${i}&b=2&c=3</link></item>`,
    ).join('');
    assert.equal((await read(rss(items))).length, 2000);
  });

  it('reads Atom entries', async () => {
    const [entry] = await read(
      '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>f</title><entry><id>tag:x,2020:1</id><title>Release 1.0</title><link href="https://x.test/r/1"/><updated>2020-01-02T03:04:05Z</updated><author><name>Dev</name></author></entry></feed>',
    );
    assert.deepEqual(
      [entry!.key, entry!.title, entry!.link, entry!.published],
      ['tag:x,2020:1', 'Release 1.0', 'https://x.test/r/1', '2020-01-02T03:04:05.000Z'],
    );
  });

  const feeds = recorded('rss');
  (feeds ? it : it.skip)(
    'reads every recorded feed of ../shared/fixtures as before the repairs (none needs one)',
    async () => {
      // item counts as read before the repair pre-pass existed
      const counts: Record<string, number> = {
        'atom-customfields.atom': 15,
        'cointelegraph_republished__swelbyboy-prospect-rss-feeds.xml': 10,
        'content-encoded.rss': 7,
        'craigslist.rss': 25,
        'customfields.rss': 15,
        'encoding.rss': 40,
        'feedburner.atom': 25,
        'guardian.rss': 55,
        'gulp-atom.atom': 10,
        'heise.atom': 15,
        'incomplete-fields.atom': 1,
        'instant-article.rss': 1,
        'item-itunes-episodeType.rss': 1,
        'itunes-category.rss': 1,
        'itunes-href.rss': 10,
        'itunes-keywords-array.rss': 1,
        'itunes-keywords.rss': 1,
        'itunes-missing-image.rss': 131,
        'many-links.rss': 25,
        'missing-fields.atom': 1,
        'narro.rss': 1,
        'pagination-links.rss': 1,
        'reddit-atom.rss': 24,
        'reddit-home.rss': 24,
        'reddit.rss': 24,
        'rss-1.rss': 69,
      };
      for (const [file, count] of Object.entries(counts)) {
        const bytes = fs.readFileSync(path.join(feeds!, file));
        const xml = decode(bytes, { xml: true });
        assert.equal(repairXml(xml).text, xml, `${file} is well-formed: the pre-pass leaves it alone`);
        assert.equal((await read(bytes)).length, count, file);
      }
      await assert.rejects(
        read(fs.readFileSync(path.join(feeds!, 'unrecognized.rss'))),
        /not an RSS or Atom feed \(root element <head>\)/,
      );
    },
  );
});
