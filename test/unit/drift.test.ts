import assert from 'node:assert/strict';
import { RENAME_THRESHOLD, SchemaObserver, detectDrift, frozenReason } from '../../src/normalize/drift.ts';

describe('schema drift', () => {
  it('observes each field with the type most of its values have', () => {
    const observer = new SchemaObserver();
    for (const r of [
      { id: 'a', price: '1.5', roi: null, tags: ['x'] },
      { id: 'b', price: '2', roi: { times: '1' } },
      { id: 'c', price: 'n/a' },
    ])
      observer.observe(r);
    assert.deepEqual(observer.schema(), { id: 'string', price: 'number', roi: 'object', tags: 'array' });
  });

  it('scores a probable rename from name similarity and value-type agreement', () => {
    const changes = detectDrift(
      { id: 'string', current_price: 'number', market_cap: 'number' },
      { id: 'string', price_current: 'number', market_cap: 'number' },
    );
    assert.deepEqual(changes, [
      {
        change: 'renamed',
        field: 'price_current',
        previousField: 'current_price',
        previousType: 'number',
        currentType: 'number',
        confidence: 1,
      },
    ]);
    assert.ok(changes[0]!.confidence! >= RENAME_THRESHOLD);
  });

  it('does not pair fields that only share a type; reports them as removed and added', () => {
    const changes = detectDrift({ id: 'string', volume: 'number' }, { id: 'string', symbol: 'number' });
    assert.deepEqual(
      changes.map((c) => [c.change, c.field]),
      [
        ['removed', 'volume'],
        ['added', 'symbol'],
      ],
    );
  });

  it('reports a type change but not a field that is merely null this time', () => {
    const changes = detectDrift({ price: 'number', max_supply: 'number' }, { price: 'string', max_supply: 'null' });
    assert.deepEqual(changes, [
      { change: 'type_changed', field: 'price', previousType: 'number', currentType: 'string' },
    ]);
  });

  it('under freeze, holds exactly the records a change touches', () => {
    const changes = detectDrift(
      { id: 'string', current_price: 'number', rank: 'number' },
      { id: 'string', price_current: 'number', rank: 'string' },
    );
    assert.match(
      frozenReason(changes, { id: 'a', price_current: '1', rank: '1' })!,
      /looks like a rename of 'current_price' \(confidence 1\)/,
    );
    assert.match(frozenReason(changes, { id: 'a', rank: 'first' })!, /'rank' changed type from number to string/);
    assert.equal(frozenReason(changes, { id: 'a', rank: '2' }), null);
  });
});
