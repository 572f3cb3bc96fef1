// etl status: GET /health as a person reads it.
import { EXIT, type Command } from '../command.ts';
import { count, fields, relative, table, when } from '../format.ts';
import type { Health } from '../types.ts';

export const statusCommands: Command[] = [
  {
    words: ['status'],
    summary: "the database, Temporal, the schedule, the last run and each source's latest outcome (GET /health)",
    description:
      'Exits 0 when everything answers, 1 when degraded (Temporal down), 3 when the API or its database is down.',
    async run(inv) {
      const { status, body } = await inv.api.get<Health>('/health', {}, { accept: [503] });
      const code = status === 503 ? EXIT.unreachable : body.status === 'ok' ? EXIT.ok : EXIT.failed;
      if (inv.json) {
        inv.out.json(body);
        return code;
      }
      const schedule = !body.schedule
        ? 'unknown (Temporal is down)'
        : !body.schedule.found
          ? `${body.schedule.id} does not exist`
          : `${body.schedule.id} ${body.schedule.paused ? `paused${body.schedule.note ? ` ("${body.schedule.note}")` : ''}` : 'active'}` +
            (body.schedule.next_action_times[0] && !body.schedule.paused
              ? `, next run ${when(body.schedule.next_action_times[0])} (${relative(body.schedule.next_action_times[0])})`
              : '');
      const last = body.last_run;
      inv.out.line(
        fields([
          ['status', body.status + (status === 503 ? ' (503: the database is down)' : '')],
          ['database', body.database],
          ['temporal', body.temporal],
          ['schedule', schedule],
          [
            'last run',
            last
              ? `${last.id} ${last.status}, started ${when(last.started_at)} (${relative(last.started_at)})${last.finished_at ? `, finished ${relative(last.finished_at)}` : ''}`
              : 'none yet',
          ],
        ]),
      );
      if (body.sources.length) {
        inv.out.line();
        inv.out.line(
          table(
            [
              'source',
              'status',
              'run',
              'finished',
              'parsed',
              'inserted',
              'updated',
              'unchanged',
              'quarantined',
              'error',
            ],
            body.sources.map((s) => [
              s.source,
              s.status,
              String(s.run_id),
              s.finished_at ? relative(s.finished_at) : 'running',
              s.parsed,
              s.inserted,
              s.updated,
              s.unchanged,
              s.quarantined,
              s.error,
            ]),
          ),
        );
      }
      if (body.processes?.length) {
        inv.out.line();
        inv.out.line(
          table(
            ['process', 'pid', 'restarts', 'last exit'],
            body.processes.map((p) => [
              p.name,
              p.pid === null ? 'restarting' : String(p.pid),
              count(p.restarts),
              p.last_exit,
            ]),
          ),
        );
      }
      return code;
    },
  },
];
