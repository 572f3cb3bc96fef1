// Runs: the list, one run with its per-source counts, its Temporal history, comparisons and anomalies, and
// POST /runs to start one now.
import { randomUUID } from 'node:crypto';
import { getRun, lastRun, listRuns, previousSucceeded, storedAnomalies } from '../../db/queries.ts';
import { loadSourcesConfig } from '../../sources/config.ts';
import { ingest } from '../../workflows/index.ts';
import { runDescription } from '../../temporal/schedule.ts';
import {
  THRESHOLDS,
  baselineOf,
  referenceOf,
  runAnomalies,
  sourceAnomalies,
  sourceFacts,
  quarantineShare,
  type Anomaly,
} from '../../anomalies.ts';
import { summarizeHistory } from '../history.ts';
import { runProgress } from '../progress.ts';
import { badRequest, meta, notFound, send } from '../http.ts';
import type { Routes } from '../operations.ts';
import {
  AnomaliesQuery,
  CompareQuery,
  CompareRuns,
  IdParams,
  RunAnomalies,
  RunDetail,
  RunHistory,
  RunPage,
  RunStarted,
  RunsQuery,
  StartRunBody,
} from '../schemas.ts';
import {
  anomalyJson,
  historyExpiresAt,
  iso,
  isoOrNull,
  runBriefJson,
  runJson,
  runSourceJson,
  workflowUiUrl,
} from '../serialize.ts';
import { runLinks } from '../temporal.ts';
import type { Context } from './context.ts';

export function runRoutes(routes: Routes, { db, temporal, settings, links }: Context): void {
  routes.add(
    {
      method: 'get',
      path: '/runs',
      operationId: 'listRuns',
      tag: 'runs',
      summary: 'Runs, newest first, with per-source counts',
      query: RunsQuery,
      ok: { status: 200, description: 'A page of runs', schema: RunPage },
    },
    async ({ query }, _req, res) => {
      const { runs, total } = await listRuns(db.em(), query);
      const now = await runLinks(links, temporal);
      send(res, RunPage, {
        data: runs.map(({ run, sources }) => runJson(run, sources, now)),
        total,
        limit: query.limit,
        offset: query.offset,
        ...meta(res),
      });
    },
  );

  // before /runs/:id, which would take "anomalies" for an id
  routes.add(
    {
      method: 'get',
      path: '/runs/anomalies',
      operationId: 'runAnomalies',
      costly: () => true,
      tag: 'runs',
      summary: 'The latest run (or run_id) against the median of recent completed runs per source',
      description: `Per source, the baseline is the median of at most ${THRESHOLDS.baselineRuns} previous succeeded runs. Rules: a failed source or run; records parsed changed by more than ${THRESHOLDS.recordChangeRatio * 100} %; duration over ${THRESHOLDS.durationFactor}× (and ${THRESHOLDS.durationMinDeltaMs} ms) the baseline; quarantined share at least ${THRESHOLDS.quarantineFactor}× and ${THRESHOLDS.quarantineMinPoints * 100} points above it.`,
      query: AnomaliesQuery,
      ok: {
        status: 200,
        description: 'Anomalies of the run (run is null when there is no run yet)',
        schema: RunAnomalies,
      },
      errors: [404],
    },
    async ({ query }, _req, res) => {
      const em = db.em();
      const found = query.run_id === undefined ? await lastRun(em) : await getRun(em, query.run_id);
      if (!found) {
        if (query.run_id !== undefined) throw notFound(`no run ${query.run_id}`);
        return send(res, RunAnomalies, {
          run: null,
          window: THRESHOLDS.baselineRuns,
          sources: [],
          anomalies: [],
          ...meta(res),
        });
      }
      const sources = await Promise.all(
        found.sources.map(async (s) => {
          const history = await previousSucceeded(db.em(), s.sourceId, found.run.id, THRESHOLDS.baselineRuns);
          const current = sourceFacts(s);
          const baseline = baselineOf(history.map(sourceFacts));
          return {
            source: s.sourceId,
            status: s.status,
            current: {
              records: current.status === 'succeeded' ? current.records : null,
              quarantine_share: current.status === 'succeeded' ? quarantineShare(current) : null,
              duration_ms: current.durationMs,
            },
            baseline: {
              runs: baseline.runs,
              records: baseline.records === null ? null : Math.round(baseline.records),
              quarantine_share: baseline.quarantineShare,
              duration_ms: baseline.durationMs === null ? null : Math.round(baseline.durationMs),
            },
            anomalies: sourceAnomalies(s.sourceId, current, baseline),
          };
        }),
      );
      send(res, RunAnomalies, {
        run: runBriefJson(found.run, await runLinks(links, temporal)),
        window: THRESHOLDS.baselineRuns,
        sources,
        anomalies: [...runAnomalies(found.run.status), ...sources.flatMap((s) => s.anomalies)],
        ...meta(res),
      });
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/runs/:id',
      operationId: 'getRun',
      tag: 'runs',
      summary: 'One run: status, timings, per-source counts and errors',
      params: IdParams,
      ok: { status: 200, description: 'The run', schema: RunDetail },
      errors: [404],
    },
    async ({ params }, _req, res) => {
      const found = await getRun(db.em(), params.id);
      if (!found) throw notFound(`no run ${params.id}`);
      const { run, sources } = found;
      const errors = [
        ...(run.error ? [{ source: null, message: run.error }] : []),
        ...sources.filter((s) => s.error).map((s) => ({ source: s.sourceId, message: s.error! })),
        ...sources
          .filter((s) => s.deleteGuard)
          .map((s) => ({ source: s.sourceId, message: `delete guard: ${s.deleteGuard}` })),
      ];
      const anomalies = (await storedAnomalies(db.em(), run.id)).map(anomalyJson);
      const progress = run.status === 'running' ? await runProgress(temporal, run.workflowId, run.temporalRunId) : null;
      send(res, RunDetail, {
        data: runJson(run, sources, await runLinks(links, temporal)),
        errors,
        anomalies,
        progress,
        ...meta(res),
      });
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/runs/:id/history',
      operationId: 'getRunHistory',
      tag: 'runs',
      summary: "The run's Temporal event history, summarized",
      description:
        'Workflow status, and per activity type: how many were scheduled, how they ended, attempts, retries, durations and failure messages. Read from Temporal: 503 while it is unreachable, 404 when it no longer has the execution.',
      params: IdParams,
      ok: { status: 200, description: 'The summary', schema: RunHistory },
      errors: [404, 503],
    },
    async ({ params }, _req, res) => {
      const found = await getRun(db.em(), params.id);
      if (!found) throw notFound(`no run ${params.id}`);
      const { run } = found;
      const expiresAt = historyExpiresAt(run, await temporal.retentionMs());
      const history = await temporal.call(
        'fetch workflow history',
        (client) => client.workflow.getHandle(run.workflowId, run.temporalRunId).fetchHistory(),
        {
          timeoutMs: 10_000,
          missing:
            expiresAt && expiresAt.getTime() <= Date.now()
              ? `the history of run ${run.id} (workflow ${run.workflowId}) expired at ${iso(expiresAt)}: it finished longer ago than the namespace's retention`
              : `Temporal has no history for run ${run.id} (workflow ${run.workflowId}): it may be past the namespace's retention`,
        },
      );
      const summary = summarizeHistory(history);
      const durationMs =
        summary.started_at && summary.closed_at
          ? Math.max(0, summary.closed_at.getTime() - summary.started_at.getTime())
          : null;
      send(res, RunHistory, {
        data: {
          run_id: run.id,
          workflow_id: run.workflowId,
          temporal_run_id: run.temporalRunId,
          workflow_type: summary.workflow_type,
          status: summary.status,
          started_at: isoOrNull(summary.started_at),
          closed_at: isoOrNull(summary.closed_at),
          duration_ms: durationMs,
          event_count: summary.event_count,
          failure: summary.failure,
          activities: summary.activities,
          ui_url: workflowUiUrl(links.uiBase, links.namespace, run.workflowId, run.temporalRunId),
        },
        ...meta(res),
      });
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/compare-runs',
      operationId: 'compareRuns',
      costly: () => true,
      tag: 'runs',
      summary:
        'Two runs side by side: count and duration differences per source, with anomalies of run_id_2 against run_id_1',
      description: `Rules: run_id_2 failed, or one of its sources failed; records parsed changed by more than ${THRESHOLDS.recordChangeRatio * 100} %; a source took over ${THRESHOLDS.durationFactor}× (and ${THRESHOLDS.durationMinDeltaMs} ms) longer; its quarantined share is at least ${THRESHOLDS.quarantineFactor}× and ${THRESHOLDS.quarantineMinPoints * 100} points higher. Counts and durations are compared only between succeeded source runs (an unchanged source parsed nothing).`,
      query: CompareQuery,
      ok: { status: 200, description: 'The comparison', schema: CompareRuns },
      errors: [404],
    },
    async ({ query }, _req, res) => {
      const [first, second] = await Promise.all([getRun(db.em(), query.run_id_1), getRun(db.em(), query.run_id_2)]);
      if (!first) throw notFound(`no run ${query.run_id_1} (run_id_1)`);
      if (!second) throw notFound(`no run ${query.run_id_2} (run_id_2)`);
      const names = [...new Set([...first.sources, ...second.sources].map((s) => s.sourceId))].sort();
      const sources = names.map((source) => {
        const a = first.sources.find((s) => s.sourceId === source);
        const b = second.sources.find((s) => s.sourceId === source);
        const [ja, jb] = [a ? runSourceJson(a) : null, b ? runSourceJson(b) : null];
        const diff = (
          key:
            | 'parsed'
            | 'inserted'
            | 'updated'
            | 'unchanged'
            | 'duplicates'
            | 'quarantined'
            | 'soft_deleted'
            | 'fetched_bytes'
            | 'duration_ms',
        ) => {
          const [x, y] = [ja?.[key], jb?.[key]];
          return x === null || x === undefined || y === null || y === undefined ? null : y - x;
        };
        const anomalies: Anomaly[] = b
          ? sourceAnomalies(source, sourceFacts(b), referenceOf(a ? sourceFacts(a) : null))
          : [];
        return {
          source,
          run_1: ja,
          run_2: jb,
          delta: {
            parsed: diff('parsed'),
            inserted: diff('inserted'),
            updated: diff('updated'),
            unchanged: diff('unchanged'),
            duplicates: diff('duplicates'),
            quarantined: diff('quarantined'),
            soft_deleted: diff('soft_deleted'),
            fetched_bytes: diff('fetched_bytes'),
            duration_ms: diff('duration_ms'),
          },
          anomalies,
        };
      });
      const now = await runLinks(links, temporal);
      const [briefA, briefB] = [runBriefJson(first.run, now), runBriefJson(second.run, now)];
      send(res, CompareRuns, {
        run_1: briefA,
        run_2: briefB,
        duration_ms_delta:
          briefA.duration_ms === null || briefB.duration_ms === null ? null : briefB.duration_ms - briefA.duration_ms,
        sources,
        anomalies: [...runAnomalies(second.run.status), ...sources.flatMap((s) => s.anomalies)],
        ...meta(res),
      });
    },
  );

  routes.add(
    {
      method: 'post',
      path: '/runs',
      operationId: 'startRun',
      tag: 'runs',
      summary: 'Start an ingest run now (all sources, or source_ids)',
      description: `Starts the ingest workflow with id etl-manual-<uuid> on task queue ${settings.ETL_TASK_QUEUE}. Needs X-API-Key.`,
      body: StartRunBody,
      auth: true,
      ok: {
        status: 202,
        description: 'Started; follow it in the Temporal Web UI, or in GET /runs once its first activity ran',
        schema: RunStarted,
      },
      errors: [503],
    },
    async ({ body }, _req, res) => {
      const sourceIds = body.source_ids && [...new Set(body.source_ids)];
      if (sourceIds) assertKnownSources(settings.ETL_SOURCES_FILE, sourceIds);
      const workflowId = `etl-manual-${randomUUID()}`;
      const handle = await temporal.call(
        'start ingest workflow',
        (client) =>
          client.workflow.start(ingest, {
            taskQueue: settings.ETL_TASK_QUEUE,
            workflowId,
            args: [sourceIds ? { sourceIds } : {}],
            ...describedRun(settings.ETL_SOURCES_FILE, sourceIds),
          }),
        { timeoutMs: 5000 },
      );
      const runId = handle.firstExecutionRunId;
      send(
        res,
        RunStarted,
        {
          workflow_id: workflowId,
          temporal_run_id: runId,
          source_ids: sourceIds ?? null,
          ui_url: workflowUiUrl(links.uiBase, links.namespace, workflowId, runId),
          ...meta(res),
        },
        202,
      );
    },
  );
}

/**
 * A 400 for ids the sources file does not have (the workflow would fail on them at its first step); `unknown`
 * says what they are to the request ("unknown sources", "no longer configured").
 */
export function assertKnownSources(sourcesFile: string, sourceIds: string[], unknown = 'unknown sources'): void {
  let known: string[];
  try {
    known = loadSourcesConfig(sourcesFile).map((s) => s.id);
  } catch {
    return; // the worker reads its own copy of the file; when this process cannot, the workflow decides
  }
  const missing = sourceIds.filter((id) => !known.includes(id));
  if (missing.length)
    throw badRequest([
      { name: 'source_ids', reason: `${unknown}: ${missing.join(', ')} (configured: ${known.join(', ')})` },
    ]);
}

/** The run's summary for the Web UI, when this process can read the sources file (the worker has its own copy). */
function describedRun(sourcesFile: string, sourceIds: string[] | undefined) {
  try {
    return runDescription(sourcesFile, sourceIds);
  } catch {
    return {};
  }
}
