import assert from 'node:assert/strict';
import { MAPPING_THRESHOLD, applyMapping, matchHeader, missingRequired, resolveMapping } from '../../src/normalize/mapping.ts';

const from = (m: ReturnType<typeof matchHeader>['mapping']) => Object.fromEntries(Object.entries(m).map(([f, s]) => [f, s.from]));

describe('field mapping', () => {
  it('maps the header spellings of real exports, with a confidence', () => {
    const { mapping } = matchHeader('asset', ['Ticker', 'LastPrice', 'Vol', 'RecordedDate']);
    assert.deepEqual(from(mapping), { symbol: 'Ticker', priceUsd: 'LastPrice', volume24hUsd: 'Vol', sourceUpdatedAt: 'RecordedDate' });
    assert.equal(mapping.priceUsd!.confidence, 0.95);
    for (const header of ['usd_price', 'LastPrice', 'current_price', 'Price (USD)', 'price_current']) {
      assert.equal(matchHeader('asset', [header]).mapping.priceUsd?.from, header, header);
    }
  });

  it('tolerates typos but never guesses below the threshold; a column maps to one field at most', () => {
    const { mapping, unmapped } = matchHeader('asset', ['circulating_suply', 'price_change_24h', 'mkt_cap', 'high_24h']);
    assert.equal(mapping.circulatingSupply?.how, 'fuzzy');
    // absolute change is not percent change, however similar the names look
    assert.equal(mapping.percentChange24h, undefined);
    assert.equal(mapping.marketCapUsd, undefined);
    const guess = unmapped.find((u) => u.column === 'price_change_24h')!;
    assert.equal(guess.best?.field, 'percentChange24h');
    assert.ok(guess.best!.confidence < MAPPING_THRESHOLD);
    assert.deepEqual(unmapped.map((u) => u.column).sort(), ['high_24h', 'mkt_cap', 'price_change_24h']);
  });

  it('gives configured mappings and accepted renames precedence, and keys a file without ids by symbol', () => {
    const declared = { sourceKey: 'id', symbol: 'symbol', priceUsd: 'current_price' };
    const renamed = resolveMapping({ kind: 'asset', declared, columns: [], configured: {}, renames: { current_price: 'price_current' } });
    assert.deepEqual(renamed.mapping.priceUsd, { from: 'price_current', confidence: 1, how: 'renamed' });
    const configured = resolveMapping({ kind: 'asset', columns: ['Ticker', 'px'], configured: { priceUsd: 'px' }, renames: {} });
    assert.deepEqual(configured.mapping.priceUsd, { from: 'px', confidence: 1, how: 'configured' });
    assert.deepEqual(configured.unmapped, []);
    assert.equal(configured.mapping.sourceKey?.how, 'symbol');
    assert.deepEqual(applyMapping({ Ticker: ' btc ', px: '1' }, configured.mapping), { symbol: ' btc ', sourceKey: 'BTC', priceUsd: '1' });
  });

  it('names the required fields nothing maps to', () => {
    const { mapping } = matchHeader('asset', ['Date', 'Open', 'High', 'Low', 'Close', 'Volume', 'Market Cap']);
    assert.deepEqual(missingRequired('asset', resolveMapping({ kind: 'asset', columns: Object.keys(mapping), configured: {}, renames: {} }).mapping), ['sourceKey', 'symbol']);
    assert.deepEqual(missingRequired('article', matchHeader('article', ['headline', 'link']).mapping), ['sourceKey']);
  });
});
