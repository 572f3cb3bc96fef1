// Replays the recorded histories of real runs (test/replay/histories, written by `npm run replay:record`)
// against the current workflow code. A change that would make a running execution non-deterministic fails
// here: version it with patched() (see README, "Failure modes and recovery"), or re-record deliberately.
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../src/settings.ts';
import { workflowsPath } from '../../src/temporal/bundle.ts';

const dir = path.join(projectRoot, 'test', 'replay', 'histories');

describe('workflow replay against recorded histories', () => {
  it('replays every recorded run without a determinism error', async () => {
    const files = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort();
    assert.deepEqual(files, [
      'ingest-first-run.json',
      'ingest-in-parts.json',
      'ingest-partial.json',
      'ingest-unchanged.json',
      'reprocess-dry-run.json',
      'retention.json',
    ]);
    const histories = files.map((f) => ({
      workflowId: path.basename(f, '.json'),
      history: historyFromJSON(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))),
    }));
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowsPath, replayName: 'recorded-runs' }, histories)) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    assert.deepEqual(failures, []);
  });

  it('fails on a workflow change that breaks a recorded run', async () => {
    // a copy of the workflows with one more activity before the fetch: a running execution could not continue on it
    const copy = fs.mkdtempSync(path.join(projectRoot, '.data', 'replay-'));
    const workflows = path.join(projectRoot, 'src', 'workflows');
    for (const file of fs.readdirSync(workflows)) {
      const source = fs
        .readFileSync(path.join(workflows, file), 'utf8')
        .replaceAll("'../activities/index.ts'", `'${path.join(projectRoot, 'src', 'activities', 'index.ts')}'`);
      fs.writeFileSync(path.join(copy, file), source);
    }
    const ingest = fs.readFileSync(path.join(copy, 'ingest.ts'), 'utf8');
    const broken = ingest.replace(
      /(\n\s*)(const fetched = await [^;]*fetchSource\(step\);)/,
      '$1await stage("extra").resolveEntities(step);$1$2',
    );
    assert.notEqual(broken, ingest, 'the test changes the real workflow');
    fs.writeFileSync(path.join(copy, 'ingest.ts'), broken);
    try {
      const history = historyFromJSON(JSON.parse(fs.readFileSync(path.join(dir, 'ingest-first-run.json'), 'utf8')));
      await assert.rejects(
        Worker.runReplayHistory({ workflowsPath: path.join(copy, 'index.ts'), replayName: 'broken' }, history),
        /[Nn]ondetermin|DeterminismViolation/,
      );
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });
});
