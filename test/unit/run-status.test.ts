// A run's status from its sources' outcomes (runStatusOf in src/db/runs.ts): `succeeded` when every source
// is, `failed` when none is, `partial` otherwise. `unchanged` (the payload equals the last merged snapshot)
// and `superseded` (a payload fetched before one another run already merged) are no-ops, not failures.
import assert from 'node:assert/strict';
import { runStatusOf, type SourceOutcome } from '../../src/db/runs.ts';

const outcome = (sourceId: string, status: SourceOutcome['status']): SourceOutcome =>
  status === 'failed' ? { sourceId, status, error: `${sourceId} broke` } : { sourceId, status };

describe('run status', () => {
  it('succeeded when every source succeeded', () => {
    assert.equal(runStatusOf([outcome('a', 'succeeded')]), 'succeeded');
    assert.equal(
      runStatusOf([outcome('a', 'succeeded'), outcome('b', 'succeeded'), outcome('c', 'succeeded')]),
      'succeeded',
    );
  });

  it('failed when every source failed', () => {
    assert.equal(runStatusOf([outcome('a', 'failed')]), 'failed');
    assert.equal(runStatusOf([outcome('a', 'failed'), outcome('b', 'failed')]), 'failed');
  });

  it('partial when some sources failed and others did not', () => {
    assert.equal(runStatusOf([outcome('a', 'succeeded'), outcome('b', 'failed')]), 'partial');
    assert.equal(runStatusOf([outcome('a', 'failed'), outcome('b', 'failed'), outcome('c', 'succeeded')]), 'partial');
    assert.equal(runStatusOf([outcome('a', 'unchanged'), outcome('b', 'failed')]), 'partial');
  });

  it('an unchanged source is no failure: all unchanged is a succeeded run', () => {
    assert.equal(runStatusOf([outcome('a', 'unchanged'), outcome('b', 'succeeded')]), 'succeeded');
    assert.equal(runStatusOf([outcome('a', 'unchanged'), outcome('b', 'unchanged')]), 'succeeded');
  });

  it('a superseded source makes the run neither partial nor failed', () => {
    assert.equal(runStatusOf([outcome('a', 'superseded'), outcome('b', 'succeeded')]), 'succeeded');
    assert.equal(runStatusOf([outcome('a', 'superseded')]), 'succeeded');
    assert.equal(runStatusOf([outcome('a', 'superseded'), outcome('b', 'unchanged')]), 'succeeded');
    // with a failure beside it, the run is partial: the superseded source did not fail
    assert.equal(runStatusOf([outcome('a', 'superseded'), outcome('b', 'failed')]), 'partial');
  });

  it('does not depend on the order of the outcomes', () => {
    const outcomes = [
      outcome('a', 'failed'),
      outcome('b', 'succeeded'),
      outcome('c', 'superseded'),
      outcome('d', 'unchanged'),
    ];
    for (let i = 0; i < outcomes.length; i++) {
      const rotated = [...outcomes.slice(i), ...outcomes.slice(0, i)];
      assert.equal(runStatusOf(rotated), 'partial');
      assert.equal(runStatusOf([...rotated].reverse()), 'partial');
    }
  });
});
