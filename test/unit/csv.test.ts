import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { parseSourcesConfig } from '../../src/sources/config.ts';
import { csvSource } from '../../src/sources/csv.ts';
import type { SourceFields, Unparsed } from '../../src/sources/types.ts';

const sourceWith = (csv = '') => parseSourcesConfig(`sources:\n  - {id: t, kind: csv, url: t.csv${csv ? `, csv: {${csv}}` : ''}}\n`, '/tmp/f.yaml')[0]!;

async function read(content: string | Buffer, options = '', contentType: string | null = 'text/csv'): Promise<(SourceFields | Unparsed)[]> {
  const records: (SourceFields | Unparsed)[] = [];
  // split into small chunks so decoding and header detection meet chunk boundaries
  const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content);
  const chunks = Array.from({ length: Math.ceil(bytes.length / 7) }, (_, i) => bytes.subarray(i * 7, i * 7 + 7));
  for await (const r of csvSource.read(Readable.from(chunks), sourceWith(options), { url: 'file:///t.csv', contentType })) records.push(r);
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
    assert.deepEqual(await read('symbol;price;"note, with comma"\nBTC;"87,000";x\n'), [{ symbol: 'BTC', price: '87,000', 'note, with comma': 'x' }]);
    assert.deepEqual(await read('symbol\tprice\nBTC\t1\n'), [{ symbol: 'BTC', price: '1' }]);
  });

  it('skips a UTF-8 BOM, comment banners, blank lines and CRLF line ends', async () => {
    const records = await read('\uFEFF# exported 2024-01-01\r\n#\r\nsymbol,price\r\n\r\nBTC,1\r\n# trailing comment\r\nETH,2\r\n');
    assert.deepEqual(records, [{ symbol: 'BTC', price: '1' }, { symbol: 'ETH', price: '2' }]);
  });

  it('decodes UTF-16LE with a BOM and Windows-1252 without mojibake', async () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('name,symbol\r\nCafé,CAF\r\n', 'utf16le')]);
    assert.deepEqual(await read(utf16), [{ name: 'Café', symbol: 'CAF' }]);
    // Latin-1 has no €; Windows-1252, which real "ISO-8859-1" exports use, has it at 0x80
    const cp1252 = Buffer.concat([Buffer.from('name;symbol\nNaïve ', 'latin1'), Buffer.from([0x80]), Buffer.from(' coin;NAI\n', 'latin1')]);
    assert.deepEqual(await read(cp1252, '', 'text/csv'), [{ name: 'Naïve € coin', symbol: 'NAI' }]);
    assert.deepEqual(await read(Buffer.from('name,symbol\nCaf\xe9,CAF\n', 'latin1'), 'encoding: latin1'), [{ name: 'Café', symbol: 'CAF' }]);
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
    assert.match((records[3] as Unparsed).reason, /unreadable CSV line: Quote Not Closed/);
    assert.equal((records[3] as Unparsed).unparsed, 'ADA,"5\n');
    assert.equal(records.length, 4);
  });

  it('reads nothing from an empty file or one with only comments', async () => {
    assert.deepEqual(await read(''), []);
    assert.deepEqual(await read('# nothing here\n'), []);
  });
});
