// etl runs: the list of runs, and one run in detail (counts per source, anomalies, errors, the Web UI link).
import { EXIT, positiveInt, text, type Command, type Invocation } from '../command.ts';
import { duration, fields, table, when } from '../format.ts';
import type { RunDetail, RunInfo, RunPage } from '../types.ts';

export const runsCommands: Command[] = [
  {
    words: ['runs'],
    summary: 'runs, newest first, with their outcome per source',
    options: {
      limit: { type: 'string', value: 'N', description: 'how many (default 20)' },
      source: { type: 'string', value: 'ID', description: 'only runs that ingested this source' },
      status: { type: 'string', value: 'STATUS', description: 'running, succeeded, partial or failed' },
    },
    async run(inv) {
      const { body } = await inv.api.get<RunPage>('/runs', {
        limit: positiveInt(text(inv, 'limit'), '--limit'),
        source: text(inv, 'source'),
        status: text(inv, 'status'),
      });
      if (inv.json) {
        inv.out.json(body);
        return EXIT.ok;
      }
      if (!body.data.length) {
        inv.out.line('no runs');
        return EXIT.ok;
      }
      inv.out.line(
        table(
          ['run', 'status', 'started', 'took', 'sources', 'workflow'],
          body.data.map((r) => [
            String(r.id),
            runLabel(r),
            when(r.started_at),
            duration(r.duration_ms),
            sourceSummary(r),
            r.workflow_id,
          ]),
          80,
        ),
      );
      if (body.total > body.data.length) inv.out.line(`(${body.data.length} of ${body.total}; --limit for more)`);
      return EXIT.ok;
    },
  },
  {
    words: ['runs', 'show'],
    args: 'ID',
    summary: 'one run: counts per source, warnings, anomalies, errors and its Temporal Web UI link',
    description: 'Exits 0 for a run that succeeded (or is running), 1 for a partial or failed one.',
    positionals: { min: 1, max: 1 },
    async run(inv) {
      const id = positiveInt(inv.positionals[0], 'the run id')!;
      const { body } = await inv.api.get<RunDetail>(`/runs/${id}`);
      const code = body.data.status === 'partial' || body.data.status === 'failed' ? EXIT.failed : EXIT.ok;
      if (inv.json) {
        inv.out.json(body);
        return code;
      }
      printRun(inv, body);
      return code;
    },
  },
];

export const runLabel = (r: Pick<RunInfo, 'status' | 'dry_run' | 'reprocess_of'>) =>
  `${r.status}${r.reprocess_of ? ` (${r.dry_run ? 'dry run of' : 'reprocess of'} ${r.reprocess_of})` : ''}`;

function sourceSummary(r: RunInfo): string {
  const failed = r.sources.filter((s) => s.status === 'failed').map((s) => s.source);
  return `${r.sources.length}${failed.length ? ` (failed: ${failed.join(', ')})` : ''}`;
}

/** The run as `etl runs show` and the end of `etl run --wait` print it. */
export function printRun(inv: Invocation, { data: run, errors, anomalies }: RunDetail): void {
  inv.out.line(
    fields([
      ['run', `${run.id} ${runLabel(run)}`],
      ['workflow', `${run.workflow_id} (run ${run.temporal_run_id})`],
      ['started', when(run.started_at)],
      ['finished', run.finished_at ? `${when(run.finished_at)} (took ${duration(run.duration_ms)})` : 'still running'],
    ]),
  );
  inv.out.line();
  inv.out.line(
    table(
      [
        'source',
        'status',
        'took',
        'parsed',
        'inserted',
        'updated',
        'unchanged',
        'quarantined',
        'issues',
        'deleted',
        'drift',
      ],
      run.sources.map((s) => [
        s.source,
        s.status,
        duration(s.duration_ms),
        s.parsed,
        s.inserted,
        s.updated,
        s.unchanged,
        s.quarantined,
        s.field_issues,
        s.soft_deleted,
        s.drift_events,
      ]),
    ),
  );
  const warnings = run.sources.flatMap((s) => s.warnings.map((w) => `${s.source}: ${w}`));
  if (warnings.length) section(inv, 'warnings', warnings);
  if (anomalies.length)
    section(
      inv,
      'anomalies',
      anomalies.map((a) => a.message),
    );
  if (errors.length)
    section(
      inv,
      'errors',
      errors.map((e) => (e.source ? `${e.source}: ${e.message}` : e.message)),
    );
  inv.out.line();
  inv.out.line(
    run.ui_url
      ? `Temporal Web UI: ${run.ui_url}`
      : `Temporal Web UI: the history expired${run.history_expires_at ? ` at ${when(run.history_expires_at)}` : ''} (past the namespace's retention)`,
  );
}

function section(inv: Invocation, title: string, lines: string[]): void {
  inv.out.line();
  inv.out.line(`${title}:`);
  for (const line of lines) inv.out.line(`  - ${line}`);
}
