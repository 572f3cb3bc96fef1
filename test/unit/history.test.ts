// summarizeHistory (src/api/history.ts, GET /runs/:id/history) over histories built here from
// @temporalio/proto events, and over the real recorded histories of test/replay/histories. Temporal writes an
// activity's ActivityTaskStarted only when its last attempt ends, with that attempt's number and the failure
// of the attempt before: attempts and retries are read from there.
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
// a CommonJS module whose named exports Node's ESM loader cannot see: take its default export
import proto, { type temporal } from '@temporalio/proto';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { summarizeHistory, type ActivitySummary } from '../../src/api/history.ts';

const { HistoryEvent } = proto.temporal.api.history.v1;
type Event = temporal.api.history.v1.IHistoryEvent;

const T0 = Date.parse('2026-11-22T09:00:00.000Z');

/** Builds a history event by event, each at a time the test chooses (ms after T0). */
class HistoryBuilder {
  readonly events: Event[] = [];
  private add(atMs: number, attributes: Record<string, unknown>): number {
    const eventId = this.events.length + 1;
    const at = T0 + atMs;
    this.events.push(
      HistoryEvent.fromObject({
        eventId,
        eventTime: { seconds: Math.floor(at / 1000), nanos: (at % 1000) * 1e6 },
        ...attributes,
      }),
    );
    return eventId;
  }
  started(type = 'ingest', atMs = 0) {
    this.add(atMs, { workflowExecutionStartedEventAttributes: { workflowType: { name: type } } });
    return this;
  }
  schedule(activity: string, atMs: number): number {
    return this.add(atMs, { activityTaskScheduledEventAttributes: { activityType: { name: activity } } });
  }
  /** The started event of an activity's last attempt, with the failure of the attempt before it. */
  attempt(scheduledEventId: number, atMs: number, attempt: number, lastFailure?: string) {
    this.add(atMs, {
      activityTaskStartedEventAttributes: {
        scheduledEventId,
        attempt,
        ...(lastFailure ? { lastFailure: { message: lastFailure } } : {}),
      },
    });
  }
  completed(scheduledEventId: number, atMs: number) {
    this.add(atMs, { activityTaskCompletedEventAttributes: { scheduledEventId } });
  }
  failed(scheduledEventId: number, atMs: number, message: string) {
    this.add(atMs, { activityTaskFailedEventAttributes: { scheduledEventId, failure: { message } } });
  }
  timedOut(scheduledEventId: number, atMs: number, message?: string) {
    this.add(atMs, {
      activityTaskTimedOutEventAttributes: { scheduledEventId, ...(message ? { failure: { message } } : {}) },
    });
  }
  canceled(scheduledEventId: number, atMs: number) {
    this.add(atMs, { activityTaskCanceledEventAttributes: { scheduledEventId } });
  }
  close(atMs: number, attributes: Record<string, unknown>) {
    this.add(atMs, attributes);
    return this;
  }
  history() {
    return { events: this.events };
  }
}

const activity = (summary: ReturnType<typeof summarizeHistory>, type: string): ActivitySummary => {
  const found = summary.activities.find((a) => a.type === type);
  assert.ok(found, `an activity summary for ${type}: ${summary.activities.map((a) => a.type).join(', ')}`);
  return found;
};

describe('summarizeHistory', () => {
  describe('activities', () => {
    // three fetches: first time; after two retried 503s; failing on every one of five attempts
    const h = new HistoryBuilder().started();
    const fetchOk = h.schedule('fetchSource', 100);
    const fetchRetried = h.schedule('fetchSource', 100);
    const fetchFailed = h.schedule('fetchSource', 100);
    h.attempt(fetchOk, 110, 1);
    h.completed(fetchOk, 400);
    h.attempt(fetchRetried, 5_000, 3, 'answered 503');
    h.completed(fetchRetried, 5_100);
    h.attempt(fetchFailed, 30_000, 5, 'answered 404');
    h.failed(fetchFailed, 30_050, 'answered 404');
    // normalize: one timed out (no failure message), one still running (its first attempt has no started event yet)
    const normalizeLate = h.schedule('normalize', 6_000);
    h.attempt(normalizeLate, 6_010, 1);
    h.timedOut(normalizeLate, 26_000);
    h.schedule('normalize', 27_000);
    // dedupe: cancelled
    const dedupe = h.schedule('dedupe', 7_000);
    h.attempt(dedupe, 7_001, 2, 'deadlock detected');
    h.canceled(dedupe, 7_500);
    const summary = summarizeHistory(h.history());

    it('counts scheduled activities per type, in the order they were first scheduled', () => {
      assert.deepEqual(
        summary.activities.map((a) => [a.type, a.scheduled]),
        [
          ['fetchSource', 3],
          ['normalize', 2],
          ['dedupe', 1],
        ],
      );
    });

    it('counts how each one ended: completed, failed, timed out, canceled, still running', () => {
      const outcomes = (a: ActivitySummary) => ({
        completed: a.completed,
        failed: a.failed,
        timed_out: a.timed_out,
        canceled: a.canceled,
        running: a.running,
      });
      assert.deepEqual(outcomes(activity(summary, 'fetchSource')), {
        completed: 2,
        failed: 1,
        timed_out: 0,
        canceled: 0,
        running: 0,
      });
      assert.deepEqual(outcomes(activity(summary, 'normalize')), {
        completed: 0,
        failed: 0,
        timed_out: 1,
        canceled: 0,
        running: 1,
      });
      assert.deepEqual(outcomes(activity(summary, 'dedupe')), {
        completed: 0,
        failed: 0,
        timed_out: 0,
        canceled: 1,
        running: 0,
      });
    });

    it("reads attempts and retries from the started event's attempt", () => {
      const fetch = activity(summary, 'fetchSource');
      assert.equal(fetch.attempts, 1 + 3 + 5);
      assert.equal(fetch.retries, 0 + 2 + 4);
      // the running normalize has not started an attempt that ended: only the timed-out one counts
      assert.deepEqual([activity(summary, 'normalize').attempts, activity(summary, 'normalize').retries], [1, 0]);
      assert.deepEqual([activity(summary, 'dedupe').attempts, activity(summary, 'dedupe').retries], [2, 1]);
    });

    it('sums durations from scheduled to closed, and keeps the longest', () => {
      const fetch = activity(summary, 'fetchSource');
      assert.equal(fetch.total_duration_ms, 300 + 5_000 + 29_950);
      assert.equal(fetch.max_duration_ms, 29_950);
      // a running activity adds no duration
      assert.deepEqual(
        [activity(summary, 'normalize').total_duration_ms, activity(summary, 'normalize').max_duration_ms],
        [20_000, 20_000],
      );
      assert.equal(activity(summary, 'dedupe').total_duration_ms, 500);
    });

    it("keeps each distinct failure message once: the previous attempts' and the last one's", () => {
      assert.deepEqual(activity(summary, 'fetchSource').failures, ['answered 503', 'answered 404']);
      assert.deepEqual(activity(summary, 'normalize').failures, ['timed out']);
      assert.deepEqual(activity(summary, 'dedupe').failures, ['deadlock detected']);
    });

    it('keeps a timeout failure message when there is one', () => {
      const t = new HistoryBuilder().started();
      const id = t.schedule('normalize', 0);
      t.attempt(id, 1, 1);
      t.timedOut(id, 20_001, 'activity Heartbeat timeout');
      assert.deepEqual(activity(summarizeHistory(t.history()), 'normalize').failures, ['activity Heartbeat timeout']);
    });

    it('bounds the failure list at 20 distinct messages', () => {
      const t = new HistoryBuilder().started();
      for (let i = 0; i < 30; i++) {
        const id = t.schedule('fetchSource', i);
        t.attempt(id, i, 1);
        t.failed(id, i + 1, `failure ${i}`);
      }
      const fetch = activity(summarizeHistory(t.history()), 'fetchSource');
      assert.equal(fetch.failed, 30);
      assert.equal(fetch.failures.length, 20);
      assert.deepEqual(fetch.failures.slice(0, 2), ['failure 0', 'failure 1']);
    });
  });

  describe('workflow status', () => {
    const closedWith = (attributes: Record<string, unknown>) =>
      summarizeHistory(new HistoryBuilder().started('ingest', 0).close(2_500, attributes).history());

    it('completed', () => {
      const s = closedWith({ workflowExecutionCompletedEventAttributes: {} });
      assert.equal(s.status, 'completed');
      assert.equal(s.failure, null);
      assert.deepEqual(s.started_at, new Date(T0));
      assert.deepEqual(s.closed_at, new Date(T0 + 2_500));
      assert.equal(s.event_count, 2);
      assert.equal(s.workflow_type, 'ingest');
    });

    it('failed, with the failure message', () => {
      const s = closedWith({
        workflowExecutionFailedEventAttributes: { failure: { message: 'unknown source ids: nope' } },
      });
      assert.equal(s.status, 'failed');
      assert.equal(s.failure, 'unknown source ids: nope');
      assert.deepEqual(s.closed_at, new Date(T0 + 2_500));
    });

    it('terminated, with the reason (or none)', () => {
      const s = closedWith({ workflowExecutionTerminatedEventAttributes: { reason: 'operator stopped it' } });
      assert.deepEqual([s.status, s.failure], ['terminated', 'operator stopped it']);
      assert.deepEqual(s.closed_at, new Date(T0 + 2_500));
      assert.equal(closedWith({ workflowExecutionTerminatedEventAttributes: {} }).failure, null);
    });

    it('canceled, timed out, continued as new', () => {
      for (const [attributes, status] of [
        ['workflowExecutionCanceledEventAttributes', 'canceled'],
        ['workflowExecutionTimedOutEventAttributes', 'timed_out'],
        ['workflowExecutionContinuedAsNewEventAttributes', 'continued_as_new'],
      ] as const) {
        const s = closedWith({ [attributes]: {} });
        assert.equal(s.status, status);
        assert.deepEqual(s.closed_at, new Date(T0 + 2_500), status);
      }
    });

    it('running: no close event, no closed_at', () => {
      const h = new HistoryBuilder().started('reprocess', 0);
      h.schedule('startReprocess', 10);
      const s = summarizeHistory(h.history());
      assert.deepEqual([s.status, s.closed_at, s.failure, s.workflow_type], ['running', null, null, 'reprocess']);
      assert.equal(activity(s, 'startReprocess').running, 1);
    });

    it('an empty history', () => {
      assert.deepEqual(summarizeHistory({ events: [] }), {
        workflow_type: null,
        status: 'running',
        started_at: null,
        closed_at: null,
        event_count: 0,
        failure: null,
        activities: [],
      });
      assert.equal(summarizeHistory({}).event_count, 0);
    });
  });

  describe('recorded histories', () => {
    const dir = path.join(import.meta.dirname, '..', 'replay', 'histories');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));

    interface JsonEvent {
      eventId: string;
      eventTime: string;
      eventType: string;
      [attributes: string]: unknown;
    }
    /** What the summary should say, read straight from the JSON event types (not through the proto objects). */
    function expected(events: JsonEvent[]) {
      const byId = new Map<string, { type: string; outcome: string; attempts: number }>();
      for (const e of events) {
        const attrs = Object.entries(e).find(([k]) => k.endsWith('EventAttributes'))?.[1] as {
          activityType?: { name: string };
          scheduledEventId?: string;
          attempt?: number;
        };
        if (e.eventType === 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED')
          byId.set(e.eventId, { type: attrs.activityType!.name, outcome: 'running', attempts: 0 });
        else if (e.eventType === 'EVENT_TYPE_ACTIVITY_TASK_STARTED')
          byId.get(attrs.scheduledEventId!)!.attempts = attrs.attempt!;
        else if (e.eventType.startsWith('EVENT_TYPE_ACTIVITY_TASK_'))
          byId.get(attrs.scheduledEventId!)!.outcome = e.eventType
            .replace('EVENT_TYPE_ACTIVITY_TASK_', '')
            .toLowerCase();
      }
      const types = new Map<string, { scheduled: number; completed: number; failed: number; attempts: number }>();
      for (const a of byId.values()) {
        const t = types.get(a.type) ?? { scheduled: 0, completed: 0, failed: 0, attempts: 0 };
        t.scheduled++;
        if (a.outcome === 'completed') t.completed++;
        if (a.outcome === 'failed') t.failed++;
        t.attempts += a.attempts;
        types.set(a.type, t);
      }
      return types;
    }

    it('there are recorded histories to read', () => {
      assert.ok(files.includes('ingest-partial.json'), files.join(', '));
    });

    for (const file of files) {
      it(`${file}: status, type, event count and per-activity counts match the events`, () => {
        const json = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as { events: JsonEvent[] };
        const s = summarizeHistory(historyFromJSON(json));
        assert.equal(s.event_count, json.events.length);
        assert.equal(s.workflow_type, file.split(/[-.]/)[0]);
        assert.equal(s.status, 'completed');
        assert.deepEqual(s.started_at, new Date(json.events[0]!.eventTime));
        assert.deepEqual(s.closed_at, new Date(json.events.at(-1)!.eventTime));
        const want = expected(json.events);
        assert.deepEqual(s.activities.map((a) => a.type).sort(), [...want.keys()].sort());
        for (const a of s.activities) {
          const w = want.get(a.type)!;
          assert.deepEqual(
            { scheduled: a.scheduled, completed: a.completed, failed: a.failed, attempts: a.attempts },
            w,
            a.type,
          );
          assert.equal(a.running, 0, `${a.type}: nothing runs in a completed workflow`);
          assert.ok(a.max_duration_ms <= a.total_duration_ms);
        }
      });
    }

    it('ingest-partial.json: the failed coingecko fetch and its message', () => {
      const s = summarizeHistory(
        historyFromJSON(JSON.parse(fs.readFileSync(path.join(dir, 'ingest-partial.json'), 'utf8'))),
      );
      const fetch = activity(s, 'fetchSource');
      assert.equal(fetch.failed, 1);
      assert.equal(fetch.completed, fetch.scheduled - 1);
      assert.equal(fetch.failures.length, 1);
      assert.match(fetch.failures[0]!, /coingecko.*answered 404/);
      // the failed source goes no further: one fewer storeRaw than fetches
      assert.equal(activity(s, 'storeRaw').scheduled, fetch.scheduled - 1);
      assert.deepEqual([activity(s, 'startRun').scheduled, activity(s, 'finishRun').scheduled], [1, 1]);
    });
  });
});
