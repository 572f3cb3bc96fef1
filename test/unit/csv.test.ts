import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { parseSourcesConfig } from '../../src/sources/config.ts';
import { csvSource } from '../../src/sources/csv.ts';
import type { RawRecord } from '../../src/sources/types.ts';

const source = parseSourcesConfig('sources:\n  - {id: t, kind: csv, url: t.csv}\n', '/tmp/f.yaml')[0]!;

async function read(content: string | Buffer): Promise<RawRecord[]> {
  const records: RawRecord[] = [];
  for await (const r of csvSource.read(Readable.from([Buffer.from(content)]), source)) records.push(r);
  return records;
}

describe('csv source', () => {
  it('maps header spellings onto unified fields and keeps the original fields', async () => {
    const [r] = await read('id,Symbol,Name,market_cap_rank,current_price,Market Cap,last_updated\nbitcoin,btc,Bitcoin,1,32797,613445605654,2021-06-24T03:32:13Z\n');
    assert.deepEqual(r!.candidate, { sourceKey: 'bitcoin', symbol: 'btc', name: 'Bitcoin', rank: '1', priceUsd: '32797', marketCapUsd: '613445605654', sourceUpdatedAt: '2021-06-24T03:32:13Z' });
    assert.equal(r!.fields['Market Cap'], '613445605654');
  });

  it('handles a UTF-8 BOM, ";" delimiters, comment lines, quotes and blank lines', async () => {
    const records = await read('\uFEFF# exported 2024-01-01\nsymbol;price\n\nBTC;"87,000"\n# trailing comment\nETH;"1 913"\n');
    assert.equal(records.length, 2);
    assert.deepEqual(records[0]!.candidate, { symbol: 'BTC', priceUsd: '87,000', sourceKey: 'BTC' });
    assert.equal(records[1]!.candidate.priceUsd, '1 913');
  });

  it('keeps ragged rows: missing cells stay missing, extra cells are kept under column_N', async () => {
    const records = await read('id,symbol,price\na,A\nb,B,2,extra\n');
    assert.equal(records.length, 2);
    assert.deepEqual(records[0]!.candidate, { sourceKey: 'a', symbol: 'A' });
    assert.equal(records[1]!.fields.column_4, 'extra');
  });
});
