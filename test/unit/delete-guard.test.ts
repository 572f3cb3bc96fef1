// The delete guard (src/load/delete-guard.ts) as a pure function, rule by rule as README.md states them
// (The stages, "Delete guard"; Failure modes): no deletes from an incomplete or empty snapshot, from one with
// more than max_quarantine_ratio quarantined or with keyless quarantined records, none beyond max_delete_ratio
// of the live records, and none that would leave fewer than 1 − max_delete_ratio of the window's baseline.
import assert from 'node:assert/strict';
import { deleteGuard, type DeleteLimits, type OrphanFacts } from '../../src/load/delete-guard.ts';

const limits: DeleteLimits = { maxDeleteRatio: 0.2, maxQuarantineRatio: 0.1, incompleteReason: null, windowDays: 30 };
const SINCE = '2026-10-23T00:00:00.000Z';
/** A healthy run of a 100-record source deleting `orphans` of them. */
const facts = (f: Partial<OrphanFacts> = {}): OrphanFacts => ({
  orphans: 5,
  live: 100,
  baseline: 100,
  baselineSince: SINCE,
  parsed: 95,
  quarantined: 0,
  keyless: 0,
  shrinkApproved: false,
  ...f,
});

describe('delete guard', () => {
  it('lets a small delete of a healthy snapshot through', () => {
    assert.equal(deleteGuard(facts(), limits), null);
  });

  it('has nothing to hold when there are no orphans, however bad the snapshot', () => {
    assert.equal(
      deleteGuard(facts({ orphans: 0, parsed: 0, quarantined: 50, keyless: 3 }), {
        ...limits,
        incompleteReason: 'page cap reached',
      }),
      null,
    );
  });

  it('holds every delete of an incomplete snapshot, with the reason', () => {
    const reason = deleteGuard(facts({ orphans: 7 }), { ...limits, incompleteReason: 'stopped at max_pages 3' });
    assert.match(reason!, /held 7 deletes/);
    assert.match(reason!, /incomplete \(stopped at max_pages 3\)/);
  });

  it('holds every delete of an empty snapshot (parsed 0): a source answering nothing is broken, not emptied', () => {
    const reason = deleteGuard(facts({ orphans: 100, parsed: 0 }), limits);
    assert.match(reason!, /held 100 deletes: the snapshot is empty/);
  });

  describe('quarantine ratio (max_quarantine_ratio 10 %)', () => {
    it('lets deletes through at exactly the limit', () => {
      assert.equal(deleteGuard(facts({ parsed: 100, quarantined: 10 }), limits), null);
    });

    it('holds them just over it, naming the counts and both percentages', () => {
      const reason = deleteGuard(facts({ orphans: 4, parsed: 100, quarantined: 11 }), limits);
      assert.match(reason!, /held 4 deletes/);
      assert.match(reason!, /11 of 100 records quarantined \(11%\)/);
      assert.match(reason!, /max_quarantine_ratio 10%/);
    });
  });

  it('holds deletes when quarantined records have no key: any orphan may be one of them', () => {
    const reason = deleteGuard(facts({ orphans: 2, parsed: 100, quarantined: 1, keyless: 1 }), limits);
    assert.match(reason!, /held 2 deletes: 1 quarantined records have no key/);
  });

  describe('max_delete_ratio of the live records (20 %)', () => {
    it('lets exactly 20 % of the live records go', () => {
      assert.equal(deleteGuard(facts({ orphans: 20, parsed: 80 }), limits), null);
    });

    it('holds 21 %, naming the orphans, the live count and both percentages', () => {
      const reason = deleteGuard(facts({ orphans: 21, parsed: 79 }), limits);
      assert.equal(reason, 'held 21 of 100 live records (21%): more than max_delete_ratio 20%');
    });

    it('holds the README example: 25 of 50 live records', () => {
      assert.equal(
        deleteGuard(facts({ orphans: 25, live: 50, baseline: 50, parsed: 25 }), limits),
        'held 25 of 50 live records (50%): more than max_delete_ratio 20%',
      );
    });
  });

  describe('the baseline window', () => {
    it('holds a delete under the ratio of live that would leave under 80 % of the baseline', () => {
      // 90 live now, 100 at the window's high: deleting 11 (12 % of live) leaves 79 < 80
      const reason = deleteGuard(facts({ orphans: 11, live: 90, baseline: 100 }), limits);
      assert.match(
        reason!,
        /held 11 deletes: 79 live records would remain, 21% fewer than the 100 the source had since 2026-10-23T00:00:00\.000Z/,
      );
      assert.match(reason!, /max_delete_ratio 20%/);
      assert.match(reason!, /approve-shrink/);
      // deleting 10 leaves exactly 80: allowed
      assert.equal(deleteGuard(facts({ orphans: 10, live: 90, baseline: 100 }), limits), null);
    });

    it('holds the README example: 101 of 150 would remain', () => {
      assert.match(
        deleteGuard(facts({ orphans: 22, live: 123, baseline: 150 }), limits)!,
        /held 22 deletes: 101 live records would remain, 32\.7% fewer than the 150/,
      );
    });

    it('stops a source being walked down by runs that each stay under the ratio', () => {
      // every run tries to delete 15 % of what is live; the baseline is the most live records after any run
      const start = 1000;
      let live = start;
      let baseline = start;
      const held: number[] = [];
      for (let run = 1; run <= 10; run++) {
        const orphans = Math.floor(live * 0.15);
        assert.ok(orphans <= live * limits.maxDeleteRatio, 'each run alone stays under the ratio of live');
        if (deleteGuard(facts({ orphans, live, baseline, parsed: live - orphans }), limits) === null) live -= orphans;
        else held.push(run);
        baseline = Math.max(baseline, live);
      }
      assert.deepEqual(held.slice(0, 1), [2], 'the second run would leave 72 % of the baseline');
      assert.equal(held.length, 9);
      assert.ok(live >= start * (1 - limits.maxDeleteRatio), `${live} live records remain of ${start}`);
    });
  });

  describe('an approved shrink', () => {
    it('skips the ratio rules once: half the source may go', () => {
      assert.equal(deleteGuard(facts({ orphans: 50, parsed: 50, shrinkApproved: true }), limits), null);
      assert.equal(
        deleteGuard(facts({ orphans: 50, live: 60, baseline: 1000, parsed: 10, shrinkApproved: true }), limits),
        null,
      );
    });

    it('does not skip the rules before them', () => {
      const approved = { shrinkApproved: true, orphans: 50 };
      assert.match(deleteGuard(facts(approved), { ...limits, incompleteReason: 'page cap' })!, /incomplete/);
      assert.match(deleteGuard(facts({ ...approved, parsed: 0 }), limits)!, /empty/);
      assert.match(deleteGuard(facts({ ...approved, parsed: 50, quarantined: 6 }), limits)!, /max_quarantine_ratio/);
      assert.match(deleteGuard(facts({ ...approved, parsed: 50, quarantined: 1, keyless: 1 }), limits)!, /no key/);
    });
  });

  it('checks the rules in the documented order: incomplete, empty, quarantine, keyless, ratio', () => {
    const everything = facts({ orphans: 90, parsed: 0, quarantined: 50, keyless: 5 });
    assert.match(deleteGuard(everything, { ...limits, incompleteReason: 'x' })!, /incomplete/);
    assert.match(deleteGuard(everything, limits)!, /empty/);
    assert.match(deleteGuard({ ...everything, parsed: 100 }, limits)!, /quarantined \(50%\)/);
    assert.match(deleteGuard({ ...everything, parsed: 100, quarantined: 5 }, limits)!, /no key/);
    assert.match(
      deleteGuard({ ...everything, parsed: 100, quarantined: 0, keyless: 0 }, limits)!,
      /held 90 of 100 live records/,
    );
  });

  it('follows the configured limits, not fixed numbers', () => {
    const loose = { ...limits, maxDeleteRatio: 0.5, maxQuarantineRatio: 0.3 };
    assert.equal(deleteGuard(facts({ orphans: 50, parsed: 50 }), loose), null);
    assert.match(
      deleteGuard(facts({ orphans: 51, parsed: 49 }), loose)!,
      /held 51 of 100 live records \(51%\): more than max_delete_ratio 50%/,
    );
    assert.equal(deleteGuard(facts({ parsed: 100, quarantined: 30 }), loose), null);
    assert.match(deleteGuard(facts({ parsed: 100, quarantined: 31 }), loose)!, /max_quarantine_ratio 30%/);
  });
});
