// The anomaly rules of src/anomalies.ts as units: each rule at its threshold and just past it, as the README
// states them (Observability: records parsed changed by more than 50 %; duration over 2× and at least 1 s
// longer; quarantined share at least 2× and 5 points higher; a failed run or source), and only succeeded
// outcomes compared.
import assert from 'node:assert/strict';
import {
  baselineOf,
  median,
  quarantineShare,
  referenceOf,
  runAnomalies,
  sourceAnomalies,
  THRESHOLDS,
  type Reference,
  type SourceFacts,
} from '../../src/anomalies.ts';

const ok = (records: number, quarantined = 0, durationMs: number | null = 1000): SourceFacts => ({
  status: 'succeeded',
  records,
  quarantined,
  durationMs,
});
/** A reference with only the fact under test set: the other rules have nothing to say. */
const ref = (r: Partial<Reference>): Reference => ({ records: null, quarantineShare: null, durationMs: null, ...r });
const rules = (current: SourceFacts, reference: Reference) =>
  sourceAnomalies('src', current, reference).map((a) => a.rule);

describe('anomaly rules', () => {
  it('uses the thresholds the README documents', () => {
    assert.equal(THRESHOLDS.recordChangeRatio, 0.5);
    assert.equal(THRESHOLDS.durationFactor, 2);
    assert.equal(THRESHOLDS.durationMinDeltaMs, 1000);
    assert.equal(THRESHOLDS.quarantineFactor, 2);
    assert.equal(THRESHOLDS.quarantineMinPoints, 0.05);
    assert.equal(THRESHOLDS.baselineRuns, 10);
  });

  describe('record_count_change (more than 50 % up or down)', () => {
    const reference = ref({ records: 100 });

    it('does not trip at exactly +50 % or −50 %', () => {
      assert.deepEqual(rules(ok(150), reference), []);
      assert.deepEqual(rules(ok(50), reference), []);
    });

    it('trips just past +50 %, with the counts and the signed change', () => {
      const [a, ...rest] = sourceAnomalies('csv-assets', ok(151), reference);
      assert.deepEqual(rest, []);
      assert.equal(a!.rule, 'record_count_change');
      assert.equal(a!.source, 'csv-assets');
      assert.equal(a!.current, 151);
      assert.equal(a!.reference, 100);
      assert.match(a!.message, /151 records parsed, \+51\.0 % against 100/);
    });

    it('trips just past −50 %', () => {
      const [a] = sourceAnomalies('csv-assets', ok(49), reference);
      assert.equal(a!.rule, 'record_count_change');
      assert.deepEqual([a!.current, a!.reference], [49, 100]);
      assert.match(a!.message, /49 records parsed, -51\.0 % against 100/);
    });

    it('trips on a source that parsed nothing against one that parsed records', () => {
      assert.deepEqual(rules(ok(0), reference), ['record_count_change']);
    });

    it('says nothing against a zero or absent reference', () => {
      assert.deepEqual(rules(ok(1_000_000), ref({ records: 0 })), []);
      assert.deepEqual(rules(ok(1_000_000), ref({ records: null })), []);
    });
  });

  describe('duration_spike (over 2× and at least 1 s longer)', () => {
    it('does not trip at exactly 2×, trips just over it when the delta is at least 1 s', () => {
      assert.deepEqual(rules(ok(10, 0, 2000), ref({ durationMs: 1000 })), []);
      const [a] = sourceAnomalies('src', ok(10, 0, 2001), ref({ durationMs: 1000 }));
      assert.equal(a!.rule, 'duration_spike');
      assert.deepEqual([a!.current, a!.reference], [2001, 1000]);
      assert.match(a!.message, /2001 ms.*2\.0×.*1000 ms/);
    });

    it('needs the minimum delta too: a sub-second run that triples is noise until it is 1 s slower', () => {
      // 400 ms → 1399 ms is 3.5× but 999 ms slower; 1400 ms is exactly 1 s slower
      assert.deepEqual(rules(ok(10, 0, 1399), ref({ durationMs: 400 })), []);
      assert.deepEqual(rules(ok(10, 0, 1400), ref({ durationMs: 400 })), ['duration_spike']);
    });

    it('needs the factor too: much slower in absolute terms but under 2× is not a spike', () => {
      assert.deepEqual(rules(ok(10, 0, 19_000), ref({ durationMs: 10_000 })), []);
    });

    it('compares against a 0 ms reference without dividing by it', () => {
      const [a] = sourceAnomalies('src', ok(10, 0, 1000), ref({ durationMs: 0 }));
      assert.equal(a!.rule, 'duration_spike');
      assert.doesNotMatch(a!.message, /Infinity|NaN/);
    });

    it('says nothing when either duration is unknown', () => {
      assert.deepEqual(rules(ok(10, 0, null), ref({ durationMs: 10 })), []);
      assert.deepEqual(rules(ok(10, 0, 1_000_000), ref({ durationMs: null })), []);
    });
  });

  describe('quarantine_spike (share at least 2× and at least 5 points higher)', () => {
    it('trips at exactly 2× and 5 points (5 % → 10 %), not just under 2× (5 % → 9 %)', () => {
      const reference = ref({ quarantineShare: 0.05 });
      const [a] = sourceAnomalies('src', ok(100, 10), reference);
      assert.equal(a!.rule, 'quarantine_spike');
      assert.deepEqual([a!.current, a!.reference], [0.1, 0.05]);
      assert.match(a!.message, /10\.0 % of records quarantined against 5\.0 %/);
      assert.deepEqual(rules(ok(100, 9), reference), []);
    });

    it('needs the points too: 1 % → 4 % quadruples but rises 3 points', () => {
      assert.deepEqual(rules(ok(100, 4), ref({ quarantineShare: 0.01 })), []);
      assert.deepEqual(rules(ok(100, 7), ref({ quarantineShare: 0.01 })), ['quarantine_spike']);
    });

    it('counts exactly 5 points as 5 points however the shares round in binary (1 % → 6 %, 2 % → 7 %)', () => {
      assert.deepEqual(rules(ok(100, 6), ref({ quarantineShare: 0.01 })), ['quarantine_spike']);
      assert.deepEqual(rules(ok(100, 7), ref({ quarantineShare: 0.02 })), ['quarantine_spike']);
      assert.deepEqual(rules(ok(1000, 59), ref({ quarantineShare: 0.01 })), []);
    });

    it('needs the factor too: 30 % → 50 % rises 20 points but is under 2×', () => {
      assert.deepEqual(rules(ok(100, 50), ref({ quarantineShare: 0.3 })), []);
      assert.deepEqual(rules(ok(100, 60), ref({ quarantineShare: 0.3 })), ['quarantine_spike']);
    });

    it('trips from a clean reference (0 %) once 5 % is quarantined', () => {
      assert.deepEqual(rules(ok(100, 4), ref({ quarantineShare: 0 })), []);
      assert.deepEqual(rules(ok(100, 5), ref({ quarantineShare: 0 })), ['quarantine_spike']);
    });

    it('says nothing when the current run parsed nothing or the reference has no share', () => {
      assert.deepEqual(rules(ok(0, 0), ref({ quarantineShare: 0 })), []);
      assert.deepEqual(rules(ok(100, 100), ref({ quarantineShare: null })), []);
    });
  });

  it('reports every rule that trips at once', () => {
    assert.deepEqual(rules(ok(300, 150, 10_000), ref({ records: 100, durationMs: 1000, quarantineShare: 0 })).sort(), [
      'duration_spike',
      'quarantine_spike',
      'record_count_change',
    ]);
  });

  describe('failures', () => {
    it('a failed source is always source_failed, whatever the reference', () => {
      const failed: SourceFacts = { status: 'failed', records: 0, quarantined: 0, durationMs: 5 };
      assert.deepEqual(sourceAnomalies('coingecko', failed, ref({})), [
        { rule: 'source_failed', source: 'coingecko', message: 'coingecko failed', current: null, reference: null },
      ]);
      assert.deepEqual(rules(failed, ref({ records: 100, durationMs: 5, quarantineShare: 0 })), ['source_failed']);
    });

    it('run_failed only when the run failed', () => {
      assert.deepEqual(
        runAnomalies('failed').map((a) => [a.rule, a.source]),
        [['run_failed', null]],
      );
      assert.deepEqual(runAnomalies('partial'), []);
      assert.deepEqual(runAnomalies('succeeded'), []);
      assert.deepEqual(runAnomalies('running'), []);
    });
  });

  describe('only succeeded outcomes are compared', () => {
    const big: Reference = { records: 100, quarantineShare: 0, durationMs: 100 };

    it('an unchanged, superseded or running current outcome gives nothing', () => {
      for (const status of ['unchanged', 'superseded', 'running'] as const) {
        assert.deepEqual(
          sourceAnomalies('src', { status, records: 0, quarantined: 0, durationMs: 10_000 }, big),
          [],
          status,
        );
      }
    });

    it('an unchanged, superseded or failed reference has nothing to say', () => {
      for (const status of ['unchanged', 'superseded', 'failed', 'running'] as const) {
        const reference = referenceOf({ status, records: 10, quarantined: 1, durationMs: 10 });
        assert.deepEqual(reference, { records: null, quarantineShare: null, durationMs: null }, status);
        assert.deepEqual(rules(ok(10_000, 5_000, 100_000), reference), [], status);
      }
      assert.deepEqual(referenceOf(null), { records: null, quarantineShare: null, durationMs: null });
    });

    it('a succeeded reference carries its records, share and duration', () => {
      assert.deepEqual(referenceOf(ok(200, 50, 1234)), { records: 200, quarantineShare: 0.25, durationMs: 1234 });
      assert.deepEqual(rules(ok(1000, 0, 1234), referenceOf(ok(200, 0, 1234))), ['record_count_change']);
    });
  });

  describe('baselineOf (the median of succeeded runs)', () => {
    it('takes the middle value of an odd count, in any order', () => {
      const history = [ok(30, 9, 300), ok(10, 1, 100), ok(20, 4, 200)]; // shares 0.3, 0.1, 0.2
      assert.deepEqual(baselineOf(history), { runs: 3, records: 20, quarantineShare: 0.2, durationMs: 200 });
      assert.deepEqual(baselineOf([...history].reverse()), baselineOf(history));
    });

    it('averages the two middle values of an even count', () => {
      assert.deepEqual(baselineOf([ok(10, 0, 100), ok(40, 4, 400), ok(20, 2, 200), ok(1000, 500, 9000)]), {
        runs: 4,
        records: 30, // (20 + 40) / 2
        quarantineShare: 0.1, // shares 0, 0.1, 0.1, 0.5
        durationMs: 300, // (200 + 400) / 2
      });
    });

    it('ignores unchanged, superseded, failed and running runs', () => {
      const noise: SourceFacts[] = [
        { status: 'unchanged', records: 0, quarantined: 0, durationMs: 5 },
        { status: 'unchanged', records: 0, quarantined: 0, durationMs: 5 },
        { status: 'superseded', records: 0, quarantined: 0, durationMs: 5 },
        { status: 'failed', records: 0, quarantined: 0, durationMs: 5 },
        { status: 'running', records: 0, quarantined: 0, durationMs: null },
      ];
      assert.deepEqual(baselineOf([...noise, ok(100, 10, 1000)]), {
        runs: 1,
        records: 100,
        quarantineShare: 0.1,
        durationMs: 1000,
      });
      assert.deepEqual(baselineOf(noise), { runs: 0, records: null, quarantineShare: null, durationMs: null });
    });

    it('leaves out shares of runs that parsed nothing and unknown durations', () => {
      assert.deepEqual(baselineOf([ok(0, 0, null), ok(100, 20, 500)]), {
        runs: 2,
        records: 50,
        quarantineShare: 0.2,
        durationMs: 500,
      });
    });

    it('median of nothing is null', () => {
      assert.equal(median([]), null);
      assert.equal(median([7]), 7);
    });
  });

  it('quarantineShare is null with 0 records, the ratio otherwise', () => {
    assert.equal(quarantineShare({ records: 0, quarantined: 0 }), null);
    assert.equal(quarantineShare({ records: 0, quarantined: 3 }), null);
    assert.equal(quarantineShare({ records: 8, quarantined: 2 }), 0.25);
  });
});
