// The ingest workflow (src/workflows/ingest.ts) with mocked activities, on the Temporal testing package's
// local dev server (the project's CLI, as test/helpers.ts starts it; not imported from there, which opens
// PostgreSQL). The activities are plain objects recording what they were called with: only ids and counts
// pass through the workflow, so what it does is which activity it calls, with what, and the outcomes it hands
// to finishRun.
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import assert from 'node:assert/strict';
import path from 'node:path';
import type {
  PayloadStep,
  RunPlan,
  RunSummary,
  SourceOutcome,
  SourcePlan,
  SourceStep,
} from '../../src/activities/index.ts';
import { runStatusOf } from '../../src/db/runs.ts';
import type { ingest } from '../../src/workflows/ingest.ts';
import { ETL_OUTCOME, ETL_SOURCES, progressQuery, type Progress } from '../../src/workflows/observability.ts';

const workflowsPath = path.join(import.meta.dirname, '..', '..', 'src', 'workflows', 'index.ts');
const RUN_ID = 41;

interface Call {
  name: string;
  arg: Record<string, unknown>;
}

/** What a mock source does: its storeRaw answer, and optionally a stage that throws or blocks. */
interface Behaviour {
  unchanged?: boolean;
  /** The stage throws this (a non-retryable failure, so no retry backoff is waited on). */
  fail?: { stage: string; error: Error };
  /** The stage blocks until Temporal cancels it. */
  block?: string;
  /** normalize plans the payload in this many parts, two at a time. */
  parts?: number;
  /** This part fails for good. */
  failPart?: number;
}

/**
 * Mock activities for these sources. Each records its call; payload ids are derived from the source's
 * position so the test can tell that each stage got its own source's payload.
 */
function mockActivities(sources: SourcePlan[], behaviour: Record<string, Behaviour> = {}) {
  const calls: Call[] = [];
  const blocked = new Map<string, { started: PromiseWithResolvers<void>; cancelled: PromiseWithResolvers<string> }>();
  for (const [id, b] of Object.entries(behaviour))
    if (b.block) blocked.set(id, { started: Promise.withResolvers(), cancelled: Promise.withResolvers() });
  const payloadIdOf = (sourceId: string) => 1000 + sources.findIndex((s) => s.id === sourceId);
  let partsRunning = 0;
  let maxPartsRunning = 0;
  const bothStarted = [Promise.withResolvers<void>(), Promise.withResolvers<void>()];

  const stage = async (name: string, step: SourceStep) => {
    calls.push({ name, arg: { ...step } });
    const b = behaviour[step.sourceId] ?? {};
    if (b.fail?.stage === name) throw b.fail.error;
    if (b.block === name) {
      const ctx = Context.current();
      const waiting = blocked.get(step.sourceId)!;
      // cancellation reaches an activity through its heartbeats: keep beating until it comes
      const beat = setInterval(() => ctx.heartbeat(), 50);
      ctx.heartbeat();
      waiting.started.resolve();
      try {
        await ctx.cancelled;
      } catch (error) {
        waiting.cancelled.resolve(error instanceof CancelledFailure ? error.message : String(error));
        throw error;
      } finally {
        clearInterval(beat);
      }
    }
  };

  const activities = {
    async startRun(input: { sourceIds?: string[] } = {}): Promise<RunPlan> {
      calls.push({ name: 'startRun', arg: { ...input } });
      return { runId: RUN_ID, sources };
    },
    async fetchSource(step: SourceStep) {
      await stage('fetchSource', step);
      return { payloadId: payloadIdOf(step.sourceId), bytes: 10, pages: 1, notModified: false };
    },
    async storeRaw(step: PayloadStep) {
      await stage('storeRaw', step);
      return { unchanged: behaviour[step.sourceId]?.unchanged ?? false, contentHash: 'h' };
    },
    async normalize(step: PayloadStep) {
      await stage('normalize', step);
      const parts = behaviour[step.sourceId]?.parts;
      if (parts) return { parts, concurrency: 2 };
      return { parsed: 3, staged: 3, quarantined: 0, fieldIssues: 0, driftEvents: 0 };
    },
    async normalizePart(step: PayloadStep & { part: number }) {
      await stage('normalizePart', step);
      partsRunning++;
      maxPartsRunning = Math.max(maxPartsRunning, partsRunning);
      // the first two parts each wait for the other to start: run one after the other, they never would
      if (step.part < 2) {
        bothStarted[step.part]!.resolve();
        await Promise.all(bothStarted.map((b) => b.promise));
      }
      partsRunning--;
      if (behaviour[step.sourceId]?.failPart === step.part)
        throw ApplicationFailure.nonRetryable(`part ${step.part} is unreadable`, 'UnreadablePayloadError');
      return { parsed: 10 + step.part, resumed: false, zoneless: [] };
    },
    async finishParts(step: PayloadStep & { outcomes: unknown[] }) {
      await stage('finishParts', step);
      return { parsed: 0, staged: 0, quarantined: 0, fieldIssues: 0, driftEvents: 0 };
    },
    async dedupe(step: PayloadStep) {
      await stage('dedupe', step);
      return {};
    },
    async softDeleteOrphans(step: PayloadStep) {
      await stage('softDeleteOrphans', step);
      return {};
    },
    async resolveEntities(step: SourceStep) {
      await stage('resolveEntities', step);
      return {};
    },
    async finishRun(input: { runId: number; outcomes: SourceOutcome[] }): Promise<RunSummary> {
      calls.push({ name: 'finishRun', arg: { ...input } });
      // a blocked stage's cancellation reaches it on its next heartbeat: the run stays open until it has, so
      // the activity hears "cancelled" from Temporal rather than "not found" from a workflow already closed
      await Promise.all([...blocked.values()].map((b) => b.cancelled.promise));
      // the status rule finishRun applies (src/db/runs.ts), over what the workflow handed it
      return { runId: input.runId, status: runStatusOf(input.outcomes), sources: input.outcomes };
    },
  };

  const of = (name: string) => calls.filter((c) => c.name === name);
  const stagesOf = (sourceId: string) => calls.filter((c) => c.arg.sourceId === sourceId).map((c) => c.name);
  return { activities, calls, of, stagesOf, blocked, maxPartsRunning: () => maxPartsRunning };
}

const FULL = ['fetchSource', 'storeRaw', 'normalize', 'dedupe', 'softDeleteOrphans', 'resolveEntities'];
const byId = (outcomes: SourceOutcome[]) => Object.fromEntries(outcomes.map((o) => [o.sourceId, o]));

describe('ingest workflow with mocked activities', function () {
  this.timeout(60_000);
  let env: TestWorkflowEnvironment;
  let workflowBundle: { code: string };
  let queue = 0;

  before(async () => {
    // the SDK's own INFO lines (worker state changes) are noise here; under `make test` test/setup.ts installed it
    if (!Runtime._instance) Runtime.install({ logger: new DefaultLogger('ERROR') });
    [env, workflowBundle] = await Promise.all([
      TestWorkflowEnvironment.createLocal({
        server: {
          executable: {
            type: 'existing-path',
            path: process.env.TEMPORAL_CLI ?? path.join(import.meta.dirname, '..', '..', '.tools', 'bin', 'temporal'),
          },
          log: { format: 'json', level: 'error' },
          searchAttributes: [ETL_SOURCES, ETL_OUTCOME],
        },
      }),
      bundleWorkflowCode({
        workflowsPath,
        logger: { info() {}, warn() {}, error: console.error, debug() {}, trace() {}, log() {} },
      }),
    ]);
  });

  after(async () => {
    await env?.teardown();
  });

  /** Runs one ingest workflow on a fresh task queue with these activities; `during` runs while it does. */
  async function run(
    activities: object,
    during: (handle: Awaited<ReturnType<typeof env.client.workflow.start<typeof ingest>>>) => Promise<void>,
  ) {
    const taskQueue = `ingest-unit-${++queue}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      namespace: env.namespace,
      taskQueue,
      workflowBundle,
      activities,
      // deliver a cancellation to a heartbeating activity at once, not after the default throttle (16 s here)
      maxHeartbeatThrottleInterval: '50ms',
      defaultHeartbeatThrottleInterval: '50ms',
    });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start<typeof ingest>('ingest', {
        taskQueue,
        workflowId: `${taskQueue}-${Date.now()}`,
        args: [{}],
      });
      await during(handle);
    });
  }

  it('an unchanged source stops after storeRaw, still links entities, and ends unchanged', async () => {
    const sources: SourcePlan[] = [
      { id: 'same', deletePolicy: 'snapshot' },
      { id: 'new', deletePolicy: 'snapshot' },
    ];
    const mock = mockActivities(sources, { same: { unchanged: true } });
    let summary: RunSummary | undefined;
    let started: string | undefined;
    await run(mock.activities, async (handle) => {
      started = handle.firstExecutionRunId;
      summary = await handle.result();
    });
    assert.deepEqual(mock.stagesOf('same'), ['fetchSource', 'storeRaw', 'resolveEntities']);
    assert.deepEqual(mock.stagesOf('new'), FULL);
    // each stage gets the run id, its source and that source's own payload
    for (const c of mock.calls.filter((c) => c.arg.sourceId)) {
      assert.equal(c.arg.runId, RUN_ID, c.name);
      if (c.name !== 'fetchSource' && c.name !== 'resolveEntities')
        assert.equal(c.arg.payloadId, 1000 + sources.findIndex((s) => s.id === c.arg.sourceId), c.name);
    }
    // all sources, in a run row named by the run id the execution started with
    assert.deepEqual(
      mock.of('startRun').map((c) => c.arg),
      [{ originalRunId: started }],
    );
    assert.deepEqual(
      mock.of('finishRun').map((c) => c.arg),
      [
        {
          runId: RUN_ID,
          outcomes: [
            { sourceId: 'same', status: 'unchanged' },
            { sourceId: 'new', status: 'succeeded' },
          ],
        },
      ],
    );
    assert.equal(summary!.status, 'succeeded');
  });

  it('a payload planned in parts: every part once, two at a time, joined in part order before the merge', async () => {
    const sources: SourcePlan[] = [
      { id: 'large', deletePolicy: 'snapshot' },
      { id: 'small', deletePolicy: 'snapshot' },
    ];
    const mock = mockActivities(sources, { large: { parts: 5 } });
    await run(mock.activities, async (handle) => {
      assert.equal((await handle.result()).status, 'succeeded');
    });
    assert.deepEqual(mock.stagesOf('large'), [
      'fetchSource',
      'storeRaw',
      'normalize',
      ...Array(5).fill('normalizePart'),
      'finishParts',
      'dedupe',
      'softDeleteOrphans',
      'resolveEntities',
    ]);
    assert.deepEqual(mock.stagesOf('small'), FULL);
    assert.deepEqual(
      mock.of('normalize').map((c) => c.arg.inParts),
      [true, true],
      'the workflow asks for parts',
    );
    assert.deepEqual(
      mock
        .of('normalizePart')
        .map((c) => c.arg.part)
        .sort(),
      [0, 1, 2, 3, 4],
    );
    assert.equal(mock.maxPartsRunning(), 2, 'two at a time, never more');
    assert.deepEqual(
      mock.of('finishParts')[0]!.arg.outcomes,
      [10, 11, 12, 13, 14].map((parsed) => ({ parsed, resumed: false, zoneless: [] })),
    );
  });

  it('a part that fails for good fails its source: no join, no merge; the other source succeeds', async () => {
    const sources: SourcePlan[] = [
      { id: 'large', deletePolicy: 'snapshot' },
      { id: 'small', deletePolicy: 'snapshot' },
    ];
    const mock = mockActivities(sources, { large: { parts: 5, failPart: 1 } });
    let summary: RunSummary | undefined;
    await run(mock.activities, async (handle) => {
      summary = await handle.result();
    });
    assert.equal(summary!.status, 'partial');
    assert.deepEqual(byId(summary!.sources).large, {
      sourceId: 'large',
      status: 'failed',
      error: 'part 1 is unreadable',
    });
    const stages = mock.stagesOf('large');
    assert.ok(!stages.includes('finishParts') && !stages.includes('dedupe'), stages.join(', '));
    assert.deepEqual(mock.stagesOf('small'), FULL);
  });

  it('a never-delete source is never soft-deleted from; a snapshot source is', async () => {
    const sources: SourcePlan[] = [
      { id: 'history', deletePolicy: 'never' },
      { id: 'snapshot', deletePolicy: 'snapshot' },
    ];
    const mock = mockActivities(sources);
    await run(mock.activities, async (handle) => {
      await handle.result();
    });
    assert.deepEqual(mock.stagesOf('history'), ['fetchSource', 'storeRaw', 'normalize', 'dedupe', 'resolveEntities']);
    assert.deepEqual(
      mock.of('softDeleteOrphans').map((c) => c.arg),
      [{ runId: RUN_ID, sourceId: 'snapshot', payloadId: 1001 }],
    );
    assert.deepEqual(byId(mock.of('finishRun')[0]!.arg.outcomes as SourceOutcome[]).history, {
      sourceId: 'history',
      status: 'succeeded',
    });
  });

  it('a source whose normalize fails ends failed with the message; the others succeed; the run is partial', async () => {
    const sources: SourcePlan[] = [
      { id: 'good-1', deletePolicy: 'snapshot' },
      { id: 'broken', deletePolicy: 'snapshot' },
      { id: 'good-2', deletePolicy: 'never' },
    ];
    const error = ApplicationFailure.nonRetryable(
      "source 'broken': no column for required field 'symbol'",
      'UnreadablePayloadError',
    );
    const mock = mockActivities(sources, { broken: { fail: { stage: 'normalize', error } } });
    let summary: RunSummary | undefined;
    let outcome: string | undefined;
    await run(mock.activities, async (handle) => {
      summary = await handle.result();
      outcome = (await handle.describe()).typedSearchAttributes.get(ETL_OUTCOME);
    });
    // the failing stage ran once (not retried) and nothing after it ran for that source
    assert.deepEqual(mock.stagesOf('broken'), ['fetchSource', 'storeRaw', 'normalize']);
    assert.deepEqual(mock.stagesOf('good-1'), FULL);
    assert.deepEqual(mock.stagesOf('good-2'), ['fetchSource', 'storeRaw', 'normalize', 'dedupe', 'resolveEntities']);
    const finish = mock.of('finishRun');
    assert.equal(finish.length, 1);
    const outcomes = finish[0]!.arg.outcomes as SourceOutcome[];
    assert.deepEqual(outcomes.map((o) => o.sourceId).sort(), ['broken', 'good-1', 'good-2']);
    assert.deepEqual(byId(outcomes), {
      'good-1': { sourceId: 'good-1', status: 'succeeded' },
      broken: { sourceId: 'broken', status: 'failed', error: "source 'broken': no column for required field 'symbol'" },
      'good-2': { sourceId: 'good-2', status: 'succeeded' },
    });
    assert.equal(summary!.status, 'partial');
    assert.deepEqual(summary!.sources, outcomes);
    assert.equal(outcome, 'partial', 'the EtlOutcome search attribute says partial');
  });

  it('a cancelled run is still closed by finishRun and ends cancelled', async () => {
    const sources: SourcePlan[] = [
      { id: 'slow-1', deletePolicy: 'snapshot' },
      { id: 'slow-2', deletePolicy: 'snapshot' },
    ];
    const mock = mockActivities(sources, { 'slow-1': { block: 'normalize' }, 'slow-2': { block: 'dedupe' } });
    let failure: unknown;
    let status: string | undefined;
    let progress: Progress | undefined;
    const cancelledReasons: string[] = [];
    await run(mock.activities, async (handle) => {
      // both sources are inside a stage that only a cancellation ends
      await Promise.all([...mock.blocked.values()].map((b) => b.started.promise));
      progress = await handle.query(progressQuery);
      await handle.cancel();
      failure = await handle.result().then(
        () => undefined,
        (error: unknown) => error,
      );
      status = (await handle.describe()).status.name;
      // the blocked activities were cancelled by Temporal (not by the worker shutting down after the test)
      cancelledReasons.push(...(await Promise.all([...mock.blocked.values()].map((b) => b.cancelled.promise))));
    });
    assert.deepEqual(progress!.sources, { 'slow-1': { stage: 'normalize' }, 'slow-2': { stage: 'dedupe' } });
    assert.ok(failure instanceof WorkflowFailedError, `the result is a WorkflowFailedError: ${String(failure)}`);
    assert.ok(failure.cause instanceof CancelledFailure, `caused by a cancellation: ${String(failure.cause)}`);
    assert.equal(status, 'CANCELLED');
    assert.deepEqual(cancelledReasons, ['CANCELLED', 'CANCELLED']);
    const finish = mock.of('finishRun');
    assert.equal(finish.length, 1, 'finishRun runs once, outside the cancelled scope');
    assert.deepEqual(
      (finish[0]!.arg.outcomes as SourceOutcome[]).map((o) => [o.sourceId, o.status]),
      [
        ['slow-1', 'failed'],
        ['slow-2', 'failed'],
      ],
    );
    for (const o of finish[0]!.arg.outcomes as SourceOutcome[]) assert.match(o.error ?? '', /cancel/);
    // nothing after the blocked stages ran
    assert.deepEqual(mock.stagesOf('slow-1'), ['fetchSource', 'storeRaw', 'normalize']);
    assert.deepEqual(mock.stagesOf('slow-2'), ['fetchSource', 'storeRaw', 'normalize', 'dedupe']);
  });

  it('a cancelled run closes a source that had already finished with its own outcome, not as cancelled', async () => {
    const sources: SourcePlan[] = [
      { id: 'done', deletePolicy: 'snapshot' },
      { id: 'slow', deletePolicy: 'snapshot' },
    ];
    const mock = mockActivities(sources, { slow: { block: 'normalize' } });
    await run(mock.activities, async (handle) => {
      await mock.blocked.get('slow')!.started.promise;
      // the other source runs to its end while this one blocks
      for (;;) {
        if ((await handle.query(progressQuery)).sources.done?.stage === 'succeeded') break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      await handle.cancel();
      await handle.result().catch(() => undefined);
    });
    const [finish] = mock.of('finishRun');
    assert.deepEqual(
      (finish!.arg.outcomes as SourceOutcome[]).map((o) => [o.sourceId, o.status, o.error]),
      [
        ['done', 'succeeded', undefined],
        ['slow', 'failed', 'run cancelled'],
      ],
    );
  });
});
