import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { parseSourcesConfig } from '../../src/sources/config.ts';
import { MAX_RECORD_CHARS, csvSource, wholeRecords } from '../../src/sources/csv.ts';
import type { SourceFields, Unparsed } from '../../src/sources/types.ts';

const sourceWith = (csv = '') =>
  parseSourcesConfig(
    `sources:\n  - {id: t, kind: csv, url: t.csv${csv ? `, csv: {${csv}}` : ''}}\n`,
    '/tmp/f.yaml',
  )[0]!;

async function read(
  content: string | Buffer,
  options = '',
  contentType: string | null = 'text/csv',
  chunkBytes = 7,
): Promise<(SourceFields | Unparsed)[]> {
  const records: (SourceFields | Unparsed)[] = [];
  // split into small chunks so decoding and header detection meet chunk boundaries
  const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content);
  const chunks = Array.from({ length: Math.ceil(bytes.length / chunkBytes) }, (_, i) =>
    bytes.subarray(i * chunkBytes, i * chunkBytes + chunkBytes),
  );
  for await (const r of csvSource.read(Readable.from(chunks), sourceWith(options), {
    url: 'file:///t.csv',
    contentType,
  }))
    records.push(r);
  return records;
}

describe('csv source', () => {
  it('reads records keyed by their header names', async () => {
    const records = await read('id,Symbol,current_price\nbitcoin,btc,32797\nethereum,eth,1913.88\n');
    assert.deepEqual(records, [
      { id: 'bitcoin', Symbol: 'btc', current_price: '32797' },
      { id: 'ethereum', Symbol: 'eth', current_price: '1913.88' },
    ]);
  });

  it('detects ";" and tab delimiters from the header, ignoring delimiters inside quotes', async () => {
    assert.deepEqual(await read('symbol;price;"note, with comma"\nBTC;"87,000";x\n'), [
      { symbol: 'BTC', price: '87,000', 'note, with comma': 'x' },
    ]);
    assert.deepEqual(await read('symbol\tprice\nBTC\t1\n'), [{ symbol: 'BTC', price: '1' }]);
  });

  it('skips a UTF-8 BOM, comment banners, blank lines and CRLF line ends', async () => {
    const records = await read(
      '\uFEFF# exported 2024-01-01\r\n#\r\nsymbol,price\r\n\r\nBTC,1\r\n# trailing comment\r\nETH,2\r\n',
    );
    assert.deepEqual(records, [
      { symbol: 'BTC', price: '1' },
      { symbol: 'ETH', price: '2' },
    ]);
  });

  it('decodes UTF-16LE with a BOM and Windows-1252 without mojibake', async () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('name,symbol\r\nCafé,CAF\r\n', 'utf16le')]);
    assert.deepEqual(await read(utf16), [{ name: 'Café', symbol: 'CAF' }]);
    // Latin-1 has no €; Windows-1252, which real "ISO-8859-1" exports use, has it at 0x80
    const cp1252 = Buffer.concat([
      Buffer.from('name;symbol\nNaïve ', 'latin1'),
      Buffer.from([0x80]),
      Buffer.from(' coin;NAI\n', 'latin1'),
    ]);
    assert.deepEqual(await read(cp1252, '', 'text/csv'), [{ name: 'Naïve € coin', symbol: 'NAI' }]);
    assert.deepEqual(await read(Buffer.from('name,symbol\nCaf\xe9,CAF\n', 'latin1'), 'encoding: latin1'), [
      { name: 'Café', symbol: 'CAF' },
    ]);
  });

  it('keeps ragged rows and names blank or repeated headers so no value is lost', async () => {
    const records = await read(',id,price,price\n0,a,1,2,extra\n1,b\n');
    assert.deepEqual(records, [
      { column_1: '0', id: 'a', price: '1', price_2: '2', column_5: 'extra' },
      { column_1: '1', id: 'b' },
    ]);
  });

  it('keeps a stray quote as text, and turns an unclosed quote into an unparsed record in its place', async () => {
    const records = await read('symbol,price\nBTC,1\nETH,"2"x\nXRP,3\nADA,"5\n');
    assert.deepEqual(records.slice(0, 3), [
      { symbol: 'BTC', price: '1' },
      { symbol: 'ETH', price: '"2"x' },
      { symbol: 'XRP', price: '3' },
    ]);
    assert.equal((records[3] as Unparsed).reason, 'unreadable CSV line: a quote opened on line 5 never closes');
    assert.equal((records[3] as Unparsed).unparsed, 'ADA,"5');
    assert.equal(records.length, 4);
  });

  it('reads nothing from an empty file or one with only comments', async () => {
    assert.deepEqual(await read(''), []);
    assert.deepEqual(await read('# nothing here\n'), []);
  });

  describe('records longer than the limit', () => {
    /** wholeRecords over `text` cut into chunks of `size` characters, with what it refused. */
    async function cut(text: string, size: number, maxChars: number) {
      const refused: [number, string, string][] = [];
      const chunks = Array.from({ length: Math.ceil(text.length / size) }, (_, i) =>
        text.slice(i * size, i * size + size),
      );
      let out = '';
      for await (const part of wholeRecords(
        (async function* () {
          yield* chunks;
        })(),
        ',',
        maxChars,
        (line, t, reason) => refused.push([line, t.slice(0, 12), reason]),
      ))
        out += part;
      return { out, refused };
    }

    it('passes every text without an over-long record through unchanged, however it is cut', async () => {
      const text =
        'a,b,c\r\n1,"two\nlines",3\r\n"x""y",plain "quote" inside,\r\n# a "comment\n4,"""",5\r6,7,8\n"end",,""';
      for (let size = 1; size <= text.length; size++)
        assert.deepEqual(await cut(text, size, 40), { out: text, refused: [] }, `chunks of ${size}`);
    });

    it('refuses the first line of a record over the limit and reads every line after it, however the text is cut', async () => {
      const long = 'x'.repeat(60);
      const cases: [string, string, [number, string][]][] = [
        // a line without end
        [`a,b\n1,2\n${long}\n3,4\n`, 'a,b\n1,2\n\n3,4\n', [[3, 'longer than 40']]],
        // a quoted field too long
        [`a,b\n1,"${long}"\n3,4\n`, 'a,b\n\n3,4\n', [[2, 'longer than 40']]],
        // a quote that opens and runs past the limit: the lines after it are records again
        [`a,b\n1,"open\n${'3,4\n'.repeat(12)}`, `a,b\n\n${'3,4\n'.repeat(12)}`, [[2, 'longer than 40']]],
        // a quote that opens and never closes before the end
        ['a,b\n1,"open\n3,4\n', 'a,b\n\n3,4\n', [[2, 'quote opened on line 2 never closes']]],
      ];
      for (const [text, expected, refusals] of cases) {
        for (const size of [1, 3, 7, 1000]) {
          const { out, refused } = await cut(text, size, 40);
          assert.equal(out, expected, `${JSON.stringify(text.slice(0, 30))} in chunks of ${size}`);
          assert.deepEqual(
            refused.map(([line]) => line),
            refusals.map(([line]) => line),
          );
          for (const [i, [, , reason]] of refused.entries()) assert.ok(reason.includes(refusals[i]![1]), reason);
        }
      }
    });

    it('quarantines a field of megabytes and an unclosed quote in their place, and loses none of the rows after them', async () => {
      const text = `symbol,name,price_usd\nAAA,Alpha,1\nBIG,"${'x'.repeat(MAX_RECORD_CHARS * 2)}",1\nBBB,Beta,2\nCCC,"never closed\nDDD,Delta,4\n`;
      const records = await read(text, '', 'text/csv', 64 * 1024);
      assert.deepEqual(
        records.map((r) => ('unparsed' in r ? `quarantined: ${String(r.reason)}` : r.symbol)),
        [
          'AAA',
          `quarantined: unreadable CSV line: a record longer than ${MAX_RECORD_CHARS} characters (from line 3)`,
          'BBB',
          'quarantined: unreadable CSV line: a quote opened on line 5 never closes',
          'DDD',
        ],
      );
      assert.ok(String((records[1] as Unparsed).unparsed).length <= 10_000, 'the quarantined text is an excerpt');
    });

    it('refuses a file whose header line does not end within the limit', async () => {
      await assert.rejects(
        read('x'.repeat(MAX_RECORD_CHARS + 10), '', 'text/csv', 64 * 1024),
        /no CSV header line within the first/,
      );
    });
  });
});

describe('csv split: parts that read into exactly the whole file', () => {
  /** Rows with what a cut could break: quoted delimiters, quotes and line ends, multi-byte text, blank lines, ragged and stray-quote rows. */
  const file = (eol: string) => {
    const lines = ['\uFEFF# banner, with "a quote', '', 'id;name;price'];
    for (let i = 0; i < 400; i++) {
      const name = i % 5 === 0 ? `"Coin; ${i}${eol}more ""quoted"""` : i % 7 === 0 ? `Caf\u00e9 \u20bf ${i}` : `n${i}`;
      lines.push(i % 13 === 0 ? `c${i};${name}` : i % 17 === 0 ? `c${i};x"y;${i}` : `c${i};${name};${i}`);
      if (i % 11 === 0) lines.push('');
    }
    return Buffer.from(`${lines.join(eol)}${eol}`);
  };

  for (const eol of ['\n', '\r\n']) {
    it(`cuts at record ends only, for any part size (${JSON.stringify(eol)} line ends)`, async () => {
      const bytes = file(eol);
      const info = { url: 'file:///t.csv', contentType: 'text/csv' };
      const whole = await read(bytes, '', 'text/csv', 4096);
      assert.ok(whole.length > 390);
      for (const partBytes of [101, 333, 1000, 2500, 4000]) {
        const pages = Array.from({ length: Math.ceil(bytes.length / 1500) }, (_, i) =>
          bytes.subarray(i * 1500, i * 1500 + 1500),
        );
        const split = await csvSource.split!(Readable.from(pages), sourceWith(), info, partBytes);
        assert.ok(split && split.cuts.length > 0, `cut in parts of ${partBytes}`);
        const bounds = [0, ...split.cuts, bytes.length];
        const records: (SourceFields | Unparsed)[] = [];
        for (let k = 0; k + 1 < bounds.length; k++) {
          const part = bytes.subarray(bounds[k], bounds[k + 1]);
          const document = k === 0 ? part : Buffer.concat([bytes.subarray(0, split.prefixBytes), part]);
          for await (const r of csvSource.read(Readable.from([document]), split.readAs, info)) records.push(r);
        }
        assert.deepEqual(records, whole, `parts of ${partBytes} bytes`);
      }
    });
  }

  it('does not cut a UTF-16 file, one with a comment line among its records, or one with mixed line ends', async () => {
    const info = { url: 'file:///t.csv', contentType: 'text/csv' };
    const text = file('\n').toString('utf8').replace('\uFEFF', '');
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    assert.equal(await csvSource.split!(Readable.from([utf16]), sourceWith(), info, 500), null);
    const commented = Buffer.from(text.replace('c200;', '# a note\nc200;'));
    assert.equal(await csvSource.split!(Readable.from([commented]), sourceWith(), info, 500), null);
    // csv-parse keeps to the header's line end: a bare line feed among CRLF rows, or a lone CR, is no record end to it
    const crlf = file('\r\n').toString('utf8');
    for (const mixed of [
      crlf.replace('c201;n201;201\r\n', 'c201;n201;201\n'),
      text.replace('c201;n201;201\n', 'c201;n201;201\r'),
    ]) {
      assert.ok(mixed !== crlf && mixed !== text);
      assert.equal(await csvSource.split!(Readable.from([Buffer.from(mixed)]), sourceWith(), info, 500), null);
    }
  });
});
