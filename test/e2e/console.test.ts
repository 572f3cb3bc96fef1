// The web console as a person sees it: headless Chromium (Debian's, driven by playwright-core) opens each
// page against make dev's stack with the demo data (scripts/dev.ts on free ports, its own data directory),
// checks what each page shows against the API's own answers, creates an override without and then with the
// API key, and writes a screenshot of each page to test-results/ (UPDATE_SCREENSHOTS=1: to docs/ too, which
// the README shows). Every page must load with no console error, no uncaught exception and no failed request.
// Page load times are printed, not asserted.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { projectRoot } from '../../src/settings.ts';
import { freePort } from '../setup.ts';
import { fetchJson, temporalCli, waitFor } from '../helpers.ts';

const API_KEY = 'console-test-key-0123456789abcdef';
const DEMO_SOURCES = ['coinpaprika', 'coingecko', 'csv-assets', 'csv-quirky', 'rss-news'];
// a run writes its screenshots under test-results/; UPDATE_SCREENSHOTS=1 also refreshes the README's in docs/
const SCREENSHOTS = path.join(projectRoot, 'test-results');
const DOCS = path.join(projectRoot, 'docs');

function chromiumPath(): string {
  const found =
    process.env.CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
  if (!found || !fs.existsSync(found))
    throw new Error(`no Chromium: run the tests with 'make test', which installs it (scripts/ensure-chromium.sh)`);
  return found;
}

/** A chart's element as the console leaves it: its uPlot instance on it (the tests read the chart's state, not pixels). */
interface Charted {
  uplot: { series: { label?: string }[]; data: (number | null)[][] };
}

interface Opened {
  page: Page;
  /** Console errors, uncaught exceptions and failed requests since the page opened. */
  problems: string[];
}

describe('the web console (headless Chromium, against make dev with the demo data)', () => {
  const dataDir = path.join(projectRoot, '.data', `console-test-${process.pid}`);
  let dev: ChildProcess | undefined;
  const output: string[] = [];
  let api: string;
  let temporalUi: string;
  let browser: Browser;
  const loadTimes: { page: string; loadedMs: number; renderMs: number }[] = [];

  before(async function () {
    this.timeout(240_000);
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
    temporalUi = `http://127.0.0.1:${ports.ui}`;
    Object.assign(env, {
      TEMPORAL_CLI: temporalCli(),
      ETL_DATA_DIR: dataDir,
      PORT: String(ports.api),
      ETL_SOURCE_SERVER_PORT: String(ports.sources),
      ETL_EMBEDDED_PG_PORT: String(ports.pg),
      ETL_DEV_TEMPORAL_PORT: String(ports.temporal),
      TEMPORAL_UI_URL: temporalUi,
      ETL_WORKER_METRICS_ADDRESS: `127.0.0.1:${ports.workerMetrics}`,
      API_KEY,
      LOG_LEVEL: 'warn',
    });
    api = `http://127.0.0.1:${ports.api}`;
    dev = spawn(process.execPath, [path.join(projectRoot, 'scripts', 'dev.ts')], {
      cwd: projectRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    dev.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    dev.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    await waitFor(
      'make dev has finished its first run',
      async () => {
        if (dev!.exitCode !== null) throw new Error(`make dev exited with ${dev!.exitCode}`);
        const res = await fetchJson(`${api}/runs/1`).catch(() => undefined);
        return res?.status === 200 && (res.body.data as { status: string }).status !== 'running' ? true : undefined;
      },
      200_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; make dev said:\n${output.join('').slice(-5000)}`);
    });
    // the flags keep Chromium from reaching for Google's services on a machine without internet
    browser = await chromium.launch({
      executablePath: chromiumPath(),
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  after(async function () {
    this.timeout(60_000);
    if (loadTimes.length) {
      console.log('      page load on the demo data (navigation start to rendered; render alone):');
      for (const t of loadTimes) console.log(`        ${t.page.padEnd(12)} ${t.loadedMs} ms  (${t.renderMs} ms)`);
    }
    await browser?.close();
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

  /** Opens a fresh tab at the console's `hash` and waits until the page `name` has rendered. */
  async function open(hash: string, name: string): Promise<Opened> {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error: ${m.text()} (${m.location().url})`);
    });
    page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
    page.on('requestfailed', (r) =>
      problems.push(`request failed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`),
    );
    await page.goto(`${api}/${hash}`, { waitUntil: 'load' });
    await ready(page, name);
    const [loadedMs, renderMs] = await page.$eval('main', (m) => [
      Number(m.dataset.loadedMs),
      Number(m.dataset.renderMs),
    ]);
    loadTimes.push({ page: name, loadedMs, renderMs });
    return { page, problems };
  }

  const ready = (page: Page, name: string) => page.waitForSelector(`main[data-ready="${name}"]`, { timeout: 30_000 });

  async function screenshot(page: Page, file: string): Promise<void> {
    const target = path.join(SCREENSHOTS, file);
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: target, fullPage: false });
    if (process.env.UPDATE_SCREENSHOTS === '1') fs.copyFileSync(target, path.join(DOCS, file));
    const png = fs.readFileSync(target);
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
    assert.ok(png.length > 20_000, `${file} is a real page, not a blank one (${png.length} bytes)`);
  }

  it('is served at / beside the JSON API and Swagger UI, under the CSP, with its chart library from npm', async () => {
    const root = await fetch(`${api}/`);
    assert.equal(root.status, 200);
    assert.match(root.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(root.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const html = await root.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    assert.doesNotMatch(html, /https?:\/\//, 'nothing from another origin');
    const uplot = await fetch(`${api}/console/vendor/uPlot.esm.js`);
    assert.equal(uplot.status, 200);
    assert.match(uplot.headers.get('content-type') ?? '', /javascript/);
    assert.ok((await uplot.text()).includes('export { uPlot as default }'), 'the ES module build of uPlot');
    assert.equal((await fetch(`${api}/docs/`)).status, 200);
    assert.equal((await fetchJson(`${api}/sources`)).status, 200);
  });

  it('overview: the five demo sources with their last outcome and recent runs, the schedule, Temporal links', async function () {
    this.timeout(60_000);
    const { page, problems } = await open('', 'overview');
    try {
      const rows = page.locator('table.sources tbody tr');
      assert.equal(await rows.count(), DEMO_SOURCES.length);
      const shown = await rows.locator('td:first-child strong').allInnerTexts();
      assert.deepEqual([...shown].sort(), [...DEMO_SOURCES].sort());
      const sources = (await fetchJson(`${api}/sources`)).body.data as {
        id: string;
        last_run: { run_id: number; status: string; parsed: number };
      }[];
      for (const source of sources) {
        const row = rows.filter({
          has: page.locator('td:first-child strong', { hasText: new RegExp(`^${source.id}$`) }),
        });
        const cells = await row.locator('td').allInnerTexts();
        assert.match(cells[1]!, new RegExp(`${source.last_run.status}\\s+run ${source.last_run.run_id}`));
        assert.equal(cells[3], String(source.last_run.parsed), `${source.id}: parsed`);
        // the sparkline is a uPlot chart of as many runs as the strip has squares
        const trend = await row.locator('.trend').evaluate((el) => ({
          runs: Number((el as any).dataset.runs),
          points: (el.querySelector('.spark') as unknown as Charted).uplot.data[0]!.length,
          ticks: el.querySelectorAll('.strip .tick').length,
        }));
        assert.ok(trend.runs >= 1, `${source.id} has runs: ${JSON.stringify(trend)}`);
        assert.equal(trend.points, trend.runs);
        assert.equal(trend.ticks, trend.runs);
      }
      const schedule = page.locator('[data-schedule]');
      assert.equal(await schedule.getAttribute('data-schedule'), 'active');
      assert.match(await schedule.innerText(), /Next run in/);
      const scheduleLink = await schedule.locator('a').first().getAttribute('href');
      assert.equal(scheduleLink, `${temporalUi}/namespaces/default/schedules/etl-ingest`);
      await screenshot(page, 'console-overview.png');
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  it('entity page: found by name, a chart with one line per source of an asset two sources quote, other intervals', async function () {
    this.timeout(60_000);
    const { page, problems } = await open('#/entities', 'entities');
    try {
      await page.fill('form.search input', 'bitcoin');
      await page.click('form.search button');
      await page.getByRole('heading', { name: 'Matches for “bitcoin”' }).waitFor();
      await ready(page, 'entities');
      await page.locator('table.entities a', { hasText: /^BTC$/ }).click();
      await ready(page, 'entity');
      const id = Number(/#\/entities\/(\d+)/.exec(page.url())?.[1]);
      assert.ok(id > 0, page.url());
      const quotes = (await fetchJson(`${api}/entities/${id}/quotes?interval=1d`)).body.data as {
        sources: { source: string; close_usd: string }[];
      }[];
      const quoting = [...new Set(quotes.flatMap((b) => b.sources.map((s) => s.source)))].sort();
      assert.ok(quoting.length >= 2, `two sources or more quote BTC: ${quoting}`);
      const chart = async () =>
        page.locator('#price-chart').evaluate((el) => {
          const u = (el as unknown as Charted).uplot;
          return {
            labels: u.series.slice(1).map((s) => s.label),
            // per line, how many buckets it has a value in
            drawn: u.data.slice(1).map((column) => column.filter((v) => v !== null).length),
          };
        });
      const drawn = await chart();
      assert.deepEqual(drawn.labels, [...quoting, 'spread']);
      for (const [i, source] of quoting.entries())
        assert.ok(drawn.drawn[i]! >= 1, `the ${source} line has points: ${JSON.stringify(drawn)}`);
      const closes = quotes.flatMap((b) => b.sources.map((s) => Number(s.close_usd)));
      const plotted = await page.locator('#price-chart').evaluate((el) =>
        (el as unknown as Charted).uplot.data
          .slice(1, -1)
          .flat()
          .filter((v) => v !== null),
      );
      assert.deepEqual([...plotted].sort(), [...closes].sort(), 'the lines are the bucket closes of the API');
      assert.equal(await page.locator('#volume-chart canvas').count(), 1, 'the volume is drawn below');
      assert.ok((await page.locator('table.records tbody tr').count()) >= 2, 'its records with their link evidence');

      await page.locator('.picker a', { hasText: '1w' }).click();
      await page.locator('.picker a[aria-current="true"]', { hasText: '1w' }).waitFor();
      await ready(page, 'entity');
      assert.deepEqual((await chart()).labels, [...quoting, 'spread']);
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  it('entity page: a price divergence between its sources is marked on the chart', async function () {
    this.timeout(60_000);
    const anomalies = (await fetchJson(`${api}/runs/1`)).body.anomalies as { rule: string; entity_id?: number }[];
    const diverging = anomalies.find((a) => a.rule === 'price_divergence')?.entity_id;
    assert.ok(diverging, 'the demo data has a price divergence');
    const { page, problems } = await open(`#/entities/${diverging}?interval=1h`, 'entity');
    try {
      const markers = Number(await page.locator('#price-chart').getAttribute('data-markers'));
      const stored = (await fetchJson(`${api}/entities/${diverging}`)).body.anomalies as unknown[];
      assert.equal(markers, stored.length);
      assert.ok(markers >= 1);
      assert.match(await page.locator('ul.anomalies').innerText(), /price divergence/);
      const series = await page
        .locator('#price-chart')
        .evaluate((el) => (el as unknown as Charted).uplot.series.length);
      assert.ok(series >= 4, 'time, two sources or more, and the spread');
      await screenshot(page, 'console-entity.png');
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  it("run page: each source's counts by stage as the API has them, the baseline, a link into the Temporal Web UI", async function () {
    this.timeout(60_000);
    const { page, problems } = await open('#/runs/1', 'run');
    try {
      const run = (await fetchJson(`${api}/runs/1`)).body.data as {
        ui_url: string | null;
        sources: { source: string; parsed: number; inserted: number; quarantined: number }[];
      };
      const rows = page.locator('table.counts tbody tr');
      assert.equal(await rows.count(), run.sources.length);
      const headings = await page.locator('table.counts thead th').allInnerTexts();
      const column = (name: string) => headings.findIndex((h) => h.trim().toLowerCase() === name);
      for (const s of run.sources) {
        const cells = await rows.filter({ hasText: s.source }).first().locator('td').allInnerTexts();
        assert.equal(cells[column('parsed')], String(s.parsed), `${s.source}: parsed`);
        assert.equal(cells[column('inserted')], String(s.inserted), `${s.source}: inserted`);
        assert.equal(cells[column('quarantined')], String(s.quarantined), `${s.source}: quarantined`);
      }
      assert.equal(await page.locator('table.baseline tbody tr').count(), run.sources.length);
      const quarantined = run.sources.reduce((n, s) => n + s.quarantined, 0);
      assert.equal(await page.locator('table.quarantine tbody tr').count(), Math.min(10, quarantined));
      const link = page.locator('a', { hasText: 'open in the Temporal Web UI' });
      if (run.ui_url) assert.equal(await link.getAttribute('href'), run.ui_url);
      else assert.equal(await link.count(), 0);
      await screenshot(page, 'console-run.png');
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  it('quarantine: filtered by source on the server, each row with its reason and raw fields', async function () {
    this.timeout(60_000);
    const { page, problems } = await open('#/quarantine', 'quarantine');
    try {
      await page.selectOption('form.filters select', 'csv-quirky');
      const expected = (await fetchJson(`${api}/quarantine?source=csv-quirky`)).body.data as { reason: string }[];
      const all = (await fetchJson(`${api}/quarantine`)).body.data as unknown[];
      assert.ok(expected.length > 0 && all.length > expected.length, 'other sources quarantined rows too');
      const rows = page.locator('table.quarantine tbody tr');
      assert.equal(await rows.count(), all.length);
      await page.click('form.filters button');
      await waitFor('the filtered list', async () => ((await rows.count()) === expected.length ? true : undefined));
      await ready(page, 'quarantine');
      assert.match(page.url(), /#\/quarantine\?source=csv-quirky$/);
      assert.deepEqual(
        await rows.locator('td:nth-child(2)').allInnerTexts(),
        expected.map(() => 'csv-quirky'),
      );
      assert.deepEqual(
        await rows.locator('.reason').allInnerTexts(),
        expected.map((q) => q.reason),
      );
      assert.ok((await rows.first().locator('dl.fields dt').count()) > 0, 'the raw fields are shown');
      await screenshot(page, 'console-quarantine.png');
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  it('review: an override made without the key fails and asks for it; with the key it is made', async function () {
    this.timeout(60_000);
    const { page, problems } = await open('#/review', 'review');
    try {
      const queue = (await fetchJson(`${api}/entities/review`)).body.data as {
        record: { id: number; source: string; source_key: string };
        candidate: { source: string; source_key: string };
      }[];
      assert.ok(queue.length > 0, 'the demo data has near misses to review');
      const item = queue[0]!;
      const card = page.locator(`.review-item[data-record="${item.record.id}"]`);
      assert.equal(await page.evaluate(() => sessionStorage.getItem('etl.apiKey')), null);

      await card.locator('button[data-action="forbid"]').click();
      await card.locator('.status.error').waitFor();
      assert.match(await card.locator('.status').innerText(), /^401: an API key is needed/);
      assert.ok(await page.locator('#key-dialog').evaluate((d) => (d as any).open), 'it asks for the key');
      // the refused request is the one error this page may log (Chromium reports the 401 response)
      const refused = problems.filter((p) => /status of 401/.test(p));
      assert.ok(refused.length <= 1, JSON.stringify(problems));
      problems.splice(0, problems.length, ...problems.filter((p) => !/status of 401/.test(p)));
      const none = (await fetchJson(`${api}/overrides`)).body.data as unknown[];
      assert.equal(none.length, 0, 'nothing was made without the key');

      await page.fill('#key-dialog input[name="key"]', API_KEY);
      await page.click('#key-dialog button[type="submit"]');
      assert.equal(await page.locator('#key-button').innerText(), 'API key: set');
      await card.locator('button[data-action="forbid"]').click();
      await card.locator('.status.ok').waitFor();
      assert.match(await card.locator('.status').innerText(), /^Override \d+ made: forbid/);
      const made = (await fetchJson(`${api}/overrides`)).body.data as {
        action: string;
        left: { source: string; key: string };
        right: { source: string; key: string };
      }[];
      assert.equal(made.length, 1);
      assert.equal(made[0]!.action, 'forbid');
      assert.deepEqual(made[0]!.left, { source: item.record.source, key: item.record.source_key });
      assert.deepEqual(made[0]!.right, { source: item.candidate.source, key: item.candidate.source_key });
      // kept for this tab only
      assert.equal(await page.evaluate(() => sessionStorage.getItem('etl.apiKey')), API_KEY);
      assert.equal(await page.evaluate(() => localStorage.length), 0);
      await screenshot(page, 'console-review.png');
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });
});
