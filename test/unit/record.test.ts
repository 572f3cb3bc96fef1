import assert from 'node:assert/strict';
import { contentHash, validateRecord } from '../../src/normalize/record.ts';

describe('unified record validation', () => {
  const good = {
    sourceKey: 'bitcoin',
    symbol: 'btc',
    name: 'Bitcoin',
    rank: '1',
    priceUsd: '$32,797',
    maxSupply: '',
    sourceUpdatedAt: '2021-06-24T03:32:13.383Z',
  };

  it('cleans and types a valid asset quote', () => {
    const result = validateRecord('asset', good);
    assert.ok(result.ok);
    assert.equal(result.record.kind, 'asset');
    assert.equal(result.record.symbol, 'BTC');
    assert.equal(result.record.rank, 1);
    assert.equal(result.record.priceUsd, '32797');
    assert.equal(result.record.maxSupply, null);
    assert.equal(result.record.title, null);
  });

  it('names every field that is wrong, and why', () => {
    const result = validateRecord('asset', { ...good, symbol: '', priceUsd: 'twelve', marketCapUsd: '-5', rank: '0' });
    assert.ok(!result.ok);
    assert.match(result.reason, /symbol is required/);
    assert.match(result.reason, /price_usd not a number: "twelve"/);
    assert.match(result.reason, /market_cap_usd must not be negative/);
    assert.match(result.reason, /rank/);
  });

  it('requires a key, so a record can always be found again', () => {
    const result = validateRecord('asset', { ...good, sourceKey: '  ' });
    assert.ok(!result.ok);
    assert.match(result.reason, /source_key is required/);
  });

  it('hashes content: equal records hash equal, any field change changes the hash', () => {
    const a = validateRecord('asset', good);
    const b = validateRecord('asset', { ...good });
    const c = validateRecord('asset', { ...good, priceUsd: '32798' });
    assert.ok(a.ok && b.ok && c.ok);
    assert.equal(contentHash(a.record), contentHash(b.record));
    assert.notEqual(contentHash(a.record), contentHash(c.record));
    // null and empty string must not collide
    const d = validateRecord('asset', { ...good, name: null });
    assert.ok(d.ok);
    assert.notEqual(contentHash(a.record), contentHash(d.record));
  });
});
