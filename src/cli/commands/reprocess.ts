// etl reprocess: normalize a past run's stored payloads again with the current code (POST /reprocess); with
// --wait, the workflow's result from Temporal: what each source's merge changed, or would change (--dry-run).
import { CliError, EXIT, flag, list, positiveInt, type Command, type Invocation } from '../command.ts';
import { count, table } from '../format.ts';
import type { ReprocessStarted } from '../types.ts';
import type { ReprocessResult } from '../../workflows/reprocess.ts';

export const reprocessCommands: Command[] = [
  {
    words: ['reprocess'],
    args: 'RUN',
    summary: "normalize a past run's stored payloads again (--dry-run: only report what would change)",
    description: [
      'The sources are not called; nothing is soft-deleted. --wait waits on the workflow through Temporal (TEMPORAL_ADDRESS)',
      'and prints per source what its merge changed (or would change). Exits 0 when every source succeeded, 1 otherwise.',
    ].join('\n'),
    positionals: { min: 1, max: 1 },
    options: {
      source: { type: 'string', multiple: true, value: 'ID', description: 'only this source of the run' },
      'dry-run': {
        type: 'boolean',
        description: 'report what the merge would insert, update or restore; write nothing',
      },
      wait: { type: 'boolean', description: 'wait for the workflow and print its result' },
    },
    async run(inv) {
      const runId = positiveInt(inv.positionals[0], 'the run id')!;
      const sources = list(inv, 'source');
      const { body: started } = await inv.api.post<ReprocessStarted>('/reprocess', {
        run_id: runId,
        dry_run: flag(inv, 'dry-run'),
        ...(sources.length ? { source_ids: sources } : {}),
      });
      if (!flag(inv, 'wait')) {
        if (inv.json) {
          inv.out.json(started);
          return EXIT.ok;
        }
        inv.out.line(
          `started ${started.dry_run ? 'a dry run of ' : ''}reprocessing run ${started.run_id}: ${started.workflow_id}`,
        );
        inv.out.line(`Temporal Web UI: ${started.ui_url}`);
        return EXIT.ok;
      }
      if (!inv.json)
        inv.out.line(
          `${started.dry_run ? 'dry run: ' : ''}reprocessing run ${started.run_id} (${started.workflow_id}) ...`,
        );
      const result = await workflowResult(started);
      if (result === 'detached') {
        inv.out.note(`detached; the reprocess goes on: ${started.ui_url} (etl runs)`);
        if (inv.json) inv.out.json({ started, detached: true });
        return EXIT.detached;
      }
      const code = result.sources.every((s) => s.status === 'succeeded') ? EXIT.ok : EXIT.failed;
      if (inv.json) {
        inv.out.json({ started, result });
        return code;
      }
      printResult(inv, result);
      return code;
    },
  },
];

/** Waits on the workflow through Temporal, as the services connect to it; Ctrl-C stops waiting, not the workflow. */
async function workflowResult(started: ReprocessStarted): Promise<ReprocessResult | 'detached'> {
  const { connectClient, temporalTarget } = await import('../../temporal/connection.ts');
  const { WorkflowFailedError } = await import('@temporalio/client');
  const target = temporalTarget();
  let client: Awaited<ReturnType<typeof connectClient>>;
  try {
    client = await connectClient(target); // gives up after the client's connect timeout (10 s)
  } catch (error) {
    throw new CliError(
      EXIT.unreachable,
      `cannot reach Temporal at ${target.connectionOptions.address} (${(error as Error).message}); TEMPORAL_ADDRESS sets where it is`,
    );
  }
  let onSigint!: () => void;
  const detached = new Promise<'detached'>((resolve) => {
    onSigint = () => resolve('detached');
    process.once('SIGINT', onSigint);
  });
  try {
    return await Promise.race([
      client.workflow.getHandle<() => Promise<ReprocessResult>>(started.workflow_id, started.temporal_run_id).result(),
      detached,
    ]);
  } catch (error) {
    if (error instanceof WorkflowFailedError)
      throw new CliError(EXIT.failed, `the reprocess failed: ${error.cause?.message ?? error.message}`);
    throw error;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

function printResult(inv: Invocation, result: ReprocessResult): void {
  inv.out.line(`run ${result.runId} ${result.status}${result.dryRun ? ' (dry run: nothing was written)' : ''}`);
  inv.out.line();
  const verb = result.dryRun ? 'would ' : '';
  inv.out.line(
    table(
      ['source', 'status', 'staged', `${verb}insert`, `${verb}update`, `${verb}restore`, 'unchanged', 'note'],
      result.sources.map((s) => {
        const c = result.changes[s.sourceId];
        return [
          s.sourceId,
          s.status,
          c?.staged,
          c?.inserted,
          c?.updated,
          c?.restored,
          c?.unchanged,
          s.error ?? c?.superseded ?? c?.limited,
        ];
      }),
      80,
    ),
  );
  for (const [source, c] of Object.entries(result.changes)) {
    if (!('sample' in c) || !c.sample.length) continue;
    inv.out.line();
    inv.out.line(`${source}, for example (${count(c.sample.length)} keys):`);
    for (const s of c.sample) inv.out.line(`  ${s.change.padEnd(7)}  ${s.key}`);
  }
}
