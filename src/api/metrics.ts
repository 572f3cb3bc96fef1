// GET /metrics: Prometheus text from prom-client. Pipeline metrics are computed at scrape time from a few
// aggregate queries over run_source, run, drift_event and run_anomaly (src/db/queries/stats.ts), so any number of API
// replicas report the same values and nothing is lost on restart; HTTP request durations are observed in
// process, labelled by route template. Reprocess dry runs are left out of every pipeline metric: they changed nothing.
import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { Pool } from 'pg';
import { metricsSnapshot, type DurationHistogram } from '../db/queries.ts';

/** Seconds; ingest runs take seconds to tens of minutes. */
const RUN_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200] as const;
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * A histogram whose buckets come from the database as a whole (cumulative counts per bound) rather than
 * from observe() calls: prom-client's Histogram can only be fed observation by observation, which would
 * mean reading every run row on every scrape. Rendered by the same registry, in the standard format.
 */
class SnapshotHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly labelNames: string[];
  private series: { labels: Record<string, string>; histogram: DurationHistogram }[] = [];
  constructor(name: string, help: string, labelNames: string[]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }
  set(series: { labels: Record<string, string>; histogram: DurationHistogram }[]): void {
    this.series = series;
  }
  reset(): void {
    this.series = [];
  }
  async get() {
    const values = this.series.flatMap(({ labels, histogram }) => [
      ...RUN_BUCKETS.map((le, i) => ({
        metricName: `${this.name}_bucket`,
        labels: { ...labels, le },
        value: histogram.buckets[i] ?? 0,
      })),
      { metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: histogram.count },
      { metricName: `${this.name}_sum`, labels, value: histogram.sum },
      { metricName: `${this.name}_count`, labels, value: histogram.count },
    ]);
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

export interface ApiMetrics {
  registry: Registry;
  /** Observes every response's duration under its route template. */
  middleware: RequestHandler;
  /** Re-reads the pipeline metrics from the database; then registry.metrics() renders them. */
  refresh(): Promise<void>;
}

export function createMetrics(pool: Pool): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const http = new Histogram({
    name: 'etl_api_http_request_duration_seconds',
    help: 'API request duration by method, route template and status',
    labelNames: ['method', 'route', 'status'],
    buckets: HTTP_BUCKETS,
    registers: [registry],
  });
  const counter = (name: string, help: string, labelNames: string[]) =>
    new Counter({ name, help, labelNames, registers: [registry] });
  const gauge = (name: string, help: string, labelNames: string[]) =>
    new Gauge({ name, help, labelNames, registers: [registry] });
  const records = counter(
    'etl_records_total',
    'Records per source and outcome, summed over every run (run_source counts)',
    ['source', 'outcome'],
  );
  const sourceRuns = counter('etl_source_runs_total', 'Source runs per source and status', ['source', 'status']);
  const fetchedBytes = counter('etl_fetched_bytes_total', 'Payload bytes fetched per source', ['source']);
  const deleteGuard = counter('etl_delete_guard_trips_total', 'Source runs whose delete guard held back soft deletes', [
    'source',
  ]);
  const unchangedSkips = counter(
    'etl_unchanged_skips_total',
    'Source runs skipped after the fetch because the payload was unchanged',
    ['source'],
  );
  const drift = counter('etl_drift_events_total', 'Schema drift events per source, change and action', [
    'source',
    'change',
    'action',
  ]);
  const runs = counter('etl_runs_total', 'Ingest runs per status', ['status']);
  const anomalies = counter(
    'etl_run_anomalies_total',
    'Anomalies found in finished runs against recent history, per rule and source (empty: the run as a whole)',
    ['rule', 'source'],
  );
  const quarantined = gauge('etl_quarantined_records', "Records quarantined by each source's latest run", ['source']);
  const fieldIssues = gauge(
    'etl_field_issues',
    "Optional-field values each source's latest run stored as null, kept with their reasons in field_issue",
    ['source'],
  );
  const warnings = gauge(
    'etl_source_warnings',
    "Warnings of each source's latest run: a payload with no records, zone-less times read as UTC",
    ['source'],
  );
  const lastSuccess = gauge(
    'etl_source_last_success_timestamp_seconds',
    "Unix time of each source's latest succeeded or unchanged run",
    ['source'],
  );
  const sourceDuration = new SnapshotHistogram(
    'etl_source_run_duration_seconds',
    'Duration of finished source runs (fetch to entity linking)',
    ['source'],
  );
  const runDuration = new SnapshotHistogram('etl_run_duration_seconds', 'Duration of finished ingest runs', []);
  // prom-client renders any metric object with name, help, type and get(); its typings only name its own classes
  registry.registerMetric(sourceDuration as unknown as Metric);
  registry.registerMetric(runDuration as unknown as Metric);

  const OUTCOMES = [
    'inserted',
    'updated',
    'unchanged',
    'quarantined',
    'soft_deleted',
    'restored',
    'duplicates',
    'parsed',
  ] as const;
  return {
    registry,
    middleware(req, res, next) {
      const end = http.startTimer();
      res.once('finish', () =>
        end({
          method: req.method,
          route: (res.locals.route as string | undefined) ?? 'unmatched',
          status: String(res.statusCode),
        }),
      );
      next();
    },
    async refresh() {
      const snapshot = await metricsSnapshot(pool, RUN_BUCKETS);
      // counters are set from the database's totals: reset, then add the current value
      for (const metric of [records, sourceRuns, fetchedBytes, deleteGuard, unchangedSkips, drift, runs, anomalies])
        metric.reset();
      quarantined.reset();
      fieldIssues.reset();
      warnings.reset();
      lastSuccess.reset();
      for (const s of snapshot.sources) {
        const source = s.source;
        for (const outcome of OUTCOMES) records.inc({ source, outcome }, s[outcome]);
        sourceRuns.inc({ source, status: 'succeeded' }, s.runs_succeeded);
        sourceRuns.inc({ source, status: 'unchanged' }, s.runs_unchanged);
        sourceRuns.inc({ source, status: 'superseded' }, s.runs_superseded);
        sourceRuns.inc({ source, status: 'failed' }, s.runs_failed);
        sourceRuns.inc({ source, status: 'running' }, s.runs_running);
        fetchedBytes.inc({ source }, s.fetched_bytes);
        deleteGuard.inc({ source }, s.delete_guard_trips);
        unchangedSkips.inc({ source }, s.runs_unchanged);
        quarantined.set({ source }, s.last_quarantined);
        fieldIssues.set({ source }, s.last_field_issues);
        warnings.set({ source }, s.last_warnings);
        if (s.last_success !== null) lastSuccess.set({ source }, s.last_success);
      }
      for (const d of snapshot.drift) drift.inc({ source: d.source, change: d.change, action: d.action }, d.count);
      for (const r of snapshot.runs) runs.inc({ status: r.status }, r.count);
      for (const a of snapshot.anomalies) anomalies.inc({ rule: a.rule, source: a.source }, a.count);
      sourceDuration.set(snapshot.sources.map((s) => ({ labels: { source: s.source }, histogram: s.duration })));
      runDuration.set([{ labels: {}, histogram: snapshot.runDuration }]);
    },
  };
}
