// The operator endpoints against real PostgreSQL and a real Temporal dev server: sources with their last
// outcome, quarantine and drift (dry runs left out, keyset paging), the identity review queue fed by real
// resolution, overrides that real resolution obeys and forgets when removed, and POST /reprocess.
// Records come from the real stages (fetch, store, normalize, dedupe) and the real resolveEntities activity.
import { MockActivityEnvironment, type TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import path from 'node:path';
import { createActivities } from '../../src/activities/index.ts';
import { createApp } from '../../src/api/app.ts';
import {
  DriftEventPage,
  OverridePage,
  OverrideResponse,
  QuarantineDetail,
  QuarantinePage,
  ReprocessStarted,
  ReviewPage,
  SourceList,
} from '../../src/api/schemas.ts';
import type { Database } from '../../src/db/orm.ts';
import { LINK_THRESHOLD, REVIEW_FLOOR } from '../../src/identity/rules.ts';
import { loadSettings } from '../../src/settings.ts';
import { quietLog, runStages, startTemporal, taskQueue, tempDir, testDatabase, truncateAll } from '../helpers.ts';

const API_KEY = 'operator-test-key-0123456789';
const HEADER = 'id,symbol,name,market_cap_rank,current_price,last_updated';

interface Res {
  status: number;
  type: string;
  text: string;
  // bodies are checked field by field
  body: any;
}

describe('operator API (real PostgreSQL, real Temporal)', () => {
  let env: TestWorkflowEnvironment;
  let db: Database;
  let api: Server;
  let url: string;
  let sourcesFile: string;
  let dir: string;
  const queue = taskQueue('operator');
  const runs = { a: 0, b: 0 };
  let dryRunId: number;

  before(async function () {
    this.timeout(90_000);
    env = await startTemporal();
    db = await testDatabase();
    await truncateAll(db);
    await db.pool.query('TRUNCATE entity_override RESTART IDENTITY');
    dir = tempDir('operator');
    sourcesFile = path.join(dir, 'sources.yaml');
    fs.writeFileSync(
      sourcesFile,
      [
        'sources:',
        '  - id: csv-a',
        '    kind: csv',
        '    url: ./a.csv',
        '    delete_policy: snapshot',
        '  - id: csv-b',
        '    kind: csv',
        '    url: ./b.csv',
        '    delete_policy: never',
        '    series: snapshot',
        // never fetched here: shows how a URL with credentials is listed
        '  - id: gecko',
        '    kind: coingecko',
        '    url: https://user:hunter2@api.example.com/api/v3/coins/markets?vs_currency=usd&x_cg_demo_api_key=SECRET123',
        '  - id: news',
        '    kind: rss',
        '    url: ./news.rss',
        '    delete_policy: never',
        '',
      ].join('\n'),
    );
    // csv-a has Ethereum; csv-b has a coin of the same symbol whose name is only partly alike: a near miss
    fs.writeFileSync(
      path.join(dir, 'a.csv'),
      [
        HEADER,
        'bitcoin,btc,Bitcoin,1,32797,2021-06-24T03:32:13Z',
        'ethereum,eth,Ethereum,2,1913.88,2021-06-24T03:32:18Z',
        'cardano,ada,Cardano,5,1.31,2021-06-24T03:32:20Z',
        'bad-1,bb1,Bad One,6,1,not a date',
        'bad-2,bb2,Bad Two,7,1,31-31-2021',
        'bad-3,bb3,Bad Three,8,1,yesterday',
        '',
      ].join('\n'),
    );
    fs.writeFileSync(
      path.join(dir, 'b.csv'),
      [
        HEADER,
        'btc,btc,Bitcoin,1,32790,2021-06-24T03:32:13Z',
        'ethw,eth,Ethereum PoW,40,7.5,2021-06-24T03:32:18Z',
        'bad-4,bb4,Bad Four,9,1,never',
        'bad-5,bb5,Bad Five,10,1,soon',
        '',
      ].join('\n'),
    );
    runs.a = (await runStages(db, sourcesFile, 'csv-a')).runId;
    await resolve(runs.a, 'csv-a');
    runs.b = (await runStages(db, sourcesFile, 'csv-b')).runId;
    await resolve(runs.b, 'csv-b');
    // a reprocess dry run of csv-a: it changed nothing, so nothing of it may show
    dryRunId = Number(
      (
        await db.pool.query(
          `INSERT INTO run (workflow_id, temporal_run_id, original_run_id, status, finished_at, dry_run, reprocess_of) VALUES ('dry-1', 'dry-run-1', 'dry-run-1', 'succeeded', now(), true, $1) RETURNING id`,
          [runs.a],
        )
      ).rows[0].id,
    );
    await db.pool.query(
      `INSERT INTO run_source (run_id, source_id, status, finished_at, parsed, staged, quarantined, inserted) VALUES ($1, 'csv-a', 'failed', now(), 999, 0, 999, 999)`,
      [dryRunId],
    );
    await db.pool.query(
      `INSERT INTO quarantine (run_id, source_id, raw_payload_id, raw_position, source_key, reason, fields) VALUES ($1, 'csv-a', 1, 3, 'bad-1', 'dry run: observed_at not a valid date', '{}')`,
      [dryRunId],
    );
    await db.pool.query(
      `INSERT INTO drift_event (run_id, source_id, change, field, previous_field, previous_type, current_type, confidence, action) VALUES
       ($1, 'csv-a', 'renamed', 'current_price', 'price', 'number', 'number', 0.9, 'applied'),
       ($1, 'csv-a', 'added', 'extra', NULL, NULL, 'string', NULL, 'reported'),
       ($2, 'csv-b', 'type_changed', 'market_cap_rank', NULL, 'number', 'string', NULL, 'reported'),
       ($3, 'csv-a', 'removed', 'dry', NULL, 'string', NULL, NULL, 'reported')`,
      [runs.a, runs.b, dryRunId],
    );
    const settings = loadSettings({
      API_KEY,
      ETL_TASK_QUEUE: queue,
      ETL_SOURCES_FILE: sourcesFile,
      TEMPORAL_UI_URL: 'http://ui.test',
    });
    api = createApp({ db, temporal: env.client, log: quietLog, settings }).listen(0, '127.0.0.1');
    await once(api, 'listening');
    url = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  });
  after(async () => {
    api?.close();
    await db?.close();
    await env?.teardown();
  });

  /** The real resolveEntities activity, outside a workflow. */
  async function resolve(runId: number, sourceId: string) {
    const activities = createActivities({ db, sourcesFile });
    const mock = new MockActivityEnvironment(
      { workflowExecution: { workflowId: `operator-${sourceId}`, runId: `${sourceId}-${runId}` } },
      { logger: new DefaultLogger('ERROR', () => {}) },
    );
    return mock.run(activities.resolveEntities, { runId, sourceId });
  }

  async function request(path: string, init: RequestInit = {}): Promise<Res> {
    const res = await fetch(url + path, init);
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, type: res.headers.get('content-type') ?? '', text, body };
  }
  const get = (path: string) => request(path);
  const send = (method: string, path: string, body?: unknown, key: string | null = API_KEY) =>
    request(path, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(key ? { 'x-api-key': key } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  function assertProblem(res: Res, status: number, param?: string): void {
    assert.equal(res.status, status, `${status} expected, got ${res.status}: ${res.text}`);
    assert.match(res.type, /application\/problem\+json/);
    assert.equal(res.body.status, status);
    if (param)
      assert.ok(
        res.body.invalid_params?.some((p: { name: string }) => p.name === param),
        `names ${param}: ${res.text}`,
      );
  }
  /** Every page of a keyset list, following next_cursor. */
  async function allPages(path: string): Promise<{ pages: number; items: any[] }> {
    const items: any[] = [];
    let pages = 0;
    let next: string | null = null;
    do {
      const res = await get(`${path}${path.includes('?') ? '&' : '?'}${next ? `cursor=${next}` : ''}`);
      assert.equal(res.status, 200, res.text);
      items.push(...res.body.data);
      next = res.body.next_cursor;
      pages++;
    } while (next);
    return { pages, items };
  }
  const recordId = async (source: string, key: string) =>
    Number(
      (await db.pool.query('SELECT id FROM record WHERE source_id = $1 AND source_key = $2', [source, key])).rows[0].id,
    );
  const linkOf = async (source: string, key: string) =>
    (
      await db.pool.query(
        'SELECT l.entity_id, l.rule, l.evidence FROM entity_link l JOIN record r ON r.id = l.record_id WHERE r.source_id = $1 AND r.source_key = $2',
        [source, key],
      )
    ).rows[0];

  describe('GET /sources', () => {
    it('lists the configured sources in file order with their last outcome, dry runs left out, URLs without query or credentials', async () => {
      const res = await get('/sources');
      assert.equal(res.status, 200, res.text);
      SourceList.parse(res.body);
      assert.deepEqual(
        res.body.data.map((s: { id: string }) => s.id),
        ['csv-a', 'csv-b', 'gecko', 'news'],
      );
      const [a, b, gecko, news] = res.body.data;
      assert.deepEqual(
        [a.kind, a.record_kind, a.delete_policy, a.series, a.url],
        ['csv', 'asset', 'snapshot', 'auto', './a.csv'],
      );
      assert.equal(b.series, 'snapshot');
      assert.equal(news.series, undefined, 'a feed has no series');
      assert.equal(news.record_kind, 'article');
      assert.equal(gecko.url, 'https://api.example.com/api/v3/coins/markets');
      assert.doesNotMatch(res.text, /SECRET123|hunter2|REDACTED/);
      assert.equal(gecko.last_run, null);
      assert.equal(a.last_run.run_id, runs.a, 'not the newer dry run');
      // the stages ran without the workflow around them, so no finishRun closed the source run
      assert.deepEqual(
        [a.last_run.status, a.last_run.parsed, a.last_run.staged, a.last_run.quarantined, a.last_run.inserted],
        ['running', 6, 3, 3, 3],
      );
      assert.equal(b.last_run.run_id, runs.b);
      assert.equal(typeof a.last_run.started_at, 'string');
    });
  });

  describe('GET /quarantine', () => {
    it('pages newest first by cursor, every row once, with the fields as sent; dry runs left out', async () => {
      const expected = (
        await db.pool.query('SELECT id FROM quarantine WHERE run_id <> $1 ORDER BY id DESC', [dryRunId])
      ).rows.map((r) => Number(r.id));
      assert.equal(expected.length, 5);
      const { pages, items } = await allPages('/quarantine?limit=2');
      assert.equal(pages, 3);
      assert.deepEqual(
        items.map((q) => q.id),
        expected,
      );
      const first = await get('/quarantine?limit=2');
      QuarantinePage.parse(first.body);
      assert.equal(first.body.limit, 2);
      const item = items.find((q) => q.source_key === 'bad-2');
      assert.deepEqual([item.source, item.run_id, item.raw_position], ['csv-a', runs.a, 4]);
      assert.equal(item.fields.last_updated, '31-31-2021', 'the value as the source sent it');
      assert.match(item.reason, /31-31-2021/);
      assert.equal(typeof item.raw_payload_id, 'number');
    });

    it('filters by source, run and reason (a case-insensitive substring, taken literally)', async () => {
      const b = await get('/quarantine?source=csv-b');
      assert.deepEqual(b.body.data.map((q: { source_key: string }) => q.source_key).sort(), ['bad-4', 'bad-5']);
      assert.equal((await get(`/quarantine?run_id=${runs.a}`)).body.data.length, 3);
      assert.equal(
        (await get(`/quarantine?run_id=${dryRunId}`)).body.data.length,
        0,
        'a dry run has no quarantine to show',
      );
      const reason = (await get(`/quarantine?reason=${encodeURIComponent('"NEVER"')}`)).body.data;
      assert.deepEqual(
        reason.map((q: { source_key: string }) => q.source_key),
        ['bad-4'],
      );
      assert.equal((await get('/quarantine?reason=%25')).body.data.length, 0, '% is no wildcard');
    });

    it('GET /quarantine/:id answers one row; 404 for unknown ids and rows of dry runs', async () => {
      const [row] = (await get('/quarantine?limit=1')).body.data;
      const one = await get(`/quarantine/${row.id}`);
      assert.equal(one.status, 200);
      QuarantineDetail.parse(one.body);
      assert.deepEqual(one.body.data, row);
      const dry = (await db.pool.query('SELECT id FROM quarantine WHERE run_id = $1', [dryRunId])).rows[0].id;
      assertProblem(await get(`/quarantine/${dry}`), 404);
      assertProblem(await get('/quarantine/99999'), 404);
      assertProblem(await get('/quarantine/abc'), 400, 'id');
    });

    it('answers bad input with a 400 naming the parameter', async () => {
      const first = await get('/quarantine?limit=1&source=csv-a');
      for (const [query, param] of [
        ['limit=0', 'limit'],
        ['limit=1001', 'limit'],
        ['run_id=0x1', 'run_id'],
        ['source=A_B', 'source'],
        ['cursor=!!', 'cursor'],
        ['cursor=abc', 'cursor'],
        [`cursor=${first.body.next_cursor}`, 'cursor'],
        ['reason=%07', 'reason'],
        ['x=1', 'x'],
      ] as const) {
        assertProblem(await get(`/quarantine?${query}`), 400, param);
      }
    });
  });

  describe('GET /drift-events', () => {
    it('pages newest first with what drift_event holds, dry runs left out; filters by source and run', async () => {
      const { items } = await allPages('/drift-events?limit=1');
      DriftEventPage.parse((await get('/drift-events')).body);
      assert.deepEqual(
        items.map((d) => [d.source, d.change, d.field]),
        [
          ['csv-b', 'type_changed', 'market_cap_rank'],
          ['csv-a', 'added', 'extra'],
          ['csv-a', 'renamed', 'current_price'],
        ],
      );
      const renamed = items[2];
      assert.deepEqual(
        [
          renamed.previous_field,
          renamed.previous_type,
          renamed.current_type,
          renamed.confidence,
          renamed.action,
          renamed.run_id,
        ],
        ['price', 'number', 'number', 0.9, 'applied', runs.a],
      );
      assert.equal((await get('/drift-events?source=csv-a')).body.data.length, 2);
      assert.equal((await get(`/drift-events?run_id=${runs.b}`)).body.data.length, 1);
      assert.equal((await get(`/drift-events?run_id=${dryRunId}`)).body.data.length, 0);
      assertProblem(await get('/drift-events?run_id=-1'), 400, 'run_id');
      const first = await get('/drift-events?limit=1');
      assertProblem(await get(`/drift-events?source=csv-a&cursor=${first.body.next_cursor}`), 400, 'cursor');
    });
  });

  describe('identity review and overrides', () => {
    it('lists the near miss real resolution left alone; an override decides it, real resolution obeys it, and forgets it once removed', async () => {
      const ethw = await recordId('csv-b', 'ethw');
      const ethereum = await recordId('csv-a', 'ethereum');
      const before = await linkOf('csv-b', 'ethw');
      assert.equal(before.rule, 'new');
      assert.notEqual(before.entity_id, (await linkOf('csv-a', 'ethereum')).entity_id);
      assert.equal((await linkOf('csv-b', 'btc')).rule, 'symbol+name', 'the clear match links');

      const review = await get('/entities/review');
      assert.equal(review.status, 200, review.text);
      ReviewPage.parse(review.body);
      const item = review.body.data.find((r: { record: { id: number } }) => r.record.id === ethw);
      assert.ok(item, `the near miss is listed: ${review.text}`);
      assert.equal(item.reason, 'near_miss');
      assert.deepEqual(
        [item.record.source, item.record.source_key, item.record.symbol, item.record.name],
        ['csv-b', 'ethw', 'ETH', 'Ethereum PoW'],
      );
      assert.deepEqual(
        [item.candidate.record_id, item.candidate.source_key, item.candidate.name],
        [ethereum, 'ethereum', 'Ethereum'],
      );
      assert.equal(item.candidate.entity_id, Number((await linkOf('csv-a', 'ethereum')).entity_id));
      assert.ok(item.confidence >= REVIEW_FLOOR && item.confidence < LINK_THRESHOLD, `${item.confidence}`);
      assert.deepEqual(item.evidence.symbol, ['ETH', 'ETH']);
      assert.ok(item.evidence.name_similarity > 0.5);
      assert.equal((await get('/entities/review?kind=article')).body.data.length, 0);

      // force: the pair leaves the review at once, and the next resolution links it
      const made = await send('POST', '/overrides', {
        kind: 'asset',
        action: 'force',
        left: { source: 'csv-b', key: 'ethw' },
        right: { source: 'csv-a', key: 'ethereum' },
        reason: 'same chain',
      });
      assert.equal(made.status, 201, made.text);
      OverrideResponse.parse(made.body);
      const override = made.body.data;
      assert.deepEqual(
        [override.kind, override.action, override.left, override.right, override.reason, override.removed_at],
        ['asset', 'force', { source: 'csv-b', key: 'ethw' }, { source: 'csv-a', key: 'ethereum' }, 'same chain', null],
      );
      assert.ok(
        !(await get('/entities/review')).body.data.some((r: { record: { id: number } }) => r.record.id === ethw),
        'decided: no longer listed',
      );
      await resolve(runs.b, 'csv-b');
      const forced = await linkOf('csv-b', 'ethw');
      assert.equal(forced.rule, 'override');
      assert.equal(forced.entity_id, (await linkOf('csv-a', 'ethereum')).entity_id);

      // the same decision again changes nothing; the opposite one, either way round, is a conflict
      const again = await send('POST', '/overrides', {
        kind: 'asset',
        action: 'force',
        left: { source: 'csv-a', key: 'ethereum' },
        right: { source: 'csv-b', key: 'ethw' },
      });
      assert.equal(again.status, 200, again.text);
      assert.equal(again.body.data.id, override.id);
      const contradiction = await send('POST', '/overrides', {
        kind: 'asset',
        action: 'forbid',
        left: { source: 'csv-a', key: 'ethereum' },
        right: { source: 'csv-b', key: 'ethw' },
      });
      assertProblem(contradiction, 409);
      assert.match(contradiction.body.detail, new RegExp(`override ${override.id}`));
      // one record forced together with two of one source cannot hold
      assertProblem(
        await send('POST', '/overrides', {
          kind: 'asset',
          action: 'force',
          left: { source: 'csv-b', key: 'btc' },
          right: { source: 'csv-a', key: 'ethereum' },
        }),
        409,
      );

      const listed = await get('/overrides');
      OverridePage.parse(listed.body);
      assert.deepEqual(
        listed.body.data.map((o: { id: number }) => o.id),
        [override.id],
      );

      // removal: kept as history, and the next resolution goes by the rules again
      const removed = await send('DELETE', `/overrides/${override.id}`);
      assert.equal(removed.status, 200, removed.text);
      assert.equal(typeof removed.body.data.removed_at, 'string');
      assertProblem(await send('DELETE', `/overrides/${override.id}`), 404);
      assert.deepEqual((await get('/overrides')).body.data, []);
      assert.deepEqual(
        (await get('/overrides?include_removed=true')).body.data.map((o: { id: number; removed_at: string }) => [
          o.id,
          o.removed_at,
        ]),
        [[override.id, removed.body.data.removed_at]],
      );
      await resolve(runs.b, 'csv-b');
      const after = await linkOf('csv-b', 'ethw');
      assert.equal(after.rule, 'new');
      assert.notEqual(after.entity_id, (await linkOf('csv-a', 'ethereum')).entity_id);
      assert.equal(after.evidence.review.reason, 'near_miss');
      assert.ok(
        (await get('/entities/review')).body.data.some((r: { record: { id: number } }) => r.record.id === ethw),
        'undecided again: listed',
      );

      // deciding the pair again revives the removed row
      const revived = await send('POST', '/overrides', {
        kind: 'asset',
        action: 'forbid',
        left: { source: 'csv-b', key: 'ethw' },
        right: { source: 'csv-a', key: 'ethereum' },
        reason: 'not the same after all',
      });
      assert.equal(revived.status, 201, revived.text);
      assert.deepEqual(
        [revived.body.data.id, revived.body.data.action, revived.body.data.removed_at],
        [override.id, 'forbid', null],
      );
      assert.ok(
        !(await get('/entities/review')).body.data.some((r: { record: { id: number } }) => r.record.id === ethw),
      );
      await send('DELETE', `/overrides/${override.id}`);
    });

    it('pages the review and the overrides by cursor', async () => {
      // near misses of csv-a's Cardano and of Bitcoin, from a third source resolved for real
      fs.appendFileSync(
        sourcesFile,
        ['  - id: csv-c', '    kind: csv', '    url: ./c.csv', '    delete_policy: never', ''].join('\n'),
      );
      fs.writeFileSync(
        path.join(dir, 'c.csv'),
        [
          HEADER,
          'ada-plus,ada,Cardano Plus,90,0.1,2021-06-24T03:32:20Z',
          'btc-cash,btc,Bitcoin Cash,11,500,2021-06-24T03:32:13Z',
          '',
        ].join('\n'),
      );
      const c = (await runStages(db, sourcesFile, 'csv-c')).runId;
      await resolve(c, 'csv-c');
      const { pages, items } = await allPages('/entities/review?limit=1');
      const ids = items.map((r) => r.record.id);
      assert.ok(ids.length >= 3, JSON.stringify(items));
      assert.equal(pages, ids.length);
      assert.equal(new Set(ids).size, ids.length, 'every row once');
      assert.deepEqual(
        ids,
        [...ids].sort((x, y) => y - x),
        'newest record first',
      );

      for (const key of ['bitcoin', 'cardano']) {
        const res = await send('POST', '/overrides', {
          kind: 'asset',
          action: 'forbid',
          left: { source: 'csv-c', key: 'ada-plus' },
          right: { source: 'csv-a', key },
        });
        assert.equal(res.status, 201, res.text);
      }
      const overrides = await allPages('/overrides?limit=1&include_removed=true');
      assert.equal(overrides.items.length, 3);
      assert.equal(new Set(overrides.items.map((o) => o.id)).size, 3);
      assert.ok(
        !(await allPages('/entities/review?limit=1')).items.some((r) => r.record.source_key === 'ada-plus'),
        'forbidden: decided',
      );
    });

    it('refuses overrides that cannot be: unknown records (404 naming which), wrong kind, the same record, one source for force', async () => {
      const body = (over: Record<string, unknown>) => ({
        kind: 'asset',
        action: 'force',
        left: { source: 'csv-b', key: 'btc' },
        right: { source: 'csv-a', key: 'bitcoin' },
        ...over,
      });
      const missing = await send('POST', '/overrides', body({ right: { source: 'csv-a', key: 'nope' } }));
      assertProblem(missing, 404);
      assert.match(missing.body.detail, /^right: no record csv-a\/nope/);
      assert.match(
        (await send('POST', '/overrides', body({ left: { source: 'csv-z', key: 'btc' } }))).body.detail,
        /^left:/,
      );
      assertProblem(await send('POST', '/overrides', body({ kind: 'article' })), 400, 'kind');
      assertProblem(await send('POST', '/overrides', body({ right: { source: 'csv-b', key: 'btc' } })), 400, 'right');
      assertProblem(
        await send('POST', '/overrides', body({ right: { source: 'csv-b', key: 'ethw' } })),
        400,
        'right.source',
      );
      const forbidWithin = await send(
        'POST',
        '/overrides',
        body({ action: 'forbid', right: { source: 'csv-b', key: 'ethw' } }),
      );
      assert.equal(forbidWithin.status, 201, 'two records of one source may be kept apart');
      assertProblem(await send('POST', '/overrides', body({ action: 'merge' })), 400, 'action');
      assertProblem(await send('POST', '/overrides', body({ extra: 1 })), 400, 'extra');
      assertProblem(await send('POST', '/overrides', {}), 400);
      assertProblem(await send('POST', '/overrides', body({}), null), 401);
      assertProblem(await send('POST', '/overrides', body({}), 'wrong-key'), 401);
      assertProblem(await send('DELETE', '/overrides/1', undefined, null), 401);
      assertProblem(await send('DELETE', '/overrides/424242'), 404);
      assertProblem(await send('DELETE', '/overrides/0'), 400, 'id');
      assertProblem(await get('/overrides?include_removed=yes'), 400, 'include_removed');
      const other = await send('PUT', '/overrides/1');
      assertProblem(other, 405);
    });
  });

  describe('POST /reprocess', () => {
    it('starts the reprocess workflow on the task queue with the run, sources and dry_run', async () => {
      const res = await send('POST', '/reprocess', { run_id: runs.a, source_ids: ['csv-a'], dry_run: true });
      assert.equal(res.status, 202, res.text);
      ReprocessStarted.parse(res.body);
      assert.match(res.body.workflow_id, /^etl-reprocess-[0-9a-f-]{36}$/);
      assert.deepEqual([res.body.run_id, res.body.source_ids, res.body.dry_run], [runs.a, ['csv-a'], true]);
      assert.equal(
        res.body.ui_url,
        `http://ui.test/namespaces/default/workflows/${res.body.workflow_id}/${res.body.temporal_run_id}`,
      );
      const handle = env.client.workflow.getHandle(res.body.workflow_id, res.body.temporal_run_id);
      const described = await handle.describe();
      assert.equal(described.type, 'reprocess');
      assert.equal(described.taskQueue, queue);
      const history = await handle.fetchHistory();
      const input = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads!.map((p) =>
        JSON.parse(Buffer.from(p.data!).toString('utf8')),
      );
      assert.deepEqual(input, [{ runId: runs.a, sourceIds: ['csv-a'], dryRun: true }]);
      await handle.terminate('test: no worker');

      const whole = await send('POST', '/reprocess', { run_id: runs.b });
      assert.equal(whole.status, 202, whole.text);
      assert.deepEqual([whole.body.source_ids, whole.body.dry_run], [null, false]);
      await env.client.workflow.getHandle(whole.body.workflow_id).terminate('test: no worker');
    });

    it('404 for an unknown run, 400 for sources the run did not ingest or bad input, 401 without the key', async () => {
      assertProblem(await send('POST', '/reprocess', { run_id: 424242 }), 404);
      assertProblem(await send('POST', '/reprocess', { run_id: runs.a, source_ids: ['csv-b'] }), 400, 'source_ids');
      assertProblem(await send('POST', '/reprocess', { run_id: runs.a, source_ids: ['nope'] }), 400, 'source_ids');
      assertProblem(await send('POST', '/reprocess', { run_id: String(runs.a) }), 400, 'run_id');
      assertProblem(await send('POST', '/reprocess', {}), 400, 'run_id');
      assertProblem(await send('POST', '/reprocess', { run_id: runs.a, dry_run: 'yes' }), 400, 'dry_run');
      assertProblem(await send('POST', '/reprocess', { run_id: runs.a }, null), 401);
    });
  });

  it('documents every operator endpoint in /openapi.json, the writes behind the API key', async () => {
    const spec = (await get('/openapi.json')).body;
    for (const [path, method] of [
      ['/sources', 'get'],
      ['/quarantine', 'get'],
      ['/quarantine/{id}', 'get'],
      ['/drift-events', 'get'],
      ['/entities/review', 'get'],
      ['/overrides', 'get'],
      ['/overrides', 'post'],
      ['/overrides/{id}', 'delete'],
      ['/reprocess', 'post'],
    ] as const) {
      assert.ok(spec.paths[path]?.[method], `${method} ${path}`);
    }
    for (const [path, method] of [
      ['/overrides', 'post'],
      ['/overrides/{id}', 'delete'],
      ['/reprocess', 'post'],
    ] as const) {
      assert.deepEqual(spec.paths[path][method].security, [{ ApiKey: [] }]);
    }
    assert.ok(spec.paths['/overrides'].post.responses['409']);
  });
});
