// The fault knobs of the sources file (`faults:`) as units: the switch that allows them, and what each knob
// does to an attempt. The integration suite (sources.test.ts) runs fetch_failures, fail_at_record and
// latency_ms through real retries; crash_at_record is run here in a child process, since it kills its process.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { atRecord, beforeFetch } from '../../src/stages/faults.ts';
import { projectRoot } from '../../src/settings.ts';
import { parseSourcesConfig } from '../../src/sources/config.ts';
import { RetryableSourceError } from '../../src/sources/types.ts';

const yaml = (faults: string) => `sources:\n  - id: prices\n    kind: csv\n    url: x.csv\n    faults: { ${faults} }\n`;
const source = (faults: string) =>
  parseSourcesConfig(yaml(faults), '/etc/etl/sources.yaml', { ETL_FAULT_INJECTION: '1' })[0]!;
const never = new AbortController().signal;

describe('faults: in the sources file', () => {
  it('is refused unless ETL_FAULT_INJECTION=1, naming the switch', () => {
    for (const env of [{}, { ETL_FAULT_INJECTION: '0' }, { ETL_FAULT_INJECTION: 'true' }]) {
      assert.throws(
        () => parseSourcesConfig(yaml('fetch_failures: 1'), '/etc/etl/sources.yaml', env),
        /source 'prices': field 'faults': fault injection is off; set ETL_FAULT_INJECTION=1/,
      );
    }
    assert.equal(source('fetch_failures: 1').faults?.fetchFailures, 1);
    assert.throws(() => source('fetch_failure_rate: 2'), /fetch_failure_rate/);
    assert.throws(() => source('explode: true'), /explode/);
  });

  it('fetch_failures fails exactly the first N attempts, retryably', async () => {
    const s = source('fetch_failures: 2');
    for (const attempt of [1, 2])
      await assert.rejects(
        beforeFetch(s, attempt, never),
        (e: Error) => e instanceof RetryableSourceError && /attempt \d of the first 2/.test(e.message),
      );
    await beforeFetch(s, 3, never);
  });

  it('fetch_failure_rate fails every attempt at 1 and none at 0', async () => {
    for (let attempt = 1; attempt <= 20; attempt++)
      await assert.rejects(beforeFetch(source('fetch_failure_rate: 1'), attempt, never), RetryableSourceError);
    for (let attempt = 1; attempt <= 20; attempt++) await beforeFetch(source('fetch_failure_rate: 0'), attempt, never);
  });

  it('latency_ms waits before the fetch, and a cancelled attempt stops waiting', async () => {
    const started = performance.now();
    await beforeFetch(source('latency_ms: 200'), 1, never);
    assert.ok(performance.now() - started >= 199);
    const cancel = new AbortController();
    const waiting = beforeFetch(source('latency_ms: 600000'), 1, cancel.signal);
    cancel.abort();
    await assert.rejects(waiting, { name: 'AbortError' });
  });

  it('fail_at_record throws at that record of the first attempt only', () => {
    const s = source('fail_at_record: 7');
    atRecord(s, 1, 6);
    assert.throws(() => atRecord(s, 1, 7), /source 'prices': injected failure at record 7/);
    atRecord(s, 2, 7);
  });

  it('crash_at_record kills the process with SIGKILL at that record of the first attempt', () => {
    const script = (attempt: number) => `
      import { atRecord } from ${JSON.stringify(path.join(projectRoot, 'src', 'stages', 'faults.ts'))};
      const source = { id: 'prices', faults: { crashAtRecord: 3 } };
      for (let position = 0; position < 5; position++) atRecord(source, ${attempt}, position);
      console.log('survived');`;
    const run = (attempt: number) =>
      spawnSync(process.execPath, ['--input-type=module', '-e', script(attempt)], { encoding: 'utf8' });
    const first = run(1);
    assert.equal(first.signal, 'SIGKILL');
    assert.equal(first.stdout, '');
    const retry = run(2);
    assert.equal(retry.status, 0, retry.stderr);
    assert.equal(retry.stdout.trim(), 'survived');
  });
});
