// A workflow's Temporal event history summarized for GET /runs/:id/history: its status and, per activity
// type, how many were scheduled, how they ended, the attempts they took, their durations and failures.
// Temporal writes an activity's ActivityTaskStarted event only when its last attempt ends, with that
// attempt's number and the failure of the attempt before, so retries are read from there.
import type { WorkflowHandle } from '@temporalio/client';

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];

export type WorkflowStatus =
  | 'running'
  | 'completed'
  | 'failed'
  | 'canceled'
  | 'terminated'
  | 'continued_as_new'
  | 'timed_out';

export interface ActivitySummary {
  type: string;
  scheduled: number;
  completed: number;
  failed: number;
  timed_out: number;
  canceled: number;
  running: number;
  attempts: number;
  retries: number;
  total_duration_ms: number;
  max_duration_ms: number;
  failures: string[];
}

export interface HistorySummary {
  workflow_type: string | null;
  status: WorkflowStatus;
  started_at: Date | null;
  closed_at: Date | null;
  event_count: number;
  failure: string | null;
  activities: ActivitySummary[];
}

interface Attempt {
  type: string;
  scheduledAt: number | null;
  attempts: number;
  outcome: 'completed' | 'failed' | 'timed_out' | 'canceled' | 'running';
  closedAt: number | null;
  failures: string[];
}

type Long = number | { toString(): string } | null | undefined;
const num = (v: Long): number => (v == null ? 0 : typeof v === 'number' ? v : Number(v.toString()));
const millis = (t: { seconds?: Long; nanos?: number | null } | null | undefined): number | null =>
  t ? num(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : null;
const message = (f: { message?: string | null } | null | undefined) => (f?.message ? f.message : null);

export function summarizeHistory(history: History): HistorySummary {
  const events: HistoryEvent[] = history.events ?? [];
  const activities = new Map<string, Attempt>();
  const byScheduled = (id: Long) => activities.get(String(num(id)));
  const close = (id: Long, outcome: Attempt['outcome'], at: number | null, failure: string | null) => {
    const a = byScheduled(id);
    if (!a) return;
    a.outcome = outcome;
    a.closedAt = at;
    if (failure) a.failures.push(failure);
  };

  let status: WorkflowStatus = 'running';
  let failure: string | null = null;
  let closedAt: number | null = null;
  for (const e of events) {
    const at = millis(e.eventTime);
    if (e.activityTaskScheduledEventAttributes) {
      activities.set(String(num(e.eventId)), {
        type: e.activityTaskScheduledEventAttributes.activityType?.name ?? 'unknown',
        scheduledAt: at,
        attempts: 0,
        outcome: 'running',
        closedAt: null,
        failures: [],
      });
    } else if (e.activityTaskStartedEventAttributes) {
      const started = e.activityTaskStartedEventAttributes;
      const a = byScheduled(started.scheduledEventId);
      if (a) {
        a.attempts = Math.max(1, started.attempt ?? 1);
        const previous = message(started.lastFailure);
        if (previous) a.failures.push(previous);
      }
    } else if (e.activityTaskCompletedEventAttributes) {
      close(e.activityTaskCompletedEventAttributes.scheduledEventId, 'completed', at, null);
    } else if (e.activityTaskFailedEventAttributes) {
      close(
        e.activityTaskFailedEventAttributes.scheduledEventId,
        'failed',
        at,
        message(e.activityTaskFailedEventAttributes.failure),
      );
    } else if (e.activityTaskTimedOutEventAttributes) {
      close(
        e.activityTaskTimedOutEventAttributes.scheduledEventId,
        'timed_out',
        at,
        message(e.activityTaskTimedOutEventAttributes.failure) ?? 'timed out',
      );
    } else if (e.activityTaskCanceledEventAttributes) {
      close(e.activityTaskCanceledEventAttributes.scheduledEventId, 'canceled', at, null);
    } else if (e.workflowExecutionCompletedEventAttributes) {
      [status, closedAt] = ['completed', at];
    } else if (e.workflowExecutionFailedEventAttributes) {
      [status, closedAt, failure] = ['failed', at, message(e.workflowExecutionFailedEventAttributes.failure)];
    } else if (e.workflowExecutionTimedOutEventAttributes) {
      [status, closedAt] = ['timed_out', at];
    } else if (e.workflowExecutionCanceledEventAttributes) {
      [status, closedAt] = ['canceled', at];
    } else if (e.workflowExecutionTerminatedEventAttributes) {
      [status, closedAt, failure] = ['terminated', at, e.workflowExecutionTerminatedEventAttributes.reason || null];
    } else if (e.workflowExecutionContinuedAsNewEventAttributes) {
      [status, closedAt] = ['continued_as_new', at];
    }
  }

  const byType = new Map<string, ActivitySummary>();
  for (const a of activities.values()) {
    const s = byType.get(a.type) ?? {
      type: a.type,
      scheduled: 0,
      completed: 0,
      failed: 0,
      timed_out: 0,
      canceled: 0,
      running: 0,
      attempts: 0,
      retries: 0,
      total_duration_ms: 0,
      max_duration_ms: 0,
      failures: [],
    };
    s.scheduled++;
    s[a.outcome]++;
    s.attempts += a.attempts;
    s.retries += Math.max(0, a.attempts - 1);
    const duration = a.closedAt !== null && a.scheduledAt !== null ? Math.max(0, a.closedAt - a.scheduledAt) : 0;
    s.total_duration_ms += duration;
    s.max_duration_ms = Math.max(s.max_duration_ms, duration);
    // distinct messages, bounded: a source failing the same way on every attempt says it once
    for (const f of a.failures) if (!s.failures.includes(f) && s.failures.length < 20) s.failures.push(f);
    byType.set(a.type, s);
  }

  const first = events[0];
  return {
    workflow_type: first?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? null,
    status,
    started_at: first ? dateOrNull(millis(first.eventTime)) : null,
    closed_at: dateOrNull(closedAt),
    event_count: events.length,
    failure,
    activities: [...byType.values()],
  };
}

const dateOrNull = (ms: number | null) => (ms === null ? null : new Date(ms));
