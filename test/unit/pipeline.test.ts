// The per-record pipeline of normalize as a pure function: what a source record becomes, and why it is
// quarantined, with no database and no Temporal.
import assert from 'node:assert/strict';
import { resolveMapping } from '../../src/normalize/mapping.ts';
import { normalizeRecord, recordRules } from '../../src/normalize/pipeline.ts';
import { parseSourcesConfig } from '../../src/sources/config.ts';
import { adapterFor } from '../../src/sources/index.ts';

const source = parseSourcesConfig(
  'sources:\n  - id: desk\n    kind: csv\n    url: desk.csv\n',
  '/etc/etl/sources.yaml',
)[0]!;
const adapter = adapterFor(source);
const { mapping } = resolveMapping({
  kind: 'asset',
  declared: adapter.fieldMap,
  columns: ['id', 'symbol', 'price', 'updated'],
  configured: source.mapping,
  constants: source.constants,
  renames: {},
});
const fetchedAt = new Date('2024-03-01T12:00:00Z');
const row = { id: ' bitcoin ', symbol: 'btc', price: '61000.5', updated: '2024-03-01T11:00:00Z' };

describe('normalize: the per-record pipeline', () => {
  it('maps, validates and keeps a good record', () => {
    const result = normalizeRecord(row, recordRules(source, adapter, { mapping, series: 'snapshot', fetchedAt }));
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(
      [result.record.sourceKey, result.record.symbol, result.record.priceUsd],
      ['bitcoin', 'BTC', '61000.5'],
    );
  });

  it('quarantines a record without a key, and names its key when it has one', () => {
    const rules = recordRules(source, adapter, { mapping, series: 'snapshot', fetchedAt });
    const keyless = normalizeRecord({ ...row, id: '  ' }, rules);
    assert.ok(!keyless.ok);
    assert.equal(keyless.sourceKey, null);
    assert.match(keyless.reason, /source_key/);
  });

  it('holds a record that carries a field drift policy freeze froze', () => {
    const frozen = [{ change: 'added' as const, field: 'extra' }];
    const rules = recordRules(source, adapter, { mapping, series: 'snapshot', fetchedAt, frozen });
    const held = normalizeRecord({ ...row, extra: 'x' }, rules);
    assert.ok(!held.ok);
    assert.equal(held.sourceKey, 'bitcoin');
    assert.match(held.reason, /extra/);
    assert.ok(normalizeRecord(row, rules).ok, 'a record without the new field passes');
  });

  it('refuses a history row without an observation time', () => {
    const history = recordRules(source, adapter, { mapping, series: 'history', fetchedAt });
    const undated = normalizeRecord({ ...row, updated: '' }, history);
    assert.ok(!undated.ok);
    assert.ok(
      normalizeRecord({ ...row, updated: '' }, { ...history, series: 'snapshot' }).ok,
      'a snapshot row may be undated',
    );
  });
});
