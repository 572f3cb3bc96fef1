// `make dev` as a log shipper sees it: scripts/dev.ts with its output piped (not a terminal), on free ports
// and a data directory of its own. Its whole session must be JSON lines; the API's and the worker's
// Prometheus endpoints must scrape; a partial run must be found by the real CLI through EtlOutcome.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { promisify } from 'node:util';
import { projectRoot } from '../../src/settings.ts';
import { freePort } from '../setup.ts';
import { fetchJson, temporalCli } from '../helpers.ts';

const run = promisify(execFile);

interface LogLine {
  msg?: string;
  [key: string]: unknown;
}

describe('make dev (output piped, as a log shipper reads it)', () => {
  const dataDir = path.join(projectRoot, '.data', `make-dev-test-${process.pid}`);
  let dev: ChildProcess | undefined;
  const lines: { stream: string; text: string }[] = [];

  after(async function () {
    this.timeout(60_000);
    if (dev && dev.exitCode === null) {
      // SIGTERM first: the supervisor's children run in process groups of their own and outlive a SIGKILLed supervisor
      const exited = once(dev, 'exit');
      dev.kill('SIGTERM');
      const stopped = await Promise.race([
        exited.then(() => true),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 45_000).unref()),
      ]);
      if (!stopped) dev.kill('SIGKILL');
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('logs only JSON lines, serves both metrics endpoints, and finds a partial run by EtlOutcome', async function () {
    this.timeout(480_000);
    const ports = {
      api: await freePort(),
      sources: await freePort(),
      pg: await freePort(),
      temporal: await freePort(),
      ui: await freePort(),
      workerMetrics: await freePort(),
    };
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const inherited of [
      'DATABASE_URL',
      'TEMPORAL_ADDRESS',
      'TEMPORAL_NAMESPACE',
      'ETL_SOURCE_SERVER_URL',
      'ETL_SOURCES_FILE',
    ])
      delete env[inherited];
    Object.assign(env, {
      TEMPORAL_CLI: temporalCli(),
      ETL_DATA_DIR: dataDir,
      PORT: String(ports.api),
      ETL_SOURCE_SERVER_PORT: String(ports.sources),
      ETL_EMBEDDED_PG_PORT: String(ports.pg),
      ETL_DEV_TEMPORAL_PORT: String(ports.temporal),
      TEMPORAL_UI_URL: `http://127.0.0.1:${ports.ui}`,
      ETL_WORKER_METRICS_ADDRESS: `127.0.0.1:${ports.workerMetrics}`,
      LOG_LEVEL: 'info',
    });
    dev = spawn(process.execPath, [path.join(projectRoot, 'scripts', 'dev.ts')], {
      cwd: projectRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = once(dev, 'exit');
    for (const stream of ['stdout', 'stderr'] as const) {
      readline
        .createInterface({ input: dev[stream]!, crlfDelay: Infinity })
        .on('line', (text) => lines.push({ stream, text }));
    }
    const parsed = (): LogLine[] =>
      lines.flatMap(({ text }) => {
        try {
          return [JSON.parse(text) as LogLine];
        } catch {
          return [];
        }
      });
    const api = `http://127.0.0.1:${ports.api}`;
    const temporal = (...args: string[]) => run(temporalCli(), [...args, '--address', `127.0.0.1:${ports.temporal}`]);
    // the schedule skips a trigger while a run is in progress, and a run closes its row before its workflow ends
    const idle = () =>
      until(
        'no ingest workflow is running',
        async () => {
          const { stdout } = await temporal(
            'workflow',
            'count',
            '--query',
            "ExecutionStatus='Running'",
            '--output',
            'json',
          );
          return Number((JSON.parse(stdout || '{}') as { count?: number | string }).count ?? 0) === 0
            ? true
            : undefined;
        },
        60_000,
      );
    // a schedule names its workflows by the second they start (etl-ingest-2026-12-02T05:35:53Z): a trigger in
    // the same second as the run before would reuse that run's workflow id, and so its run row
    const trigger = async (after: RunJson) => {
      const startedSecond = Date.parse(after.workflow_id.replace(/^etl-ingest-/, ''));
      await until('a second has begun since the previous run started', () => Date.now() >= startedSecond + 1000, 5_000);
      await idle();
      await temporal('schedule', 'trigger', '--schedule-id', 'etl-ingest');
    };

    await until(
      'make dev says it is up',
      () => parsed().some((l) => l.msg?.startsWith('make dev is up')),
      120_000,
      () => dev!.exitCode !== null,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; its output:\n${lines.map((l) => l.text).join('\n')}`);
    });
    const first = await until('the first run finishes', () => finishedRun(api, 1), 120_000);
    assert.equal(first.status, 'succeeded', JSON.stringify(first));

    // the API's application metrics, computed from the database
    const appMetrics = await (await fetch(`${api}/metrics`)).text();
    assert.match(appMetrics, /^etl_records_total\{source="coinpaprika",outcome="inserted"\} [1-9]/m);
    assert.match(appMetrics, /^etl_run_duration_seconds_count 1$/m);
    assert.match(
      appMetrics,
      /^etl_api_http_request_duration_seconds_count\{method="GET",route="\/runs\/:id",status="200"\} [1-9]/m,
    );
    // the worker's Temporal SDK metrics (core's Prometheus exporter)
    // the run row closes before its workflow task completes: wait for the completion to reach the exporter
    const completed = /^temporal_workflow_completed(_total)?\{[^}]*workflow_type="ingest"[^}]*\} [1-9]/m;
    const sdkMetrics = await until(
      'the worker exports the completed workflow',
      async () => {
        const text = await (await fetch(`http://127.0.0.1:${ports.workerMetrics}/metrics`)).text();
        return completed.test(text) ? text : undefined;
      },
      30_000,
    );
    assert.match(sdkMetrics, /^temporal_activity_execution_latency_count\{activity_type="fetchSource",[^}]*\} [1-9]/m);

    // one source answers 404 from now on: the next run is partial and the CLI finds it by its search attribute
    const faulted = await fetch(`http://127.0.0.1:${ports.sources}/_control/faults`, {
      method: 'PUT',
      body: JSON.stringify([{ path: '/files/news.rss', status: 404 }]),
    });
    assert.equal(faulted.status, 200);
    await trigger(first);
    const second = await until('the triggered run finishes', () => finishedRun(api, 2), 120_000);
    assert.equal(second.status, 'partial', JSON.stringify(second));
    const listed = await until(
      'the visibility store has the outcome',
      async () => {
        const { stdout } = await temporal('workflow', 'list', '--query', "EtlOutcome='partial'", '--output', 'json');
        const ids = (JSON.parse(stdout || '[]') as { execution: { workflowId: string } }[]).map(
          (w) => w.execution.workflowId,
        );
        return ids.length ? ids : undefined;
      },
      30_000,
    );
    assert.deepEqual(listed, [second.workflow_id]);

    // the worker dies (kill -9) in the middle of a run: make dev starts it again and the run completes
    const sourceControl = `http://127.0.0.1:${ports.sources}/_control`;
    await fetch(`${sourceControl}/faults`, {
      method: 'PUT',
      body: JSON.stringify([{ path: '/coingecko', latencyMs: 3000 }]),
    });
    await fetch(`${sourceControl}/requests`, { method: 'DELETE' });
    const health = async () =>
      (await fetchJson(`${api}/health`)).body as {
        processes: { name: string; pid: number | null; restarts: number; last_exit: string | null }[] | null;
      };
    const worker = (await health()).processes?.find((p) => p.name === 'worker');
    assert.ok(worker?.pid, `/health shows make dev's processes: ${JSON.stringify((await health()).processes)}`);
    await trigger(second);
    await until(
      'the worker is fetching CoinGecko',
      async () =>
        ((await (await fetch(`${sourceControl}/requests`)).json()) as { path: string }[]).some((r) =>
          r.path.startsWith('/coingecko'),
        ),
      60_000,
    );
    process.kill(worker.pid, 'SIGKILL');
    const restarted = await until(
      'make dev restarts the worker',
      async () => (await health()).processes?.find((p) => p.name === 'worker' && p.restarts === 1 && p.pid),
      60_000,
    );
    assert.equal(restarted.last_exit, 'killed by SIGKILL');
    const third = await until('the interrupted run finishes', () => finishedRun(api, 3), 180_000);
    assert.notEqual(third.status, 'failed', JSON.stringify(third));
    const coingecko = (
      (await fetchJson(`${api}/runs/3`)).body.data.sources as {
        source: string;
        status: string;
        attempts: Record<string, number>;
      }[]
    ).find((s) => s.source === 'coingecko')!;
    // the bytes have not changed since the first run: unchanged is its success; the fetch ran again after the kill
    assert.equal(coingecko.status, 'unchanged', JSON.stringify(coingecko));
    assert.ok(
      coingecko.attempts.fetchSource! >= 2,
      `the killed fetch was retried: ${JSON.stringify(coingecko.attempts)}`,
    );
    assert.ok(
      logsOf(lines).some((l) => l.msg === 'worker restarted'),
      'the restart is logged',
    );

    dev.kill('SIGTERM');
    const [code] = await exited;
    assert.equal(code, 0, 'make dev stops cleanly on SIGTERM');

    const notJson = lines.filter(({ text }) => text.trim() && !isJsonObject(text));
    assert.deepEqual(notJson, [], 'every output line is a JSON object');
    const logs = parsed();
    const activityLine = logs.find((l) => l.msg === 'normalize done' && l.sourceId === 'coinpaprika');
    assert.ok(activityLine, 'activities log when a stage is done');
    for (const key of ['workflowId', 'workflowRunId', 'activityType', 'attempt', 'sourceId', 'etlRunId'])
      assert.ok(key in activityLine, `activity lines carry ${key}: ${JSON.stringify(activityLine)}`);
    assert.ok(
      (activityLine.durationMs as number) >= 0 && (activityLine.rssMb as number) > 0,
      `a done line has the stage's duration and the worker's RSS: ${JSON.stringify(activityLine)}`,
    );
    const requestLine = logs.find((l) => (l.req as { url?: string } | undefined)?.url?.startsWith('/metrics'));
    assert.ok(
      requestLine && typeof (requestLine.req as { id?: unknown }).id === 'string',
      `API lines carry the request id: ${JSON.stringify(requestLine)}`,
    );
    assert.ok(
      logs.some((l) => l.service === 'temporal'),
      "the Temporal dev server's own lines are in the stream too",
    );
  });
});

function logsOf(lines: { text: string }[]): LogLine[] {
  return lines.flatMap(({ text }) => {
    try {
      return [JSON.parse(text) as LogLine];
    } catch {
      return [];
    }
  });
}

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

interface RunJson {
  id: number;
  status: string;
  workflow_id: string;
}

async function finishedRun(api: string, id: number): Promise<RunJson | undefined> {
  const res = await fetchJson(`${api}/runs/${id}`).catch(() => undefined);
  const found = res?.status === 200 ? (res.body.data as RunJson) : undefined;
  return found && found.status !== 'running' ? found : undefined;
}

async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  gaveUp: () => boolean = () => false,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (gaveUp() || Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
