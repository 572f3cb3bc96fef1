// Health, statistics, Prometheus metrics, the ingest schedule's pause switch and the OpenAPI document.
import fs from 'node:fs';
import type { z } from 'zod';
import { latestRunPerSource, lastRun, statsSnapshot } from '../../db/queries.ts';
import { ProblemError, meta, notFound, send } from '../http.ts';
import { openApiDocument, type Routes } from '../operations.ts';
import {
  Health,
  ScheduleNoteBody,
  SupervisedProcesses,
  ScheduleResponse,
  type ScheduleState,
  Stats,
  scheduleParams,
} from '../schemas.ts';
import { iso, isoOrNull } from '../serialize.ts';
import type { Context } from './context.ts';

/** 'down' when PostgreSQL refuses, fails or does not answer within `timeoutMs` (an unreachable host never refuses). */
async function pingDatabase(db: Context['db'], timeoutMs: number): Promise<'up' | 'down'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'down'>((resolve) => (timer = setTimeout(() => resolve('down'), timeoutMs)));
  const ping = db.pool.query('SELECT 1').then(
    () => 'up' as const,
    () => 'down' as const,
  );
  return Promise.race([ping, timeout]).finally(() => clearTimeout(timer));
}

const epochIso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function systemRoutes(routes: Routes, { db, temporal, settings, metrics }: Context): void {
  const scheduleId = settings.ETL_SCHEDULE_ID;
  const describeSchedule = async (timeoutMs: number): Promise<z.output<typeof ScheduleState>> => {
    const d = await temporal.call('describe schedule', (client) => client.schedule.getHandle(scheduleId).describe(), {
      timeoutMs,
      missing: `schedule ${scheduleId} does not exist (make dev or node src/schedule.ts applies it)`,
    });
    return {
      id: scheduleId,
      paused: d.state.paused,
      note: d.state.note ?? null,
      next_action_times: d.info.nextActionTimes.map(iso),
    };
  };

  routes.add(
    {
      method: 'get',
      path: '/health',
      operationId: 'health',
      tag: 'system',
      summary: 'PostgreSQL, Temporal, the ingest schedule and the latest run of each source',
      description: 'status is ok when PostgreSQL and Temporal answer, degraded otherwise; 503 when PostgreSQL is down.',
      ok: { status: 200, description: 'The database is up (Temporal may not be)', schema: Health },
      also: { 503: { description: 'PostgreSQL is down (the same document, database: down)', schema: Health } },
    },
    async (_input, _req, res) => {
      // bounded so the answer stays within the container probe's 4 s even when a dependency hangs
      const [database, temporalUp] = await Promise.all([pingDatabase(db, 2000), temporal.probe(2000)]);
      const schedule: z.output<typeof Health>['schedule'] = temporalUp
        ? await describeSchedule(1500).then(
            (s) => ({ ...s, found: true as const }),
            (error: unknown) =>
              error instanceof ProblemError && error.status === 404 ? { id: scheduleId, found: false as const } : null,
          )
        : null;
      const [last, perSource] =
        database === 'up' ? await Promise.all([lastRun(db.em()), latestRunPerSource(db.em())]) : [null, []];
      const body: z.output<typeof Health> = {
        status: database === 'up' && temporalUp ? 'ok' : 'degraded',
        database,
        temporal: temporalUp ? 'up' : 'down',
        schedule,
        last_run: last && {
          id: last.run.id,
          workflow_id: last.run.workflowId,
          status: last.run.status,
          started_at: iso(last.run.startedAt),
          finished_at: isoOrNull(last.run.finishedAt),
          sources: last.sources.map((s) => ({
            source: s.sourceId,
            status: s.status,
            inserted: s.inserted,
            updated: s.updated,
            unchanged: s.unchanged,
            quarantined: s.quarantined,
          })),
        },
        sources: perSource.map((s) => ({
          source: s.sourceId,
          run_id: s.run,
          status: s.status,
          started_at: iso(s.startedAt),
          finished_at: isoOrNull(s.finishedAt),
          parsed: s.parsed,
          inserted: s.inserted,
          updated: s.updated,
          unchanged: s.unchanged,
          quarantined: s.quarantined,
          error: s.error ?? null,
        })),
        processes: supervised(settings.ETL_SUPERVISOR_STATE),
        ...meta(res),
      };
      send(res, Health, body, database === 'up' ? 200 : 503);
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/stats',
      operationId: 'stats',
      costly: () => true,
      tag: 'system',
      summary:
        'Per source: runs, records processed, durations, last success and failure; totals of records, entities, quarantine, drift',
      ok: { status: 200, description: 'Statistics', schema: Stats },
      errors: [503],
    },
    async (_input, _req, res) => {
      const s = await statsSnapshot(db.pool);
      const lastSuccess = new Map(s.lastSuccess.map((r) => [r.source, r]));
      const lastFailure = new Map(s.lastFailure.map((r) => [r.source, r]));
      const driftBySource = new Map<string, number>();
      for (const d of s.drift) driftBySource.set(d.source, (driftBySource.get(d.source) ?? 0) + d.count);
      const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
      send(res, Stats, {
        sources: s.sources.map((r) => {
          const success = lastSuccess.get(r.source);
          const failure = lastFailure.get(r.source);
          return {
            source: r.source,
            runs: {
              total: r.runs,
              succeeded: r.succeeded,
              unchanged: r.unchanged_runs,
              failed: r.failed,
              running: r.running,
            },
            records_processed: r.parsed,
            inserted: r.inserted,
            updated: r.updated,
            unchanged: r.unchanged,
            quarantined: r.quarantined,
            soft_deleted: r.soft_deleted,
            drift_events: driftBySource.get(r.source) ?? 0,
            duration_ms: { avg: r.duration_avg, p50: r.duration_p50, p95: r.duration_p95, max: r.duration_max },
            last_success: success ? { run_id: success.run_id, finished_at: epochIso(success.finished_at) } : null,
            last_failure: failure
              ? { run_id: failure.run_id, finished_at: epochIso(failure.finished_at), error: failure.error }
              : null,
          };
        }),
        totals: {
          records: { live: sum(s.records.map((r) => r.live)), deleted: sum(s.records.map((r) => r.deleted)) },
          records_by_source: s.records,
          entities: { total: sum(s.entities.map((e) => e.count)), by_kind: s.entities },
          quarantine: { total: sum(s.quarantine.map((q) => q.count)), by_source: s.quarantine },
          drift_events: { total: sum(s.drift.map((d) => d.count)), by_source: s.drift },
          runs: { total: sum(s.runs.map((r) => r.count)), by_status: s.runs },
        },
        ...meta(res),
      });
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/metrics',
      operationId: 'metrics',
      costly: () => true,
      tag: 'system',
      summary:
        'Prometheus metrics: pipeline totals computed from the database at scrape time, and API request durations',
      ok: { status: 200, description: 'Prometheus text exposition format', contentType: 'text/plain' },
      errors: [503],
    },
    async (_input, _req, res) => {
      await metrics.refresh();
      const text = await metrics.registry.metrics();
      res.type(metrics.registry.contentType).send(text);
    },
  );

  for (const action of ['pause', 'unpause'] as const) {
    routes.add(
      {
        method: 'post',
        path: `/schedules/:scheduleId/${action}`,
        operationId: `${action}Schedule`,
        tag: 'schedules',
        summary:
          action === 'pause' ? 'Pause the ingest schedule (runs in progress go on)' : 'Unpause the ingest schedule',
        description: `Only the ingest schedule (${scheduleId}). The note is kept with the schedule and shown in the Temporal Web UI. Needs X-API-Key.`,
        params: scheduleParams(scheduleId),
        body: ScheduleNoteBody,
        auth: true,
        ok: { status: 200, description: 'The schedule state afterwards', schema: ScheduleResponse },
        errors: [404, 503],
      },
      async ({ params, body }, _req, res) => {
        if (params.scheduleId !== scheduleId)
          throw notFound(`no schedule ${params.scheduleId} here: only ${scheduleId} can be paused and unpaused`);
        const note = body.note ?? `${action}d through the API`;
        await temporal.call(`${action} schedule`, (client) => client.schedule.getHandle(scheduleId)[action](note), {
          timeoutMs: 5000,
          missing: `schedule ${scheduleId} does not exist`,
        });
        send(res, ScheduleResponse, { data: await describeSchedule(5000), ...meta(res) });
      },
    );
  }

  let document: object | undefined;
  routes.add(
    {
      method: 'get',
      path: '/openapi.json',
      operationId: 'openapi',
      tag: 'system',
      summary: 'This document (OpenAPI 3.1), generated from the zod schemas the server validates with',
      ok: { status: 200, description: 'OpenAPI 3.1 document', contentType: 'application/json' },
    },
    (_input, _req, res) => {
      document ??= openApiDocument(routes.operations, {
        title: 'temporal-etl API',
        version: '1.0.0',
        description:
          'Reads of the ETL results (records, entities, runs, statistics, metrics) and a few operator actions. Errors are RFC 9457 problem documents; write endpoints need X-API-Key.',
      });
      res.json(document);
    },
  );
}

/** make dev's children and their restarts, from the state file its supervisor writes; null when not under make dev. */
function supervised(stateFile: string | undefined): z.output<typeof Health>['processes'] {
  if (!stateFile) return null;
  try {
    return SupervisedProcesses.parse(JSON.parse(fs.readFileSync(stateFile, 'utf8')));
  } catch {
    return null;
  }
}
