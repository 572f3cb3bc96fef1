// A cluster that make dev did not start (self-hosted, docker compose) gets the run's search attributes from
// ensureSearchAttributes through the operator API; without them every run would fail to start.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { SEARCH_ATTRIBUTES, ensureSearchAttributes } from '../../src/temporal/search-attributes.ts';
import { quietLog, temporalCli } from '../helpers.ts';

describe('search attributes on a cluster without them (real Temporal dev server)', () => {
  let env: TestWorkflowEnvironment;

  before(async function () {
    this.timeout(30_000);
    env = await TestWorkflowEnvironment.createLocal({
      server: { executable: { type: 'existing-path', path: temporalCli() }, log: { format: 'json', level: 'error' } },
    });
  });
  after(async () => {
    await env?.teardown();
  });

  it('registers EtlSources and EtlOutcome with their types, and leaves them alone the second time', async () => {
    const listed = async () =>
      (await env.client.connection.operatorService.listSearchAttributes({ namespace: 'default' })).customAttributes ??
      {};
    assert.ok(!('EtlOutcome' in (await listed())), 'a fresh dev server has none of them');
    await ensureSearchAttributes(env.client, 'default', quietLog);
    const registered = await listed();
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) assert.equal(registered[name], type, name);
    await ensureSearchAttributes(env.client, 'default', quietLog);
    assert.deepEqual(await listed(), registered);
  });
});
