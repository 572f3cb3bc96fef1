// The `etl` command line (bin/etl, the POSIX shim npm links as node_modules/.bin/etl) against a live stack:
// scripts/dev.ts on free ports with its own data directory and the demo sources, as make dev runs it. Every
// command is run as a separate process, as an operator or a script runs it; its output (human and --json)
// and its exit code are checked. `etl run --wait` is watched in a real terminal (tmux).
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../src/settings.ts';
import { freePort } from '../setup.ts';
import { fetchJson, tempDir, temporalCli } from '../helpers.ts';

const execFileAsync = promisify(execFile);
const ETL = path.join(projectRoot, 'bin', 'etl');
const API_KEY = 'cli-test-key-0123456789abcdef';
const STAGES = [
  'waiting',
  'fetch',
  'store raw',
  'normalize',
  'dedupe',
  'soft-delete orphans',
  'link entities',
  'succeeded',
  'unchanged',
  'failed',
];
const DEMO_SOURCES = ['coinpaprika', 'coingecko', 'csv-assets', 'csv-quirky', 'rss-news'];

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

describe('etl, the command line (against make dev)', () => {
  const dataDir = path.join(projectRoot, '.data', `cli-test-${process.pid}`);
  const tmux = process.env.TMUX_BIN ?? 'tmux';
  const tmuxSocket = `etl-cli-test-${process.pid}`;
  let dev: ChildProcess | undefined;
  const output: string[] = [];
  let ports: Record<'api' | 'sources' | 'pg' | 'temporal' | 'ui' | 'workerMetrics', number>;
  let api: string;
  let cliEnv: NodeJS.ProcessEnv;

  /** Runs `etl ARGS` as its own process; never throws on a non-zero exit. */
  async function etl(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
    try {
      const { stdout, stderr } = await execFileAsync(ETL, args, {
        env: { ...cliEnv, ...env },
        cwd: projectRoot,
        timeout: 90_000,
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code?: number | string; stdout?: string; stderr?: string };
      if (typeof e.code !== 'number') throw error;
      return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }
  const json = async <T = Record<string, unknown>>(args: string[], expectedCode = 0): Promise<T> => {
    const r = await etl([...args, '--json']);
    assert.equal(r.code, expectedCode, `etl ${args.join(' ')} --json: ${r.stderr}${r.stdout}`);
    return JSON.parse(r.stdout) as T;
  };
  const ok = async (args: string[]): Promise<string> => {
    const r = await etl(args);
    assert.equal(r.code, 0, `etl ${args.join(' ')} exits 0: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const faults = (rules: unknown[]) =>
    fetch(`http://127.0.0.1:${ports.sources}/_control/faults`, { method: 'PUT', body: JSON.stringify(rules) });
  const runRow = async (id: number) =>
    (await fetchJson(`${api}/runs/${id}`)).body.data as { id: number; status: string; workflow_id: string };

  before(async function () {
    this.timeout(240_000);
    ports = {
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
      'ETL_API_URL',
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
      API_KEY,
      LOG_LEVEL: 'warn',
    });
    api = `http://127.0.0.1:${ports.api}`;
    // what an operator's shell has: where the API and Temporal are, the key, and the demo file's source server
    cliEnv = {
      ...env,
      ETL_API_URL: api,
      TEMPORAL_ADDRESS: `127.0.0.1:${ports.temporal}`,
      ETL_SOURCE_SERVER_URL: `http://127.0.0.1:${ports.sources}`,
    };
    dev = spawn(process.execPath, [path.join(projectRoot, 'scripts', 'dev.ts')], {
      cwd: projectRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    dev.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    dev.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    // make dev triggers a first run; the tests start from its result
    await until(
      'make dev has finished its first run',
      async () => {
        const res = await fetchJson(`${api}/runs/1`).catch(() => undefined);
        return res?.status === 200 && (res.body.data as { status: string }).status !== 'running' ? true : undefined;
      },
      200_000,
      () => dev!.exitCode !== null,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; make dev said:\n${output.join('').slice(-5000)}`);
    });
  });

  after(async function () {
    this.timeout(60_000);
    await execFileAsync(tmux, ['-L', tmuxSocket, 'kill-server']).catch(() => {});
    if (dev && dev.exitCode === null) {
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

  it('documents its commands and exit codes; an unknown command or a bad argument is a usage error (2) with help', async () => {
    const help = await ok(['--help']);
    for (const expected of [
      'etl runs show ID',
      'etl sources check [FILE]',
      'etl overrides add',
      'Exit codes:',
      '130  detached',
    ])
      assert.ok(help.includes(expected), `etl --help lists ${expected}:\n${help}`);
    const sub = await ok(['runs', 'show', '--help']);
    assert.match(sub, /^Usage: etl runs show ID/);
    assert.match(sub, /--json/);

    const unknown = await etl(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command: frobnicate/);
    assert.match(unknown.stderr, /Commands:/);
    assert.equal(unknown.stdout, '');
    const unknownSub = await etl(['sources', 'frobnicate']);
    assert.equal(unknownSub.code, 2);
    assert.match(unknownSub.stderr, /etl sources list/);
    const missing = await etl(['runs', 'show']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /missing ID/);
    const badOption = await etl(['runs', '--frobnicate']);
    assert.equal(badOption.code, 2);
    assert.match(badOption.stderr, /Unknown option '--frobnicate'/);
    const badNumber = await json(['runs', '--limit', 'many'], 2);
    assert.match((badNumber.error as { message: string }).message, /--limit must be a positive integer/);
  });

  it('exits 3 with a plain message when the API is not there', async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    const r = await etl(['status'], { ETL_API_URL: down });
    assert.equal(r.code, 3);
    assert.equal(
      r.stderr.trim(),
      `etl: cannot reach the API at ${down} (connection refused); is it running (make dev)? ETL_API_URL sets where it is`,
    );
    const j = await etl(['runs', '--json'], { ETL_API_URL: down });
    assert.equal(j.code, 3);
    assert.equal((JSON.parse(j.stdout) as { error: { exit_code: number } }).error.exit_code, 3);
  });

  it('etl status: database, Temporal, the schedule, the last run and each source', async () => {
    const text = await ok(['status']);
    assert.match(text, /^status +ok$/m);
    assert.match(text, /^database +up$/m);
    assert.match(text, /^temporal +up$/m);
    assert.match(text, /^schedule +etl-ingest active, next run \d{4}-\d\d-\d\d/m);
    assert.match(text, /^last run +1 succeeded/m);
    for (const source of DEMO_SOURCES) assert.match(text, new RegExp(`^${source} +succeeded +1 `, 'm'));
    const body = await json<{ status: string; sources: unknown[] }>(['status']);
    assert.equal(body.status, 'ok');
    assert.equal(body.sources.length, DEMO_SOURCES.length);
  });

  it('etl sources list: each source with its kind, policies and last outcome', async () => {
    const text = await ok(['sources', 'list']);
    assert.match(text, /^SOURCE +KIND +DELETE +SERIES +LAST RUN +OUTCOME/);
    assert.match(text, /^rss-news +rss +never +- +1 +succeeded/m);
    assert.match(text, /^coingecko +coingecko +snapshot +auto +1 +succeeded +\S.* +100 +100 /m);
    const body = await json<{ data: { id: string; last_run: { run_id: number; status: string } | null }[] }>([
      'sources',
      'list',
    ]);
    assert.deepEqual(
      body.data.map((s) => s.id),
      DEMO_SOURCES,
    );
    assert.ok(
      body.data.every((s) => s.last_run?.run_id === 1 && s.last_run.status === 'succeeded'),
      JSON.stringify(body.data),
    );
  });

  it('etl sources check: a valid file, an invalid one (exit 1, naming file, source and field), and --fetch with the mapping and quarantine preview', async () => {
    const valid = await ok(['sources', 'check']);
    assert.match(valid, /config\/sources\.demo\.yaml: valid, 5 sources/);
    assert.match(valid, /^csv-quirky +csv +http:\/\/127\.0\.0\.1:\d+\/files\/quirky\.csv +snapshot +warn +auto$/m);

    const dir = tempDir('cli');
    const invalidFile = path.join(dir, 'sources.yaml');
    fs.writeFileSync(
      invalidFile,
      'sources:\n  - id: prices\n    kind: csv\n    url: ./prices.csv\n    delete_policy: sometimes\n',
    );
    const invalid = await etl(['sources', 'check', invalidFile]);
    assert.equal(invalid.code, 1);
    assert.match(
      invalid.stderr,
      new RegExp(`invalid: ${invalidFile}: source 'prices': field 'delete_policy': Invalid option`),
    );
    const invalidJson = await json<{ valid: boolean; error: string }>(['sources', 'check', invalidFile], 1);
    assert.equal(invalidJson.valid, false);
    assert.match(invalidJson.error, /field 'delete_policy'/);

    const fetched = await ok(['sources', 'check', '--fetch']);
    assert.match(fetched, /^coingecko \(coingecko\) ok: 200, application\/json; charset=utf-8, [\d,]+ bytes in /m);
    assert.match(fetched, /^csv-quirky \(csv\) ok: 200, text\/csv, [\d,]+ bytes in /m);
    assert.match(fetched, /^ +symbol +← +Ticker +1\.00 +alias$/m, 'the header mapping with its confidence');
    assert.match(fetched, /^ +first 15 records \(read as a snapshot\): 3 would be quarantined/m);
    assert.match(fetched, /record 9 \(SOL\): source_updated_at not a valid date: "31-06-2021 03:31"/);
    assert.match(fetched, /all 5 sources fetched and readable/);
    const preview = await json<{
      valid: boolean;
      sources: {
        source: string;
        ok: boolean;
        fetch: { status: number | null };
        mapping: { field: string; from: string; confidence: number }[];
        sample: { records: number; quarantined: number };
      }[];
    }>(['sources', 'check', '--fetch']);
    assert.equal(preview.valid, true);
    const quirky = preview.sources.find((s) => s.source === 'csv-quirky')!;
    assert.equal(quirky.fetch.status, 200);
    assert.deepEqual(
      quirky.mapping.find((m) => m.field === 'price_usd'),
      { field: 'price_usd', from: 'Price (USD)', how: 'alias', confidence: 1 },
    );
    // what the first run quarantined from the same bytes
    assert.equal(quirky.sample.quarantined, 3);

    // a source nobody answers for: exit 1, and it says which and why
    const unreachable = path.join(dir, 'unreachable.yaml');
    fs.writeFileSync(
      unreachable,
      `sources:\n  - id: gone\n    kind: coinpaprika\n    url: http://127.0.0.1:${await freePort()}/v1/tickers\n    http: { timeout_ms: 5000 }\n`,
    );
    const gone = await etl(['sources', 'check', '--fetch', unreachable]);
    assert.equal(gone.code, 1);
    assert.match(gone.stdout, /^gone \(coinpaprika\) FAILED: not fetched$/m);
    assert.match(gone.stdout, /error: fetch failed: .*ECONNREFUSED/);
    assert.match(gone.stdout, /1 source of 1 cannot be ingested: gone/);
  });

  let manualRunId: number;
  it('etl run --no-wait starts a run; etl runs lists it and etl runs show tells its counts, anomalies and Web UI link', async function () {
    this.timeout(120_000);
    const started = await json<{ workflow_id: string; ui_url: string; source_ids: string[] }>([
      'run',
      '--source',
      'csv-assets',
      '--no-wait',
    ]);
    assert.match(started.workflow_id, /^etl-manual-/);
    assert.deepEqual(started.source_ids, ['csv-assets']);
    const human = await ok(['run', '--source', 'csv-quirky', '--no-wait']);
    assert.match(human, /^started etl-manual-\S+ \(csv-quirky\)$/m);
    assert.match(
      human,
      new RegExp(`^Temporal Web UI: http://127\\.0\\.0\\.1:${ports.ui}/namespaces/default/workflows/etl-manual-`, 'm'),
    );

    const listed = await until(
      'etl runs lists the run, finished',
      async () => {
        const page = await json<{ data: { id: number; workflow_id: string; status: string }[] }>(['runs']);
        const row = page.data.find((r) => r.workflow_id === started.workflow_id);
        return row && row.status !== 'running' ? row : undefined;
      },
      60_000,
    );
    manualRunId = listed.id;
    assert.equal(listed.status, 'succeeded');
    const table = await ok(['runs', '--source', 'csv-assets']);
    assert.match(table, /^RUN +STATUS +STARTED +TOOK +SOURCES +WORKFLOW$/m);
    assert.match(
      table,
      new RegExp(
        `^ *${listed.id} +succeeded +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ +[\\d.]+ m?s +1 +${started.workflow_id}$`,
        'm',
      ),
    );
    const failedOnly = await json<{ data: unknown[] }>(['runs', '--status', 'failed']);
    assert.deepEqual(failedOnly.data, []);

    const first = await ok(['runs', 'show', '1']);
    assert.match(first, /^run +1 succeeded$/m);
    assert.match(first, /^csv-quirky +succeeded +[\d.]+ m?s +15 +11 +0 +0 +3 +3 +0 +0$/m, 'counts per source');
    assert.match(
      first,
      /^anomalies:\n( {2}- .*\n)* {2}- DOGE \(entity \d+\): coingecko 0\.228721, csv-assets 0\.228721, csv-quirky 0\.2616 spread 14\.4 %/m,
    );
    assert.match(first, /^warnings:\n {2}- csv-quirky: source_updated_at: read as UTC/m);
    assert.match(
      first,
      new RegExp(`^Temporal Web UI: http://127\\.0\\.0\\.1:${ports.ui}/namespaces/default/workflows/etl-ingest-`, 'm'),
    );
    const detail = await json<{
      data: { id: number; sources: { source: string; status: string }[] };
      anomalies: unknown[];
      progress: unknown;
    }>(['runs', 'show', String(listed.id)]);
    assert.equal(detail.data.id, listed.id);
    assert.deepEqual(
      detail.data.sources.map((s) => s.source),
      ['csv-assets'],
    );
    assert.equal(detail.progress, null, 'a finished run has no progress');

    const notFound = await etl(['runs', 'show', '99999']);
    assert.equal(notFound.code, 4);
    assert.equal(notFound.stderr.trim(), 'etl: no run 99999');
    const unknownSource = await etl(['run', '--source', 'nope', '--no-wait']);
    assert.equal(unknownSource.code, 2);
    assert.match(
      unknownSource.stderr,
      /source_ids: unknown sources: nope \(configured: coinpaprika, coingecko, csv-assets, csv-quirky, rss-news\)/,
    );
    const wrongKey = await etl(['run', '--no-wait'], { API_KEY: 'not-the-key-0123456789' });
    assert.equal(wrongKey.code, 5);
    assert.match(wrongKey.stderr, /API_KEY .* is not the key the API has/);
    assert.ok(!`${wrongKey.stderr}${wrongKey.stdout}`.includes('not-the-key'), 'the key is never printed');
  });

  it('etl quarantine list/show and etl drift list', async () => {
    const text = await ok(['quarantine', 'list', '--run', '1']);
    assert.match(text, /^ID +RUN +SOURCE +KEY +POSITION +REASON$/m);
    assert.match(text, /^ *\d+ +1 +csv-quirky +SOL +9 +source_updated_at not a valid date: "31-06-2021 03:31"$/m);
    const page = await json<{
      data: { id: number; source: string; source_key: string | null; reason: string }[];
      next_cursor: string | null;
    }>(['quarantine', 'list', '--source', 'csv-quirky', '--reason', 'dd-mm-yyyy']);
    assert.deepEqual(
      page.data.map((q) => [q.source_key, q.reason]),
      [['FIL', 'source_updated_at not a dd-mm-yyyy date: "24/06/2021"']],
    );
    const fil = page.data[0]!;
    const shown = await ok(['quarantine', 'show', String(fil.id)]);
    assert.match(shown, /^source +csv-quirky, key FIL$/m);
    assert.match(shown, /^fields as sent:\n\{\n {2}"Ticker": "FIL",/m);
    const one = await json<{ data: { id: number; fields: Record<string, unknown> } }>([
      'quarantine',
      'show',
      String(fil.id),
    ]);
    assert.equal(one.data.fields.Updated, '24/06/2021');
    assert.equal((await etl(['quarantine', 'show', '99999'])).code, 4);

    // the demo runs see no schema change: drift is an empty list, said so
    assert.equal((await ok(['drift', 'list'])).trim(), 'no drift events match');
    const drift = await json<{ data: unknown[]; next_cursor: string | null }>([
      'drift',
      'list',
      '--source',
      'coingecko',
    ]);
    assert.deepEqual([drift.data, drift.next_cursor], [[], null]);
  });

  it('etl entities review and etl overrides add/list/remove (409 → 5, unknown → 4)', async () => {
    const review = await json<{
      data: {
        record: { source: string; source_key: string };
        candidate: { source: string; source_key: string };
        reason: string;
      }[];
    }>(['entities', 'review', '--kind', 'asset']);
    // "Stellar Lumens" of the quirky CSV came close to Stellar; which of the two records was left alone depends on which source linked first
    const xlm = review.data.find((r) =>
      [r.record, r.candidate].some((side) => side.source === 'csv-quirky' && side.source_key === 'XLM'),
    );
    assert.ok(xlm, `the quirky CSV's "Stellar Lumens" is a near miss of Stellar: ${JSON.stringify(review.data)}`);
    assert.equal(xlm.reason, 'near_miss');
    const [quirky, stellar] =
      xlm.record.source === 'csv-quirky' ? [xlm.record, xlm.candidate] : [xlm.candidate, xlm.record];
    const other = `${stellar.source}:${stellar.source_key}`;
    const reviewText = await ok(['entities', 'review']);
    assert.match(reviewText, /^RECORD +WHAT +CANDIDATE +ENTITY +WHAT +REASON +CONFIDENCE$/m);
    assert.ok(
      reviewText
        .split('\n')
        .some(
          (line) =>
            line.includes(`${quirky.source}:${quirky.source_key}`) &&
            line.includes(other) &&
            / near_miss +0\.\d\d$/.test(line),
        ),
      reviewText,
    );
    assert.match(reviewText, /etl overrides add --kind KIND --force\|--forbid RECORD CANDIDATE/);

    const made = await ok([
      'overrides',
      'add',
      '--kind',
      'asset',
      '--force',
      'csv-quirky:XLM',
      other,
      '--reason',
      'Stellar Lumens is Stellar',
    ]);
    // source ids and keys here are letters, digits, dashes and colons: nothing a RegExp reads specially
    const id = Number(
      new RegExp(
        `^made override (\\d+): force csv-quirky:XLM with ${other} \\(Stellar Lumens is Stellar\\); it applies at the next run$`,
        'm',
      ).exec(made)?.[1],
    );
    assert.ok(id > 0, made);
    const again = await json<{ data: { id: number } }>([
      'overrides',
      'add',
      '--kind',
      'asset',
      '--force',
      'csv-quirky:XLM',
      other,
    ]);
    assert.equal(again.data.id, id, 'the same decision again is the override in force');
    const contradicts = await etl(['overrides', 'add', '--kind', 'asset', '--forbid', other, 'csv-quirky:XLM']);
    assert.equal(contradicts.code, 5);
    assert.match(contradicts.stderr, new RegExp(`^etl: override ${id} says otherwise`));
    const missing = await etl(['overrides', 'add', '--kind', 'asset', '--forbid', 'nope:x', 'csv-quirky:XLM']);
    assert.equal(missing.code, 4);
    assert.match(missing.stderr, /left: no record nope\/x/);
    const malformed = await etl(['overrides', 'add', '--kind', 'asset', '--forbid', 'nocolon', 'csv-quirky:XLM']);
    assert.equal(malformed.code, 2);
    assert.match(malformed.stderr, /'nocolon' is not SOURCE:KEY/);

    assert.match(
      await ok(['overrides', 'list']),
      new RegExp(`^ *${id} +asset +force +csv-quirky:XLM +${other} +Stellar Lumens is Stellar +\\S+ \\S+ +-$`, 'm'),
    );
    assert.match(
      await ok(['overrides', 'remove', String(id)]),
      new RegExp(`^removed override ${id}: force csv-quirky:XLM`),
    );
    assert.equal((await etl(['overrides', 'remove', String(id)])).code, 4);
    assert.deepEqual((await json<{ data: unknown[] }>(['overrides', 'list'])).data, []);
    const history = await json<{ data: { id: number; removed_at: string | null }[] }>(['overrides', 'list', '--all']);
    assert.ok(
      history.data.some((o) => o.id === id && o.removed_at !== null),
      JSON.stringify(history.data),
    );
  });

  it('etl reprocess RUN --dry-run --wait prints what each source would change, from the workflow result', async function () {
    this.timeout(120_000);
    const text = await ok(['reprocess', '1', '--dry-run', '--wait']);
    assert.match(text, /^run \d+ succeeded \(dry run: nothing was written\)$/m);
    assert.match(text, /^SOURCE +STATUS +STAGED +WOULD INSERT +WOULD UPDATE +WOULD RESTORE +UNCHANGED +NOTE$/m);
    assert.match(
      text,
      /^coinpaprika +succeeded +150 +0 +0 +0 +150 +-$/m,
      'the payload run 1 merged, normalized again, changes nothing',
    );
    const result = await json<{
      started: { run_id: number; dry_run: boolean };
      result: { dryRun: boolean; status: string; changes: Record<string, { inserted: number }> };
    }>(['reprocess', '1', '--source', 'csv-assets', '--dry-run', '--wait']);
    assert.deepEqual(
      [result.started.run_id, result.started.dry_run, result.result.dryRun, result.result.status],
      [1, true, true, 'succeeded'],
    );
    assert.deepEqual(Object.keys(result.result.changes), ['csv-assets']);
    const started = await json<{ workflow_id: string }>(['reprocess', String(manualRunId), '--dry-run']);
    assert.match(started.workflow_id, /^etl-reprocess-/);
    assert.equal((await etl(['reprocess', '99999'])).code, 4);
  });

  describe('etl run --wait in a real terminal (tmux)', () => {
    /** Starts `etl ARGS` in a 160×40 tmux window; its exit code is printed after it as EXIT=n. */
    async function inTerminal(name: string, args: string[]): Promise<{ screen: () => Promise<string> }> {
      const command = `${ETL} ${args.join(' ')}; echo EXIT=$?; sleep 600`;
      // the tmux server (one per test run, on its own socket) passes its environment to the window's shell
      await execFileAsync(tmux, ['-L', tmuxSocket, 'new-session', '-d', '-x', '160', '-y', '40', '-s', name, command], {
        env: cliEnv,
        cwd: projectRoot,
      });
      return {
        screen: async () => (await execFileAsync(tmux, ['-L', tmuxSocket, 'capture-pane', '-p', '-t', name])).stdout,
      };
    }
    /** A frame of the live display: every source on a line with a stage, at least one of them still in progress. */
    const progressFrame = (screen: string, slowSource: string) =>
      /running for .*Ctrl-C detaches/.test(screen) &&
      DEMO_SOURCES.every((s) => STAGES.some((stage) => new RegExp(`^${s} +${stage} `, 'm').test(screen))) &&
      new RegExp(`^${slowSource} +fetch `, 'm').test(screen);

    it("shows each source's stage live, then the summary, and exits 0", async function () {
      this.timeout(120_000);
      // CoinGecko's pages come slowly, so the run is watched while it runs
      await faults([{ path: '/coingecko', latencyMs: 1500 }]);
      const term = await inTerminal('wait', ['run', '--wait']);
      const frame = await until(
        'a progress frame',
        async () => ((s) => (progressFrame(s, 'coingecko') ? s : undefined))(await term.screen()),
        60_000,
      );
      assert.match(frame, /^SOURCE +STAGE +RECORDS +RATE$/m);
      const end = await until(
        'the run ends',
        async () => ((s) => (/EXIT=\d+/.test(s) ? s : undefined))(await term.screen()),
        90_000,
      );
      await faults([]);
      assert.match(end, /^run +\d+ succeeded$/m);
      assert.match(end, /^SOURCE +STATUS +TOOK +PARSED/m);
      for (const source of DEMO_SOURCES) assert.match(end, new RegExp(`^${source} +(succeeded|unchanged) `, 'm'));
      assert.match(end, /^Temporal Web UI: http:\/\//m);
      assert.doesNotMatch(end, /Ctrl-C detaches/, 'the live frame is replaced by the summary');
      assert.match(end, /^EXIT=0$/m);
    });

    it('Ctrl-C detaches and says how to follow it; the run goes on to its end', async function () {
      this.timeout(120_000);
      await faults([{ path: '/coingecko', latencyMs: 3000 }]);
      const term = await inTerminal('detach', ['run', '--wait']);
      await until(
        'a progress frame',
        async () => (progressFrame(await term.screen(), 'coingecko') ? true : undefined),
        60_000,
      );
      await execFileAsync(tmux, ['-L', tmuxSocket, 'send-keys', '-t', 'detach', 'C-c']);
      const screen = await until(
        'etl has detached',
        async () => ((s) => (/EXIT=\d+/.test(s) ? s : undefined))(await term.screen()),
        30_000,
      );
      // the terminal echoes ^C before it
      const runId = Number(/detached; the run goes on: etl runs show (\d+)$/m.exec(screen)?.[1]);
      assert.ok(runId > 0, screen);
      assert.match(screen, /^EXIT=130$/m);
      const { stdout } = await execFileAsync(temporalCli(), [
        'workflow',
        'describe',
        '--workflow-id',
        (await runRow(runId)).workflow_id,
        '--address',
        `127.0.0.1:${ports.temporal}`,
        '--output',
        'json',
      ]);
      assert.equal(
        (JSON.parse(stdout) as { workflowExecutionInfo: { status: string } }).workflowExecutionInfo.status,
        'WORKFLOW_EXECUTION_STATUS_RUNNING',
        'detaching did not cancel the workflow',
      );
      await faults([]);
      const finished = await until(
        'the detached run finishes',
        async () => ((r) => (r.status !== 'running' ? r : undefined))(await runRow(runId)),
        90_000,
      );
      assert.equal(finished.status, 'succeeded');
    });
  });
});

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  gaveUp: () => boolean = () => false,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (gaveUp() || Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
