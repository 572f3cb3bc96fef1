// `make bench`: the whole pipeline on a million rows, with the physical baseline in the same run.
// A throwaway embedded PostgreSQL, a Temporal dev server, the local source server serving a generated CSV,
// and the real worker and API processes. It measures a first load, an unchanged re-run (304 and same
// bytes), a re-run with 10 % of the rows changed, the worker's peak RSS at 100k and 1M rows, `psql \copy`
// of the same file into a table with the record table's indexes, the peer (dlt, merging on the key, with its
// default and its COPY-based loader, first load and unchanged re-run), a first load on two worker processes,
// and GET /data under load (autocannon) beside a bare node:http + pg handler serving the same page.
// Then the time series: daily snapshots of many assets through the workflow (BENCH_SERIES_DAYS of
// BENCH_SERIES_ASSETS, default 365 × 10,000), a history file of hourly candles (100 assets × BENCH_HISTORY_HOURS,
// default 10,000), the quotes API on them, and the sizes of the series before and after a rollup.
// Figures go to bench/results/<date>-<rows>.json and (for 1M rows) the README table; the last line is the BENCH summary.
// BENCH_ROWS=200000 make bench gives a quicker look (the 100k figure becomes a tenth of it);
// BENCH_SCALE=1 BENCH_ROWS=10000000 make bench: only the first load, on one and on two worker processes;
// BENCH_PROFILE=1 writes a V8 CPU profile of each worker process to .data/bench-profiles/.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import autocannon from 'autocannon';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { promisify } from 'node:util';
import type { RunSummary } from '../src/activities/index.ts';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.ts';
import { migrate, openDatabase } from '../src/db/orm.ts';
import { createLogger } from '../src/logger.ts';
import { projectRoot } from '../src/settings.ts';
import { createSourceServer } from '../src/sourceserver/server.ts';
import { ETL_OUTCOME, ETL_SOURCES } from '../src/workflows/observability.ts';
import { freePort } from '../scripts/lib/free-port.ts';
import { writeAssetsCsv } from './generate.ts';
import { writeDailySnapshot, writeHistory } from './series.ts';
import { partitionNames, quoteSizes, rollUpExpired } from '../src/db/quotes.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
/** BENCH_SCALE=1: only the first load, on one worker process and then on two (for a run larger than 1M rows). */
const SCALE = process.env.BENCH_SCALE === '1';
const SERIES_DAYS = Number(process.env.BENCH_SERIES_DAYS ?? 365);
const SERIES_ASSETS = Number(process.env.BENCH_SERIES_ASSETS ?? 10_000);
const HISTORY_ASSETS = 100;
const HISTORY_HOURS = Number(process.env.BENCH_HISTORY_HOURS ?? 10_000);
const SMALL_ROWS = Math.round(ROWS / 10);
const DIR = path.join(projectRoot, '.data', 'bench');
const FILES = path.join(DIR, 'files');
const CSV = path.join(FILES, 'assets.csv');
const QUEUE = 'bench';
const SOURCE_ID = 'bench-assets';
/** Tables holding data; the rest (run, run_source, raw_payload, source_state, ...) are per-run bookkeeping. */
const DATA_TABLES = ['record', 'stage_record', 'raw_page', 'quarantine', 'entity', 'entity_link', 'quote_daily'];
/** The time series' raw partitions (quote_y2026m11, ...) hold data too. */
const isDataTable = (table: string) => DATA_TABLES.includes(table) || /^quote_y\d{4}m\d{2}$/.test(table);
/** Concurrent clients of the latency and throughput figures: one per core, the API's and PostgreSQL's. */
const CONNECTIONS = 2;
const log = createLogger('bench', 'info');
const run = promisify(execFile);

const temporalCli = required('TEMPORAL_CLI');
const psql = required('PSQL');
const dltPython = required('DLT_PYTHON');

fs.rmSync(DIR, { recursive: true, force: true });
fs.mkdirSync(FILES, { recursive: true });
const pg = await startEmbeddedPostgres({
  dataDir: path.join(DIR, 'postgres'),
  port: await freePort(),
  persistent: false,
  log: log.child({ service: 'postgres' }),
});
const db = await openDatabase(pg.url);
await migrate(db);
const pgVersion = (await db.pool.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
const env = await TestWorkflowEnvironment.createLocal({
  server: {
    executable: { type: 'existing-path', path: temporalCli },
    log: { format: 'json', level: 'error' },
    searchAttributes: [ETL_SOURCES, ETL_OUTCOME],
  },
});
const sourceServer = createSourceServer({ root: FILES });
const sourceUrl = await sourceServer.listen(0);
const sourcesFile = path.join(DIR, 'sources.yaml');
fs.writeFileSync(
  sourcesFile,
  // the default 512 MiB body cap stops a file of about 3.5M rows: the cap grows with the rows (~140 bytes each)
  `sources:\n  - id: ${SOURCE_ID}\n    kind: csv\n    url: ${sourceUrl}/files/assets.csv\n    delete_policy: snapshot\n    http: { max_bytes: ${Math.max(512 * 2 ** 20, ROWS * 256)} }\n`,
);
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

try {
  if (SCALE) await scaleRun();
  else await fullRun();
} finally {
  await sourceServer.close();
  await env.teardown();
  await db.close();
  await pg.stop();
}

/** The whole benchmark: its figures to bench/results, the README table (at 1M rows) and the BENCH line. */
async function fullRun() {
  const figures = await benchmark();
  const stamp = new Date().toISOString();
  const result = { date: stamp, rows: ROWS, machine: machine(), ...figures };
  fs.mkdirSync(path.join(projectRoot, 'bench', 'results'), { recursive: true });
  const file = path.join(projectRoot, 'bench', 'results', `${stamp.slice(0, 10)}-${ROWS}.json`);
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  if (ROWS === 1_000_000) updateReadme(result);
  console.log(`\nfigures: ${path.relative(projectRoot, file)}`);
  console.log(benchLine(figures));
}

/** The first load of ROWS rows on one worker process, then again on two: records/s and each worker's peak RSS. */
async function scaleRun() {
  step(`generating ${ROWS.toLocaleString('en')} rows`);
  const bytes = await writeAssetsCsv(CSV, ROWS);
  const one = await ingest('first load, one worker');
  await db.pool.query(
    `TRUNCATE run, run_source, source_state, raw_payload, raw_page, record, stage_record, quarantine, entity, entity_link, run_anomaly, drift_event, quote, quote_daily RESTART IDENTITY CASCADE`,
  );
  const two = await ingest('first load, two workers', 2);
  const stamp = new Date().toISOString();
  const result = { date: stamp, rows: ROWS, machine: machine(), file: { rows: ROWS, bytes }, one, two };
  const file = path.join(projectRoot, 'bench', 'results', `${stamp.slice(0, 10)}-${ROWS}-scale.json`);
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nfigures: ${path.relative(projectRoot, file)}`);
  console.log(
    `SCALE rows=${ROWS} one_worker_rps=${Math.round(ROWS / one.seconds)} two_worker_rps=${Math.round(ROWS / two.seconds)} two_worker_speedup=${round(one.seconds / two.seconds, 2)} rss_mb_one=${one.workerPeakRssMb} rss_mb_two=${two.workerPeakRssMbEach.join('/')}`,
  );
}

async function benchmark() {
  // --- 100k: the worker's memory on a tenth of the data -------------------------------------------------
  step(`generating ${SMALL_ROWS.toLocaleString('en')} rows`);
  await writeAssetsCsv(CSV, SMALL_ROWS);
  const small = await ingest('small');
  await db.pool.query(
    `TRUNCATE run, run_source, source_state, raw_payload, raw_page, record, stage_record, quarantine, entity, entity_link, run_anomaly, drift_event, quote, quote_daily RESTART IDENTITY CASCADE`,
  );

  // --- first load of the full file ----------------------------------------------------------------------
  step(`generating ${ROWS.toLocaleString('en')} rows`);
  const bytes = await writeAssetsCsv(CSV, ROWS);
  const first = await ingest('first load');

  // --- unchanged: the source answers 304, then the same bytes again without validators ------------------
  const notModified = await ingest('unchanged (304)');
  await db.pool.query('UPDATE source_state SET etag = NULL, last_modified = NULL WHERE source_id = $1', [SOURCE_ID]);
  const sameBytes = await ingest('unchanged (same bytes)');

  // --- 10 % of the assets repriced -------------------------------------------------------------------------
  await writeAssetsCsv(CSV, ROWS, 10);
  const changed = await ingest('10 % changed');
  await writeAssetsCsv(CSV, ROWS); // back to the first file, for psql \copy

  const copy = await psqlCopy();
  const dlt = await dltPeer();

  // --- the first load again on two worker processes -------------------------------------------------------
  await db.pool.query(
    `TRUNCATE run, run_source, source_state, raw_payload, raw_page, record, stage_record, quarantine, entity, entity_link, run_anomaly, drift_event, quote, quote_daily RESTART IDENTITY CASCADE`,
  );
  const twoWorkers = await ingest('first load, two workers', 2);

  const api = await apiLoad();
  const series = await seriesBenchmark();

  return {
    file: { rows: ROWS, bytes },
    small: { rows: SMALL_ROWS, ...small },
    firstLoad: { ...first, recordsPerSecond: Math.round(ROWS / first.seconds) },
    unchanged304: notModified,
    unchangedSameBytes: sameBytes,
    changed10: changed,
    psqlCopy: copy,
    dlt,
    twoWorkers: { ...twoWorkers, recordsPerSecond: Math.round(ROWS / twoWorkers.seconds) },
    api,
    series,
  };
}

/**
 * The time series: SERIES_DAYS daily snapshots of SERIES_ASSETS assets, one workflow run each (one worker
 * process for all of them), an unchanged re-run, a history file of hourly candles, then the quotes API and the
 * sizes of the series, before and after rolling up everything but the last two months.
 */
async function seriesBenchmark() {
  await db.pool.query(
    `TRUNCATE run, run_source, source_state, raw_payload, raw_page, record, stage_record, quarantine, entity, entity_link, run_anomaly, drift_event, quote, quote_daily, quote_horizon RESTART IDENTITY CASCADE`,
  );
  for (const name of await partitionNames(db.pool)) await db.pool.query(`DROP TABLE ${name}`);
  const daily = path.join(FILES, 'daily.csv');
  const history = path.join(FILES, 'history.csv');
  const file = path.join(DIR, 'series.yaml');
  fs.writeFileSync(
    file,
    `sources:\n  - id: daily\n    kind: csv\n    url: ${daily}\n  - id: history\n    kind: csv\n    url: ${history}\n    series: history\n`,
  );
  const firstDay = new Date(Date.UTC(2025, 10, 1));
  const worker = await startWorker(file);
  const runOne = async (sourceId: string) => {
    const started = performance.now();
    const handle = await env.client.workflow.start('ingest', {
      taskQueue: QUEUE,
      workflowId: `bench-series-${sourceId}-${Date.now()}`,
      args: [{ sourceIds: [sourceId] }],
    });
    const result = (await handle.result()) as RunSummary;
    if (result.status !== 'succeeded')
      throw new Error(`${sourceId}: the run ended ${result.status}: ${JSON.stringify(result)}`);
    return { seconds: (performance.now() - started) / 1000, status: result.sources[0]!.status };
  };
  const quoteWrites = async () => {
    const { rows } = await db.pool.query<{ n: string }>(
      `SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) AS n FROM pg_stat_user_tables WHERE relname LIKE 'quote%'`,
    );
    return Number(rows[0]!.n);
  };
  let snapshotSeconds = 0;
  try {
    step(`${SERIES_DAYS} daily snapshots of ${SERIES_ASSETS.toLocaleString('en')} assets`);
    for (let day = 0; day < SERIES_DAYS; day++) {
      await writeDailySnapshot(daily, SERIES_ASSETS, firstDay, day);
      snapshotSeconds += (await runOne('daily')).seconds;
      if ((day + 1) % 50 === 0) log.info({ day: day + 1, seconds: round(snapshotSeconds, 1) }, 'daily snapshots');
    }
    step('the last snapshot again, unchanged');
    await worker.stop(); // table statistics are flushed when the worker's sessions end
    const writesBefore = await quoteWrites();
    const rerunWorker = await startWorker(file);
    const unchanged = await runOne('daily');
    await rerunWorker.stop();
    const rerunRowsWritten = (await quoteWrites()) - writesBefore;

    step(`a history file: ${HISTORY_ASSETS} assets × ${HISTORY_HOURS.toLocaleString('en')} hourly candles`);
    const historyBytes = await writeHistory(
      history,
      HISTORY_ASSETS,
      HISTORY_HOURS,
      new Date(firstDay.getTime() + SERIES_DAYS * 86_400_000),
    );
    const historyWorker = await startWorker(file);
    const historyRun = await runOne('history');
    const historyPeakRssMb = historyWorker.peakRssMb();
    await historyWorker.stop();

    const observations = SERIES_DAYS * SERIES_ASSETS;
    const before = await quoteSizes(db.pool);
    const api = await withApi(async (base) => {
      const { rows } = await db.pool.query<{ daily: string; hist: string }>(
        `SELECT (SELECT l.entity_id FROM entity_link l JOIN record r ON r.id = l.record_id WHERE r.source_id = 'daily' ORDER BY r.id OFFSET ${Math.floor(SERIES_ASSETS / 2)} LIMIT 1) AS daily,
                (SELECT l.entity_id FROM entity_link l JOIN record r ON r.id = l.record_id WHERE r.source_id = 'history' ORDER BY r.id OFFSET ${HISTORY_ASSETS / 2} LIMIT 1) AS hist`,
      );
      const year = `from=${firstDay.toISOString()}&to=${new Date(firstDay.getTime() + 365 * 86_400_000).toISOString()}`;
      const dailyPath = `/entities/${rows[0]!.daily}/quotes?interval=1d&${year}`;
      // page 100 of 100 observations (fewer with a shorter history): the cursor after 9,900 of the history entity's observations
      let cursor = '';
      for (let page = 1; page < Math.min(100, Math.floor(HISTORY_HOURS / 100)); page++) {
        const body = (await (
          await fetch(`${base}/entities/${rows[0]!.hist}/quotes?limit=100${cursor && `&cursor=${cursor}`}`)
        ).json()) as { next_cursor: string | null };
        if (!body.next_cursor) throw new Error(`the history entity has fewer than ${page * 100} observations`);
        cursor = body.next_cursor;
      }
      await load(base + dailyPath, 3, CONNECTIONS); // warm-up
      return {
        daily1d: { path: dailyPath, ...(await load(base + dailyPath, 10, CONNECTIONS)) },
        rawFirstPage: await load(`${base}/entities/${rows[0]!.hist}/quotes?limit=100`, 10, CONNECTIONS),
        rawPage100: await load(`${base}/entities/${rows[0]!.hist}/quotes?limit=100&cursor=${cursor}`, 10, CONNECTIONS),
        dailyPath,
      };
    });

    step('rolling up everything but the last two months');
    const newest = new Date(firstDay.getTime() + SERIES_DAYS * 86_400_000);
    const keepDays = Math.floor((Date.now() - newest.getTime()) / 86_400_000) + 60;
    const rollStarted = performance.now();
    const rolled = await rollUpExpired(db.pool, Math.max(1, keepDays));
    const rollupSeconds = (performance.now() - rollStarted) / 1000;
    const after = await quoteSizes(db.pool);
    const afterApi = await withApi(async (base) => {
      await load(base + api.dailyPath, 3, CONNECTIONS);
      return load(base + api.dailyPath, 10, CONNECTIONS);
    });
    const figures = {
      snapshots: {
        days: SERIES_DAYS,
        assets: SERIES_ASSETS,
        observations,
        seconds: round(snapshotSeconds, 2),
        observationsPerSecond: Math.round(observations / snapshotSeconds),
        secondsPerRun: round(snapshotSeconds / SERIES_DAYS, 2),
      },
      unchanged: { seconds: round(unchanged.seconds, 2), status: unchanged.status, quoteRowsWritten: rerunRowsWritten },
      history: {
        rows: HISTORY_ASSETS * HISTORY_HOURS,
        bytes: historyBytes,
        seconds: round(historyRun.seconds, 2),
        observationsPerSecond: Math.round((HISTORY_ASSETS * HISTORY_HOURS) / historyRun.seconds),
        workerPeakRssMb: historyPeakRssMb,
      },
      api: {
        daily1d: api.daily1d,
        rawFirstPage: api.rawFirstPage,
        rawPage100: api.rawPage100,
        daily1dAfterRollup: afterApi,
      },
      sizes: {
        before: sizesPerMillion(before),
        after: sizesPerMillion(after),
        rollup: { seconds: round(rollupSeconds, 2), partitionsDropped: rolled.dropped.length, days: rolled.days },
      },
    };
    log.info(figures, 'time series');
    return figures;
  } finally {
    await worker.stop();
  }
}

function sizesPerMillion(s: Awaited<ReturnType<typeof quoteSizes>>) {
  const mb = (bytes: number) => round(bytes / 2 ** 20, 1);
  const perMillion = (bytes: number) => (s.rows ? round(bytes / 2 ** 20 / (s.rows / 1e6), 1) : null);
  return {
    rows: s.rows,
    dailyRows: s.dailyRows,
    partitions: s.partitions,
    tableMb: mb(s.tableBytes),
    indexMb: mb(s.indexBytes),
    dailyMb: mb(s.dailyBytes),
    tableMbPerMillion: perMillion(s.tableBytes),
    indexMbPerMillion: perMillion(s.indexBytes),
  };
}

interface IngestFigures {
  seconds: number;
  status: string;
  /** Rows inserted, updated or deleted in the data tables (pg_stat_user_tables), by table. */
  rowsWritten: Record<string, number>;
  rowsWrittenData: number;
  rowsWrittenBookkeeping: number;
  /** Wall time of each activity (first start to completion, all sources), from the workflow history. */
  stageSeconds: Record<string, number>;
  workerPeakRssMb: number;
  /** Each worker process's peak RSS (one entry unless the run had several). */
  workerPeakRssMbEach: number[];
  /** The worker's RSS when each activity finished (its `<activity> done` log line), by activity type. */
  stageRssMb: Record<string, number>;
}

/** One ingest run on fresh worker processes (their peak RSS is this run's alone), timed from start to result. */
async function ingest(label: string, workerCount = 1): Promise<IngestFigures> {
  step(label);
  const workers = await Promise.all(Array.from({ length: workerCount }, () => startWorker()));
  const before = await tableWrites();
  const started = performance.now();
  const handle = await env.client.workflow.start('ingest', {
    taskQueue: QUEUE,
    workflowId: `bench-${label.replace(/\W+/g, '-')}-${Date.now()}`,
    args: [{}],
  });
  const summary = (await handle.result()) as RunSummary;
  const seconds = (performance.now() - started) / 1000;
  const workerPeakRssMbEach = workers.map((w) => w.peakRssMb());
  const workerPeakRssMb = Math.max(...workerPeakRssMbEach);
  const stageRssMb: Record<string, number> = {};
  for (const w of workers)
    for (const [stage, mb] of Object.entries(w.stageRssMb())) stageRssMb[stage] = Math.max(stageRssMb[stage] ?? 0, mb);
  await Promise.all(workers.map((w) => w.stop())); // their database sessions end, so their table statistics are flushed
  const after = await tableWrites();
  const rowsWritten: Record<string, number> = Object.fromEntries(
    Object.entries(after)
      .map(([t, n]) => [t, n - (before[t] ?? 0)] as const)
      .filter(([, n]) => n !== 0),
  );
  const rowsWrittenData = Object.entries(rowsWritten).reduce((sum, [t, n]) => sum + (isDataTable(t) ? n : 0), 0);
  const rowsWrittenBookkeeping = Object.entries(rowsWritten).reduce((sum, [t, n]) => sum + (isDataTable(t) ? 0 : n), 0);
  const stageSeconds = await activitySeconds(handle.workflowId);
  const figures = {
    seconds: round(seconds, 2),
    status: summary.status,
    rowsWritten,
    rowsWrittenData,
    rowsWrittenBookkeeping,
    stageSeconds,
    workerPeakRssMb,
    workerPeakRssMbEach,
    stageRssMb,
  };
  log.info(figures, `${label}: ${figures.seconds} s`);
  if (summary.status !== 'succeeded')
    throw new Error(`${label}: the run ended ${summary.status}: ${JSON.stringify(summary)}`);
  // the generated files are clean: a quarantined row means the run measured something other than a load
  const { rows } = await db.pool.query<{ n: number }>(
    'SELECT coalesce(sum(quarantined), 0)::int AS n FROM run_source WHERE run_id = $1',
    [summary.runId],
  );
  if (rows[0]!.n > 0) throw new Error(`${label}: ${rows[0]!.n} rows of the generated file were quarantined`);
  return figures;
}

async function startWorker(sources = sourcesFile) {
  const profile = process.env.BENCH_PROFILE
    ? ['--cpu-prof', `--cpu-prof-dir=${path.join(projectRoot, '.data', 'bench-profiles')}`]
    : [];
  const child = spawn(process.execPath, [...profile, path.join(projectRoot, 'src', 'worker.ts')], {
    env: {
      ...process.env,
      DATABASE_URL: pg.url,
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_NAMESPACE: 'default',
      ETL_TASK_QUEUE: QUEUE,
      ETL_SOURCES_FILE: sources,
      ETL_WORKER_METRICS_ADDRESS: `127.0.0.1:${await freePort()}`,
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const lines: string[] = [];
  const stageRss: Record<string, number> = {};
  const ready = new Promise<void>((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      if (lines.push(line) > 200) lines.shift();
      if (line.includes('"worker started"')) resolve();
      const done = /"msg":"(\w+) done"/.exec(line);
      const rss = /"rssMb":(\d+)/.exec(line);
      if (done && rss) stageRss[done[1]!] = Math.max(stageRss[done[1]!] ?? 0, Number(rss[1]));
    });
    child.once('exit', (code) => reject(new Error(`worker exited (${code}):\n${lines.join('\n')}`)));
  });
  await ready;
  return {
    /** VmHWM: the process's resident set high-water mark since it started. */
    peakRssMb: () =>
      Math.round(Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024),
    stageRssMb: () => ({ ...stageRss }),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function tableWrites(): Promise<Record<string, number>> {
  const { rows } = await db.pool.query<{ relname: string; n: string }>(
    'SELECT relname, n_tup_ins + n_tup_upd + n_tup_del AS n FROM pg_stat_user_tables',
  );
  return Object.fromEntries(rows.map((r) => [r.relname, Number(r.n)]));
}

async function activitySeconds(workflowId: string): Promise<Record<string, number>> {
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = new Map<string, string>();
  const spans: Record<string, [number, number]> = {};
  const ms = (t: unknown) =>
    Number((t as { seconds: { toNumber(): number } }).seconds.toNumber()) * 1000 +
    Number((t as { nanos: number }).nanos) / 1e6;
  for (const e of history.events ?? []) {
    const id = String(e.eventId);
    if (e.activityTaskScheduledEventAttributes)
      scheduled.set(id, e.activityTaskScheduledEventAttributes.activityType!.name!);
    const done = e.activityTaskCompletedEventAttributes;
    if (e.activityTaskStartedEventAttributes) {
      const type = scheduled.get(String(e.activityTaskStartedEventAttributes.scheduledEventId))!;
      spans[type] ??= [Infinity, 0];
      const span = spans[type];
      span[0] = Math.min(span[0], ms(e.eventTime));
    }
    if (done) {
      const type = scheduled.get(String(done.scheduledEventId))!;
      spans[type] ??= [Infinity, 0];
      const span = spans[type];
      span[1] = Math.max(span[1], ms(e.eventTime));
    }
  }
  return Object.fromEntries(Object.entries(spans).map(([type, [from, to]]) => [type, round((to - from) / 1000, 2)]));
}

/** The physical reference: psql \copy of the same file into a table with the record table's indexes. */
async function psqlCopy() {
  step('psql \\copy into a table with the same indexes');
  await db.pool.query(`
    CREATE TABLE copy_reference (
      row_id bigserial PRIMARY KEY, source_id text NOT NULL DEFAULT '${SOURCE_ID}', id text NOT NULL, symbol text, name text,
      market_cap_rank int, current_price numeric, market_cap numeric, total_volume numeric, circulating_supply numeric,
      total_supply numeric, max_supply numeric, price_change_percentage_24h numeric, last_updated timestamptz,
      updated_at timestamptz NOT NULL DEFAULT now());
    -- record's indexes: unique (source, key), (source, id), (symbol, id), match key, (updated_at, id)
    CREATE UNIQUE INDEX ON copy_reference (source_id, id);
    CREATE INDEX ON copy_reference (source_id, row_id);
    CREATE INDEX ON copy_reference (symbol, row_id);
    CREATE INDEX ON copy_reference (id);
    CREATE INDEX ON copy_reference (updated_at, row_id);`);
  const columns =
    'id, symbol, name, market_cap_rank, current_price, market_cap, total_volume, circulating_supply, total_supply, max_supply, price_change_percentage_24h, last_updated';
  const started = performance.now();
  await run(psql, [
    pg.url,
    '-v',
    'ON_ERROR_STOP=1',
    '-c',
    `\\copy copy_reference (${columns}) FROM '${CSV}' WITH (FORMAT csv, HEADER true)`,
  ]);
  const seconds = (performance.now() - started) / 1000;
  const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM copy_reference');
  const { stdout: version } = await run(psql, ['--version']);
  const figures = {
    seconds: round(seconds, 2),
    rows: rows[0]!.n,
    recordsPerSecond: Math.round(rows[0]!.n / seconds),
    psql: version.trim(),
  };
  log.info(figures, `psql \\copy: ${figures.seconds} s`);
  await db.pool.query('DROP TABLE copy_reference');
  return figures;
}

/**
 * The peer: dlt loads the same file into the same PostgreSQL with merge on the key, once with its default
 * loader and once with its COPY-based `csv` loader; each a first load into an empty dataset and then the
 * same file again unchanged (bench/dlt/load_csv.py).
 */
async function dltPeer() {
  const { stdout: version } = await run(dltPython, ['-c', 'import dlt; print(dlt.__version__)']);
  const out: Record<string, { firstLoadSeconds: number; rerunSeconds: number; recordsPerSecond: number }> = {};
  for (const loader of ['default', 'csv']) {
    step(`dlt ${version.trim()}, ${loader} loader: first load and unchanged re-run`);
    const dataset = `dlt_${loader}`;
    const { stdout } = await run(
      dltPython,
      [path.join(projectRoot, 'bench', 'dlt', 'load_csv.py'), CSV, pg.url, loader, dataset, path.join(DIR, 'dlt')],
      // dlt looks for .dlt/ config in the working directory: none, every setting is an argument
      { cwd: DIR, maxBuffer: 64 * 2 ** 20, env: { ...process.env, RUNTIME__LOG_LEVEL: 'WARNING' } },
    );
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      first_load_seconds: number;
      rerun_seconds: number;
      rows: number;
    };
    if (result.rows !== ROWS) throw new Error(`dlt ${loader}: ${result.rows} rows loaded, not ${ROWS}`);
    out[loader] = {
      firstLoadSeconds: round(result.first_load_seconds, 2),
      rerunSeconds: round(result.rerun_seconds, 2),
      recordsPerSecond: Math.round(ROWS / result.first_load_seconds),
    };
    log.info(out[loader], `dlt ${loader}`);
    await db.pool.query(`DROP SCHEMA ${dataset} CASCADE; DROP SCHEMA IF EXISTS ${dataset}_staging CASCADE`);
  }
  return { version: version.trim(), loaders: out };
}

/** Runs `work` against a real API process on the benchmark's database. */
async function withApi<T>(work: (base: string) => Promise<T>): Promise<T> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(projectRoot, 'src', 'api', 'server.ts')], {
    // request logs off: at thousands of requests a second they would measure the log pipe
    env: {
      ...process.env,
      DATABASE_URL: pg.url,
      TEMPORAL_ADDRESS: env.address,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(child);
  const base = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      if ((await fetch(`${base}/health`).catch(() => undefined))?.ok) break;
      if (i > 120) throw new Error('the API did not start');
      await new Promise((r) => setTimeout(r, 250));
    }
    return await work(base);
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}

/** GET /data under load, against the real API process on the loaded million rows. */
async function apiLoad() {
  step('GET /data under load (autocannon)');
  return withApi(async (base) => {
    // page 10,000 of 50: the cursor after row 499,950, walked from the first page by the API's own cursors
    // (an offset goes to 10,000 at most)
    const deep = { next_cursor: '' };
    for (let seen = 0, target = Math.min(499_950, ROWS - 50); seen < target; ) {
      const limit = Math.min(1000, target - seen);
      const response = await fetch(`${base}/data?limit=${limit}${deep.next_cursor && `&cursor=${deep.next_cursor}`}`);
      if (!response.ok) throw new Error(`walking to the deep page: ${response.status} ${await response.text()}`);
      deep.next_cursor = ((await response.json()) as { next_cursor: string }).next_cursor;
      seen += limit;
    }
    const { rows } = await db.pool.query<{ symbol: string }>(
      'SELECT symbol FROM record ORDER BY id LIMIT 1 OFFSET $1',
      [Math.floor(ROWS / 3)],
    );
    const targets = {
      firstPage: '/data?limit=50',
      deepPage: `/data?limit=50&cursor=${deep.next_cursor}`,
      symbol: `/data?limit=50&symbol=${rows[0]!.symbol}`,
    };
    await load(base + targets.firstPage, 3, CONNECTIONS); // warm-up
    const out: Record<string, LoadFigures & { path: string }> = {};
    for (const [name, target] of Object.entries(targets)) {
      out[name] = { path: target.slice(0, 80), ...(await load(base + target, 10, CONNECTIONS)) };
      // a figure of failed requests is no figure: the table must not show one
      if (out[name]!.errors) throw new Error(`${target.slice(0, 80)}: ${out[name]!.errors} requests failed`);
    }
    // the same first page with five times the clients: what queueing does to the tail
    out.firstPage10Connections = { path: targets.firstPage, ...(await load(base + targets.firstPage, 10, 10)) };
    // the same page from a bare node:http + pg handler, under the same loads: the physical limit
    const bare = await withBareHandler(async (bareBase) => {
      await load(bareBase, 3, CONNECTIONS); // warm-up
      return { at2: await load(bareBase, 10, CONNECTIONS), at10: await load(bareBase, 10, 10) };
    });
    // a bare handler that failed answers fast: its figures would flatter it
    if (bare.at2.errors || bare.at10.errors)
      throw new Error(`the bare handler failed ${bare.at2.errors + bare.at10.errors} requests`);
    out.bareFirstPage = { path: 'bench/bare-handler.ts', ...bare.at2 };
    out.bareFirstPage10Connections = { path: 'bench/bare-handler.ts', ...bare.at10 };
    // the same client while ten connections send the most expensive valid requests there are
    const costly = [`/entities?min_sources=2&limit=1000`, `/data?limit=1000&offset=10000`, '/stats'];
    const [underLoad] = await Promise.all([
      load(base + targets.firstPage, 10, CONNECTIONS),
      ...costly.map((p, i) => load(base + p, 10, i === 0 ? 4 : 3)),
    ]);
    out.firstPageUnderCostlyLoad = {
      path: `${targets.firstPage} while 10 connections send ${costly.join(', ')}`,
      ...underLoad,
    };
    log.info(out, 'GET /data');
    return out;
  });
}

/** Runs `work` against bench/bare-handler.ts on the benchmark's database. */
async function withBareHandler<T>(work: (base: string) => Promise<T>): Promise<T> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(projectRoot, 'bench', 'bare-handler.ts')], {
    env: { ...process.env, DATABASE_URL: pg.url, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  try {
    await new Promise<void>((resolve, reject) => {
      readline.createInterface({ input: child.stdout! }).once('line', () => resolve());
      child.once('exit', (code) => reject(new Error(`the bare handler exited (${code})`)));
    });
    return await work(`http://127.0.0.1:${port}/`);
  } finally {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }
}

interface LoadFigures {
  requestsPerSecond: number;
  /** Latencies to 0.01 ms, from every response. */
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  errors: number;
}

async function load(url: string, seconds: number, connections: number): Promise<LoadFigures> {
  // percentiles from every response time: autocannon's own are whole milliseconds and have no p95
  const times: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    autocannon({ url, connections, duration: seconds }, (error, done) => (error ? reject(error) : resolve(done))).on(
      'response',
      (_client, _status, _bytes, ms) => void times.push(ms),
    );
  });
  times.sort((a, b) => a - b);
  const at = (p: number) => round(times[Math.min(times.length - 1, Math.ceil((p / 100) * times.length) - 1)] ?? NaN, 2);
  return {
    requestsPerSecond: Math.round(result.requests.average),
    meanMs: round(times.reduce((sum, t) => sum + t, 0) / times.length, 2),
    p50Ms: at(50),
    p95Ms: at(95),
    p99Ms: at(99),
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

type Figures = Awaited<ReturnType<typeof benchmark>>;

function summary(f: Figures) {
  const copyRps = f.psqlCopy.recordsPerSecond;
  return {
    first_load_rps: f.firstLoad.recordsPerSecond,
    copy_ratio: round(f.firstLoad.recordsPerSecond / copyRps, 2),
    rerun_rows_written: Math.max(f.unchanged304.rowsWrittenData, f.unchangedSameBytes.rowsWrittenData),
    rerun_time_ratio: round(f.unchangedSameBytes.seconds / f.firstLoad.seconds, 3),
    worker_rss_mb: Math.max(f.small.workerPeakRssMb, f.firstLoad.workerPeakRssMb, f.changed10.workerPeakRssMb),
    data_p99_ms: f.api.firstPage!.p99Ms,
    deep_page_ratio: round(f.api.deepPage!.meanMs / f.api.firstPage!.meanMs, 2),
    // throughput where the API is saturated; the latency figures above are at a load it is not
    data_rps: f.api.firstPage10Connections!.requestsPerSecond,
    // a normal client's throughput while others send the costliest requests, against its throughput alone
    costly_load_ratio: round(f.api.firstPageUnderCostlyLoad!.requestsPerSecond / f.api.firstPage!.requestsPerSecond, 2),
    // the time series
    snapshot_obs_rps: f.series.snapshots.observationsPerSecond,
    history_obs_rps: f.series.history.observationsPerSecond,
    quote_rerun_rows_written: f.series.unchanged.quoteRowsWritten,
    quotes_1d_p99_ms: f.series.api.daily1d.p99Ms,
    quotes_deep_page_ratio: round(f.series.api.rawPage100.meanMs / f.series.api.rawFirstPage.meanMs, 2),
    // against the peer and the physical limits
    dlt_first_load_speedup: round(f.firstLoad.recordsPerSecond / bestDlt(f).recordsPerSecond, 2),
    dlt_rerun_speedup: round(bestDltRerun(f) / f.unchangedSameBytes.seconds, 1),
    api_rps_ratio: round(
      f.api.firstPage10Connections!.requestsPerSecond / f.api.bareFirstPage10Connections!.requestsPerSecond,
      2,
    ),
    api_p99_ratio: round(f.api.firstPage!.p99Ms / f.api.bareFirstPage!.p99Ms, 2),
    two_worker_speedup: round(f.firstLoad.seconds / f.twoWorkers.seconds, 2),
  };
}

/** dlt's faster loader on the first load. */
function bestDlt(f: Figures) {
  return Object.values(f.dlt.loaders).reduce((best, l) => (l.recordsPerSecond > best.recordsPerSecond ? l : best));
}

/** dlt's faster unchanged re-run. */
function bestDltRerun(f: Figures): number {
  return Math.min(...Object.values(f.dlt.loaders).map((l) => l.rerunSeconds));
}

function benchLine(f: Figures): string {
  return (
    'BENCH ' +
    Object.entries(summary(f))
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')
  );
}

/** Replaces the table between the README's bench markers, so the README always shows the last full run. */
function updateReadme(result: { date: string; machine: string } & Figures): void {
  const readme = path.join(projectRoot, 'README.md');
  const text = fs.readFileSync(readme, 'utf8');
  const s = summary(result);
  const a = result.api;
  const ts = result.series;
  const table = [
    `Last full run${SERIES_DAYS === 365 ? '' : ` (with \`BENCH_SERIES_DAYS=${SERIES_DAYS}\`: ${SERIES_DAYS} daily snapshots instead of 365)`}: ${result.date.slice(0, 10)}, ${result.machine}, ${ROWS.toLocaleString('en')} rows (${(result.file.bytes / 1e6).toFixed(0)} MB CSV).`,
    '',
    '| measure | figure | target |',
    '|---|---|---|',
    `| first load, whole workflow | ${result.firstLoad.seconds} s, **${s.first_load_rps.toLocaleString('en')} records/s** | ≥ 50,000 |`,
    `| first load by stage | ${Object.entries(result.firstLoad.stageSeconds)
      .filter(([, sec]) => sec >= 0.5)
      .map(([stage, sec]) => `${stage} ${sec} s`)
      .join(', ')} | |`,
    `| \`psql \\copy\` of the same file, same indexes | ${result.psqlCopy.seconds} s, ${result.psqlCopy.recordsPerSecond.toLocaleString('en')} records/s; copy_ratio **${s.copy_ratio}** | ≥ 0.45 |`,
    `| dlt ${result.dlt.version}, merge on the key, same file, same PostgreSQL | ${Object.entries(result.dlt.loaders)
      .map(
        ([loader, l]) =>
          `${loader} loader ${l.firstLoadSeconds} s (${l.recordsPerSecond.toLocaleString('en')} records/s), unchanged re-run ${l.rerunSeconds} s`,
      )
      .join(
        '; ',
      )}; the product **${s.dlt_first_load_speedup}×** the faster first load, **${s.dlt_rerun_speedup}×** the faster re-run | ≥ 2×, ≥ 20× |`,
    `| first load on two worker processes | ${result.twoWorkers.seconds} s, ${result.twoWorkers.recordsPerSecond.toLocaleString('en')} records/s: **${s.two_worker_speedup}×** one worker; peak RSS ${result.twoWorkers.workerPeakRssMbEach.join(' / ')} MB | ≥ 1.3× |`,
    `| unchanged re-run, 304 | ${result.unchanged304.seconds} s, ${result.unchanged304.rowsWrittenData} data rows written | < 1 s, 0 |`,
    `| unchanged re-run, same bytes (no validators) | ${result.unchangedSameBytes.seconds} s (${s.rerun_time_ratio} of first load), ${result.unchangedSameBytes.rowsWrittenData} data rows written | ≤ 0.2, 0 |`,
    `| re-run, 10 % of rows changed | ${result.changed10.seconds} s, ${result.changed10.rowsWrittenData.toLocaleString('en')} data rows written | |`,
    `| worker peak RSS, ${SMALL_ROWS.toLocaleString('en')} / ${ROWS.toLocaleString('en')} rows | ${result.small.workerPeakRssMb} / ${result.firstLoad.workerPeakRssMb} MB (a 304 run, nearly idle: ${result.unchanged304.workerPeakRssMb} MB) | ≤ 256, flat |`,
    `| \`GET /data?limit=50\`, ${CONNECTIONS} connections | p50 ${a.firstPage!.p50Ms} ms, p95 ${a.firstPage!.p95Ms} ms, **p99 ${a.firstPage!.p99Ms} ms**, ${a.firstPage!.requestsPerSecond.toLocaleString('en')} req/s | p99 ≤ 15 ms |`,
    `| the same, 10 connections (saturated) | p50 ${a.firstPage10Connections!.p50Ms} ms, p95 ${a.firstPage10Connections!.p95Ms} ms, p99 ${a.firstPage10Connections!.p99Ms} ms, **${a.firstPage10Connections!.requestsPerSecond.toLocaleString('en')} req/s** | ≥ 2,000 req/s |`,
    `| bare \`node:http\` + \`pg\` handler, the same page | ${CONNECTIONS} connections p99 ${a.bareFirstPage!.p99Ms} ms, ${a.bareFirstPage!.requestsPerSecond.toLocaleString('en')} req/s; 10 connections ${a.bareFirstPage10Connections!.requestsPerSecond.toLocaleString('en')} req/s; the API **${s.api_rps_ratio}×** its req/s, **${s.api_p99_ratio}×** its p99 | ≥ 0.7×, ≤ 2× |`,
    `| page 10,000 by cursor | p50 ${a.deepPage!.p50Ms} ms, p99 ${a.deepPage!.p99Ms} ms, ${a.deepPage!.requestsPerSecond.toLocaleString('en')} req/s; mean ${a.deepPage!.meanMs} ms, **${s.deep_page_ratio}×** the first page's ${a.firstPage!.meanMs} ms | ≤ 1.5× |`,
    `| \`symbol\` filter | p50 ${a.symbol!.p50Ms} ms, p99 ${a.symbol!.p99Ms} ms, ${a.symbol!.requestsPerSecond.toLocaleString('en')} req/s | |`,
    `| the first page while 10 connections send the costliest requests (\`min_sources\`, deep offsets, \`/stats\`) | ${a.firstPageUnderCostlyLoad!.requestsPerSecond.toLocaleString('en')} req/s, p99 ${a.firstPageUnderCostlyLoad!.p99Ms} ms: **${s.costly_load_ratio}×** its throughput alone | ≥ 0.5 |`,
    `| time series: ${ts.snapshots.days} daily snapshots of ${ts.snapshots.assets.toLocaleString('en')} assets, one run each | ${ts.snapshots.seconds} s (${ts.snapshots.secondsPerRun} s a run), **${s.snapshot_obs_rps.toLocaleString('en')} observations/s** | |`,
    `| the last snapshot again, unchanged | ${ts.unchanged.seconds} s, ${ts.unchanged.status}, **${s.quote_rerun_rows_written} observation rows written** | 0 |`,
    `| a history file of ${ts.history.rows.toLocaleString('en')} hourly candles (${(ts.history.bytes / 1e6).toFixed(0)} MB) | ${ts.history.seconds} s, **${s.history_obs_rps.toLocaleString('en')} observations/s**, worker peak ${ts.history.workerPeakRssMb} MB | |`,
    `| \`/entities/:id/quotes?interval=1d\` over a year, ${CONNECTIONS} connections, ${(ts.sizes.before.rows / 1e6).toFixed(2)} M observations | p50 ${ts.api.daily1d.p50Ms} ms, **p99 ${s.quotes_1d_p99_ms} ms**, ${ts.api.daily1d.requestsPerSecond.toLocaleString('en')} req/s; after the rollup p99 ${ts.api.daily1dAfterRollup.p99Ms} ms | p99 ≤ 20 ms |`,
    `| \`interval=raw\` page 100 by cursor (100 a page) | mean ${ts.api.rawPage100.meanMs} ms, **${s.quotes_deep_page_ratio}×** page 1's ${ts.api.rawFirstPage.meanMs} ms | ≤ 1.5× |`,
    `| size per million observations, raw | table ${ts.sizes.before.tableMbPerMillion} MB + index ${ts.sizes.before.indexMbPerMillion} MB (${ts.sizes.before.partitions} monthly partitions) | |`,
    `| after rolling up all but two months (${ts.sizes.rollup.seconds} s, ${ts.sizes.rollup.partitionsDropped} partitions dropped) | raw ${ts.sizes.after.rows.toLocaleString('en')} rows, ${ts.sizes.after.tableMb + ts.sizes.after.indexMb} MB; daily ${ts.sizes.after.dailyRows.toLocaleString('en')} rows, ${ts.sizes.after.dailyMb} MB (from ${ts.sizes.before.tableMb + ts.sizes.before.indexMb + ts.sizes.before.dailyMb} MB) | |`,
    '',
    '```',
    benchLine(result),
    '```',
  ].join('\n');
  const replaced = text.replace(/(<!-- bench:start -->\n)[\s\S]*?(\n<!-- bench:end -->)/, `$1${table}$2`);
  if (replaced === text && !text.includes(table))
    throw new Error('README.md has no <!-- bench:start --> / <!-- bench:end --> markers');
  fs.writeFileSync(readme, replaced);
}

function machine(): string {
  const cpus = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^processor/gm) ?? []).length;
  const memGb = Math.round(
    Number(/MemTotal:\s+(\d+)/.exec(fs.readFileSync('/proc/meminfo', 'utf8'))![1]) / 1024 / 1024,
  );
  return `${cpus} cores, ${memGb} GiB, Node ${process.versions.node}, PostgreSQL ${pgVersion} (embedded)`;
}

function step(what: string): void {
  log.info(`— ${what}`);
}

function round(n: number, digits: number): number {
  return Math.round(n * 10 ** digits) / 10 ** digits;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the benchmark with 'make bench', which provisions it`);
  return value;
}
