// Replays the recorded histories of real runs (test/replay/histories, written by `npm run replay:record`)
// against the current workflow code. A change that would make a running execution non-deterministic fails
// here: version it with patched() (see README, "Failure modes and recovery"), or re-record deliberately.
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../src/settings.ts';
import { workflowsPath } from '../../src/temporal/worker.ts';

const dir = path.join(projectRoot, 'test', 'replay', 'histories');

describe('workflow replay against recorded histories', () => {
  it('replays every recorded run without a determinism error', async () => {
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
    assert.deepEqual(files, ['ingest-first-run.json', 'ingest-partial.json', 'ingest-unchanged.json', 'reprocess-dry-run.json', 'retention.json']);
    const histories = files.map((f) => ({ workflowId: path.basename(f, '.json'), history: historyFromJSON(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))) }));
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowsPath, replayName: 'recorded-runs' }, histories)) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    assert.deepEqual(failures, []);
  });

  it('fails on a workflow change that breaks a recorded run', async () => {
    // the same workflows with the extract stages swapped: a running execution could not continue on this code
    const broken = path.join(fs.mkdtempSync(path.join(projectRoot, '.data', 'replay-')), 'workflows.ts');
    const source = fs.readFileSync(path.join(projectRoot, 'src', 'workflows', 'ingest.ts'), 'utf8');
    const swapped = source.replace('const fetched = await stages.fetchSource(step);', 'await stages.resolveEntities(step);\n    const fetched = await stages.fetchSource(step);');
    assert.notEqual(swapped, source, 'the test edits the real workflow');
    fs.writeFileSync(broken, swapped.replaceAll("'../activities/index.ts'", `'${path.join(projectRoot, 'src', 'activities', 'index.ts')}'`));
    try {
      const history = historyFromJSON(JSON.parse(fs.readFileSync(path.join(dir, 'ingest-first-run.json'), 'utf8')));
      await assert.rejects(Worker.runReplayHistory({ workflowsPath: broken, replayName: 'broken' }, history), /[Nn]ondetermin|DeterminismViolation/);
    } finally {
      fs.rmSync(path.dirname(broken), { recursive: true, force: true });
    }
  });
});
