// The console's own endpoints over HTTP against the real test database: /sources/trends (sources-file order,
// newest first, dry runs left out, a run that lasted a month), /entities/search (exact symbol first, LIKE
// wildcards taken literally, bounds) and /temporal-links. Temporal is unreachable here: none of them needs it.
import { Client, Connection } from '@temporalio/client';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import path from 'node:path';
import { createApp } from '../../src/api/app.ts';
import type { Database } from '../../src/db/orm.ts';
import { loadSettings } from '../../src/settings.ts';
import { fetchJson, quietLog, tempDir, testDatabase } from '../helpers.ts';
import { seedApiData } from '../schemathesis/seed.ts';

describe('console endpoints (real PostgreSQL)', () => {
  let db: Database;
  let server: Server;
  let url: string;
  let connection: Connection;
  before(async () => {
    db = await testDatabase();
    await seedApiData(db);
    const dir = tempDir('console-api');
    const sourcesFile = path.join(dir, 'sources.yaml');
    // b before a: the trends come in the file's order, and a source with no runs yet is listed too
    fs.writeFileSync(
      sourcesFile,
      'sources:\n  - { id: b, kind: csv, url: ./b.csv }\n  - { id: a, kind: csv, url: ./a.csv }\n  - { id: fresh, kind: csv, url: ./f.csv }\n',
    );
    connection = Connection.lazy({ address: '127.0.0.1:1' });
    const temporal = new Client({ connection });
    const settings = loadSettings({ ETL_SOURCES_FILE: sourcesFile, TEMPORAL_UI_URL: 'http://ui.test:8233/' });
    server = createApp({ db, temporal, log: quietLog, settings }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server?.close();
    await connection?.close();
    await db?.close();
  });

  it("lists each configured source's latest runs newest first, in the sources file's order, without dry runs", async () => {
    // a run interrupted and closed by the stale-run sweeper a month later, and a dry run that must not show
    const { rows } = await db.pool.query<{ id: number }>(
      `INSERT INTO run (workflow_id, temporal_run_id, original_run_id, status, started_at, finished_at, dry_run) VALUES
         ('wf-long', '00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000101', 'failed', '2026-01-02 00:00Z', '2026-02-01 00:00Z', false),
         ('wf-dry', '00000000-0000-4000-8000-000000000102', '00000000-0000-4000-8000-000000000102', 'succeeded', '2026-01-03 00:00Z', '2026-01-03 00:01Z', true)
       RETURNING id::int`,
    );
    const [long, dry] = rows.map((r) => r.id) as [number, number];
    await db.pool.query(
      `INSERT INTO run_source (run_id, source_id, status, started_at, finished_at, parsed, quarantined) VALUES
         ($1, 'a', 'failed', '2026-01-02 00:00Z', '2026-02-01 00:00Z', 0, 0),
         ($2, 'a', 'succeeded', '2026-01-03 00:00Z', '2026-01-03 00:01Z', 10, 5)`,
      [long, dry],
    );
    try {
      const res = await fetchJson(`${url}/sources/trends?runs=3`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const data = res.body.data as { source: string; runs: { run_id: number; duration_ms: number | null }[] }[];
      assert.deepEqual(
        data.map((d) => d.source),
        ['b', 'a', 'fresh'],
      );
      const a = data.find((d) => d.source === 'a')!;
      assert.equal(a.runs.length, 3);
      assert.ok(
        a.runs.every((r, i) => i === 0 || r.run_id < a.runs[i - 1]!.run_id),
        'newest first',
      );
      assert.ok(!a.runs.some((r) => r.run_id === dry), 'the dry run is left out');
      assert.equal(a.runs[0]!.run_id, long);
      assert.equal(a.runs[0]!.duration_ms, 30 * 24 * 3600 * 1000, 'a month, past what a 32-bit int holds in ms');
      assert.deepEqual(data.find((d) => d.source === 'fresh')!.runs, []);
    } finally {
      await db.pool.query('DELETE FROM run WHERE id = ANY($1)', [[long, dry]]);
    }
    for (const bad of ['runs=0', 'runs=101', 'runs=x', 'other=1'])
      assert.equal((await fetchJson(`${url}/sources/trends?${bad}`)).status, 400, bad);
  });

  it('finds entities by exact symbol first and by part of a name, taking LIKE wildcards literally', async () => {
    const { rows } = await db.pool.query<{ id: string }>(
      `INSERT INTO entity (kind, seed_record_id, symbol, name, live_sources)
       SELECT 'asset', (SELECT min(id) FROM record), symbol, name, live_sources
       FROM (VALUES ('PCT', 'Hundred % Coin', 1), ('PCX', 'Hundred Coin', 3), ('HUND', 'Wrapped Pct', 2)) AS v(symbol, name, live_sources)
       RETURNING id`,
    );
    try {
      const bySymbol = await fetchJson(`${url}/entities/search?q=pct`);
      assert.equal(bySymbol.status, 200);
      const names = (bySymbol.body.data as { symbol: string; name: string }[]).map((e) => e.name);
      assert.deepEqual(names, ['Hundred % Coin', 'Wrapped Pct'], 'the exact symbol first, then names containing it');

      const literal = await fetchJson(`${url}/entities/search?q=${encodeURIComponent('%')}`);
      assert.deepEqual(
        (literal.body.data as { name: string }[]).map((e) => e.name),
        ['Hundred % Coin'],
        '% is a character, not a wildcard',
      );
      const underscore = await fetchJson(`${url}/entities/search?q=${encodeURIComponent('Hundred_Coin')}`);
      assert.deepEqual(underscore.body.data, [], '_ matches only an underscore');

      const ranked = await fetchJson(`${url}/entities/search?q=hundred&limit=1`);
      assert.deepEqual(
        (ranked.body.data as { name: string }[]).map((e) => e.name),
        ['Hundred Coin'],
        'then the entity most sources describe',
      );
    } finally {
      await db.pool.query('DELETE FROM entity WHERE id = ANY($1)', [rows.map((r) => r.id)]);
    }
    for (const bad of ['', 'q=', 'q=%20%20', `q=${'x'.repeat(101)}`, 'q=a&limit=0', 'q=a&limit=51', 'q=%01'])
      assert.equal((await fetchJson(`${url}/entities/search?${bad}`)).status, 400, bad);
  });

  it('says where the Web UI shows the schedule and the workflows', async () => {
    const res = await fetchJson(`${url}/temporal-links`);
    assert.equal(res.status, 200);
    assert.match(res.body.workflows_url, /^http:\/\/ui\.test:8233\/namespaces\/default\/workflows/);
    assert.match(res.body.schedule_url, /^http:\/\/ui\.test:8233\/namespaces\/default\/schedules\/etl-ingest$/);
  });
});
