// What an operator sees: headless Chromium (Debian's, driven by playwright-core) opens a finished run in the
// Web UI of a real Temporal dev server, finds the run's summary and its per-source details there, and saves
// a screenshot (test-results/temporal-ui-run.png; README shows a copy from docs/).
import { TestWorkflowEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import type { RunSummary } from '../../src/activities/index.ts';
import type { Database } from '../../src/db/orm.ts';
import { projectRoot } from '../../src/settings.ts';
import { runDescription } from '../../src/temporal/schedule.ts';
import { createWorker } from '../../src/temporal/worker.ts';
import { ingest } from '../../src/workflows/index.ts';
import { ETL_OUTCOME, ETL_SOURCES } from '../../src/workflows/observability.ts';
import { freePort } from '../setup.ts';
import { csvSourceFixture, demoCsv, taskQueue, tempDir, temporalCli, testDatabase, truncateAll } from '../helpers.ts';

const SCREENSHOT = path.join(projectRoot, 'test-results', 'temporal-ui-run.png');

function chromiumPath(): string {
  const found =
    process.env.CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
  if (!found || !fs.existsSync(found))
    throw new Error(`no Chromium: run the tests with 'make test', which installs it (scripts/ensure-chromium.sh)`);
  return found;
}

describe('Temporal Web UI (headless Chromium, real Temporal dev server)', () => {
  let env: TestWorkflowEnvironment;
  let db: Database;
  let browser: Browser;
  let ui: string;

  before(async function () {
    this.timeout(60_000);
    db = await testDatabase();
    const uiPort = await freePort();
    env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: temporalCli() },
        ui: true,
        uiPort,
        log: { format: 'json', level: 'error' },
        searchAttributes: [ETL_SOURCES, ETL_OUTCOME],
      },
    });
    ui = `http://127.0.0.1:${uiPort}`;
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
  after(async () => {
    await browser?.close();
    await env?.teardown();
    await db?.close();
  });

  it("shows a finished run with its summary and each source's stage, and saves a screenshot", async function () {
    this.timeout(90_000);
    await truncateAll(db);
    const source = csvSourceFixture(tempDir('ui'));
    source.write(demoCsv());
    const queue = taskQueue('ui');
    const worker = await createWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue: queue,
      db,
      sourcesFile: source.sourcesFile,
    });
    const workflowId = `etl-ingest-ui-${queue}`;
    const handle = await env.client.workflow.start(ingest, {
      taskQueue: queue,
      workflowId,
      args: [{}],
      ...runDescription(source.sourcesFile),
    });
    // the worker stays up while the page loads: Current Details is a query the worker answers
    await worker.runUntil(async () => {
      const summary = (await handle.result()) as RunSummary;
      assert.equal(summary.status, 'succeeded');
      const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
      try {
        await page.goto(
          `${ui}/namespaces/default/workflows/${workflowId}/${handle.firstExecutionRunId}/user-metadata`,
          { waitUntil: 'domcontentloaded' },
        );
        await page.getByText('Completed', { exact: false }).first().waitFor({ timeout: 30_000 });
        // the UI renders each markdown field in its own iframe, in the order Summary, Details, Current Details
        const rendered = page.locator('iframe[src*="/render?"]');
        const summaryText = rendered.nth(0).contentFrame().locator('body');
        const detailsText = rendered.nth(1).contentFrame().locator('body');
        const currentText = rendered.nth(2).contentFrame().locator('body');
        await summaryText.getByText('ETL ingest of 1 sources').waitFor({ timeout: 15_000 });
        await detailsText.getByText('csv-assets').first().waitFor({ timeout: 15_000 });
        await currentText.getByText('ETL run').first().waitFor({ timeout: 15_000 });
        assert.match(
          await summaryText.innerText(),
          /ETL ingest of 1 sources: fetch, store raw, normalize, dedupe, soft-delete orphans, link entities/,
        );
        assert.match(
          await detailsText.innerText(),
          /csv-assets \(csv, delete policy snapshot\)/,
          'the details list the sources with their kind',
        );
        const current = await currentText.innerText();
        assert.match(current, new RegExp(`ETL run ${summary.runId}`), 'the current details name the run');
        assert.match(current, /csv-assets: succeeded/, 'the current details say how each source ended');
        fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
        await page.screenshot({ path: SCREENSHOT, fullPage: false });
      } finally {
        await page.close();
      }
    });
    const png = fs.readFileSync(SCREENSHOT);
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
    assert.ok(png.length > 20_000, `a real page, not a blank one (${png.length} bytes)`);
  });
});
