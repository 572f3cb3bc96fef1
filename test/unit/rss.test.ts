import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { parseSourcesConfig } from '../../src/sources/config.ts';
import { rssSource } from '../../src/sources/rss.ts';
import type { SourceFields } from '../../src/sources/types.ts';

const source = parseSourcesConfig('sources:\n  - {id: n, kind: rss, url: n.rss}\n', '/tmp/f.yaml')[0]!;
async function read(xml: string | Buffer, contentType: string | null = null): Promise<SourceFields[]> {
  const items: SourceFields[] = [];
  for await (const item of rssSource.read(Readable.from([Buffer.from(xml)]), source, { url: 'file:///n.rss', contentType })) items.push(item as SourceFields);
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
    assert.deepEqual(items.map((i) => i.key), ['id-1', 'https://x.test/b', items[2]!.key, 'https://x.test/d']);
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
      Buffer.concat([Buffer.from(`${declaration}<rss version="2.0"><channel><title>t</title><item><title>`), Buffer.from(title), Buffer.from('</title></item></channel></rss>')]);
    const title = async (bytes: Buffer) => (await read(bytes))[0]!.title;
    // ISO-8859-2: 0xF3 is ó, 0xB3 is ł
    assert.equal(await title(feed('<?xml version="1.0" encoding="ISO-8859-2"?>', [0x4b, 0x72, 0xf3, 0x6c, 0x20, 0xb3])), 'Król ł');
    assert.equal(await title(feed('<?xml version="1.0" encoding="GB2312"?>', [0xb1, 0xc8, 0xcc, 0xd8, 0xb1, 0xd2])), '比特币');
    // no declaration and not UTF-8: Latin-1 (as Windows-1252)
    assert.equal(await title(feed('', [0x43, 0x61, 0x66, 0xe9])), 'Café');
  });

  it('says clearly when a document is not a feed', async () => {
    await assert.rejects(read('<html><head><title>Moved</title></head><body>gone</body></html>'), /not an RSS or Atom feed \(root element <html>\)/);
  });

  it('reads Atom entries', async () => {
    const [entry] = await read(
      '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>f</title><entry><id>tag:x,2020:1</id><title>Release 1.0</title><link href="https://x.test/r/1"/><updated>2020-01-02T03:04:05Z</updated><author><name>Dev</name></author></entry></feed>',
    );
    assert.deepEqual([entry!.key, entry!.title, entry!.link, entry!.published], ['tag:x,2020:1', 'Release 1.0', 'https://x.test/r/1', '2020-01-02T03:04:05.000Z']);
  });
});
