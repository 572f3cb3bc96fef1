// The source fault matrix: every way a source misbehaves ends in success (with quarantine where records are
// bad) or in a clear failure of that source, and never soft-deletes anything. Real workflow, real Temporal,
// the local source server injecting the faults, real PostgreSQL.
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { RunSummary } from '../../src/activities/index.ts';
import type { Database } from '../../src/db/orm.ts';
import { projectRoot } from '../../src/settings.ts';
import { createSourceServer, type FaultRule, type SourceServer } from '../../src/sourceserver/server.ts';
import { createWorker } from '../../src/temporal/worker.ts';
import { ingest } from '../../src/workflows/index.ts';
import { startTemporal, taskQueue, tempDir, testDatabase, truncateAll } from '../helpers.ts';

interface Case {
  name: string;
  source: 'coinpaprika' | 'csv' | 'rss';
  faults?: FaultRule[];
  /** Replaces the served file for this case. */
  file?: [name: string, content: string | Buffer | (() => string)];
  options?: string[];
  /** recovered: the source succeeded, or found its (identical) data unchanged after recovering. */
  expect: {
    status: 'recovered' | 'failed';
    error?: RegExp;
    quarantined?: boolean;
    guard?: RegExp;
    attempts?: Record<string, number>;
  };
}

const latin1Feed = Buffer.concat([
  Buffer.from('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title><item><title>Caf'),
  Buffer.from([0xe9]),
  Buffer.from('</title><link>https://x.test/1</link></item></channel></rss>'),
]);

// the same tickers in other bytes: the fetch gets a full body (not a 304) and nothing may be deleted afterwards
const reformattedTickers = () =>
  fs
    .readFileSync(path.join(projectRoot, 'data', 'demo', 'coinpaprika-tickers.json'), 'utf8')
    .replaceAll('},{"id"', '},\n{"id"');

const CASES: Case[] = [
  {
    name: '500 twice, then an answer',
    source: 'coinpaprika',
    faults: [{ path: '/coinpaprika', status: 500, times: 2 }],
    expect: { status: 'recovered', attempts: { fetchSource: 3 } },
  },
  {
    name: '429 with Retry-After',
    source: 'coinpaprika',
    faults: [{ path: '/coinpaprika', status: 429, retryAfter: 1, times: 1 }],
    expect: { status: 'recovered', attempts: { fetchSource: 2 } },
  },
  {
    name: 'a response slower than the timeout',
    source: 'coinpaprika',
    options: ['http: { timeout_ms: 1000 }'],
    faults: [{ path: '/coinpaprika', latencyMs: 3000, times: 1 }],
    expect: { status: 'recovered', attempts: { fetchSource: 2 } },
  },
  {
    name: 'connection reset',
    source: 'coinpaprika',
    faults: [{ path: '/coinpaprika', reset: true, times: 1 }],
    expect: { status: 'recovered', attempts: { fetchSource: 2 } },
  },
  {
    name: 'truncated body',
    source: 'coinpaprika',
    file: ['coinpaprika-tickers.json', reformattedTickers],
    faults: [{ path: '/coinpaprika', truncateAt: 2000, times: 1 }],
    expect: { status: 'recovered', attempts: { fetchSource: 2 } },
  },
  {
    name: 'invalid JSON',
    source: 'coinpaprika',
    faults: [{ path: '/coinpaprika', garbage: true }],
    expect: { status: 'failed', error: /is not readable as coinpaprika/, attempts: { normalize: 1 } },
  },
  {
    name: 'an oversize body',
    source: 'coinpaprika',
    options: ['http: { max_bytes: 100000 }'],
    faults: [{ path: '/coinpaprika', oversizeBytes: 300_000 }],
    expect: { status: 'failed', error: /larger than max_bytes \(100000 bytes\)/, attempts: { fetchSource: 1 } },
  },
  {
    name: 'a redirect loop',
    source: 'coinpaprika',
    faults: [{ path: '/coinpaprika', redirectLoop: true }],
    expect: { status: 'failed', error: /redirect/i, attempts: { fetchSource: 1 } },
  },
  {
    name: '404',
    source: 'coinpaprika',
    faults: [{ path: '/coinpaprika', status: 404 }],
    expect: { status: 'failed', error: /answered 404/, attempts: { fetchSource: 1 } },
  },
  {
    name: 'HTML where JSON was expected',
    source: 'coinpaprika',
    file: ['coinpaprika-tickers.json', '[{"id":"x-x","symbol":"X","name":"X"}]'],
    faults: [{ path: '/coinpaprika', contentType: 'text/html' }],
    expect: { status: 'failed', error: /sent text\/html, expected application\/json/ },
  },
  {
    name: 'an empty snapshot',
    source: 'coinpaprika',
    file: ['coinpaprika-tickers.json', '[]'],
    expect: { status: 'recovered', guard: /the snapshot is empty/ },
  },
  {
    name: 'malformed CSV lines',
    source: 'csv',
    options: ['csv: { date_format: dd-mm-yyyy }'],
    file: ['quirky.csv', 'Ticker;Price (USD)\nBTC;1\nETH;"2\n'],
    expect: { status: 'recovered', quarantined: true, guard: /quarantined/ },
  },
  {
    name: 'invalid XML',
    source: 'rss',
    faults: [{ path: '/files/news.rss', garbage: true }],
    expect: { status: 'failed', error: /not an RSS or Atom feed/ },
  },
  {
    name: 'a wrong declared encoding',
    source: 'rss',
    file: ['news.rss', latin1Feed],
    expect: { status: 'failed', error: /declared UTF-8 but is not valid UTF-8 \(at byte \d+\)/ },
  },
];

describe('source fault matrix (local source server, real Temporal, real PostgreSQL)', () => {
  let env: TestWorkflowEnvironment;
  let db: Database;
  let server: SourceServer;
  let root: string;
  let dir: string;
  let baseUrl: string;

  before(async function () {
    this.timeout(30_000);
    // one after the other: a failed database start must not strand a running dev server
    db = await testDatabase();
    env = await startTemporal();
    root = tempDir('faults-root');
    dir = tempDir('faults');
    server = createSourceServer({ root });
    baseUrl = await server.listen(0);
  });
  after(async () => {
    await server?.close();
    await db?.close();
    await env?.teardown();
  });

  function sourcesFile(c: Case): string {
    const url = {
      coinpaprika: `${baseUrl}/coinpaprika/v1/tickers`,
      csv: `${baseUrl}/files/quirky.csv`,
      rss: `${baseUrl}/files/news.rss`,
    }[c.source];
    const kind = c.source;
    const file = path.join(dir, `${c.name.replace(/\W+/g, '-')}.yaml`);
    // max_delete_ratio 1: the ratio guard must not be what saves the records here
    fs.writeFileSync(
      file,
      [
        'sources:',
        `  - id: ${c.source}`,
        `    kind: ${kind}`,
        `    url: ${url}`,
        '    delete_policy: snapshot',
        '    max_delete_ratio: 1',
        ...(c.options ?? []).map((o) => `    ${o}`),
        '',
      ].join('\n'),
    );
    return file;
  }

  async function run(file: string): Promise<RunSummary> {
    const queue = taskQueue('faults');
    const worker = await createWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue: queue,
      db,
      sourcesFile: file,
    });
    return worker.runUntil(
      env.client.workflow.execute(ingest, { taskQueue: queue, workflowId: `faults-${queue}`, args: [{}] }),
    );
  }

  for (const c of CASES) {
    it(`${c.source}: ${c.name} → ${c.expect.status}${c.expect.quarantined ? ' with quarantine' : ''}, nothing deleted`, async () => {
      await truncateAll(db);
      fs.cpSync(path.join(projectRoot, 'data', 'demo'), root, { recursive: true });
      server.setFaults([]);
      const file = sourcesFile(c);
      const first = await run(file); // a good snapshot first, so there is something a bad one could delete
      assert.equal(first.status, 'succeeded');
      const live = (
        await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM record WHERE deleted_at IS NULL')
      ).rows[0]!.n;
      assert.ok(live > 1, 'the good snapshot left records that a bad one could delete');

      if (c.file)
        fs.writeFileSync(path.join(root, c.file[0]), typeof c.file[1] === 'function' ? c.file[1]() : c.file[1]);
      server.setFaults(c.faults ?? []);
      const second = await run(file);
      const outcome = second.sources[0]!;
      assert.ok(
        c.expect.status === 'failed'
          ? outcome.status === 'failed'
          : ['succeeded', 'unchanged'].includes(outcome.status),
        `${outcome.status}: ${outcome.error}`,
      );
      if (c.expect.error) assert.match(outcome.error!, c.expect.error);
      const rs = (await db.pool.query('SELECT * FROM run_source WHERE run_id = $1', [second.runId])).rows[0];
      if (c.expect.quarantined) assert.ok(rs.quarantined > 0, 'the bad lines are quarantined');
      if (c.expect.guard) assert.match(rs.delete_guard, c.expect.guard);
      for (const [stage, attempts] of Object.entries(c.expect.attempts ?? {}))
        assert.equal(rs.attempts[stage], attempts, `${stage} attempts`);
      if (c.expect.status === 'failed') assert.ok(rs.errors.length > 0, 'the failure is recorded with the source');
      const deleted = (
        await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM record WHERE deleted_at IS NOT NULL')
      ).rows[0]!.n;
      assert.equal(deleted, 0, 'nothing soft-deleted');
    });
  }
});
