// etl run: start an ingest run now (POST /runs) and, with --wait, follow it to its end.
import { EXIT, list, type Command } from '../command.ts';
import { followRun } from '../follow.ts';
import type { RunStarted } from '../types.ts';
import { printRun } from './runs.ts';

export const runCommands: Command[] = [
  {
    words: ['run'],
    summary: 'start an ingest run now, and follow it live (--wait)',
    description: [
      'Without --source every configured source is ingested. --wait (the default when stdout is a terminal) shows each',
      "source's stage, records so far and rate until the run ends, then its summary; Ctrl-C detaches without cancelling it.",
      'Exits 0 when the run succeeded (sources unchanged included), 1 when it was partial or failed, 130 when detached.',
    ].join('\n'),
    options: {
      source: { type: 'string', multiple: true, value: 'ID', description: 'ingest only this source' },
      wait: {
        type: 'boolean',
        description: 'follow the run until it ends (default on a terminal); --no-wait returns at once',
      },
    },
    async run(inv) {
      const sources = list(inv, 'source');
      const { body: started } = await inv.api.post<RunStarted>('/runs', sources.length ? { source_ids: sources } : {});
      const wait = typeof inv.values.wait === 'boolean' ? inv.values.wait : inv.out.isTerminal;
      if (!wait) {
        if (inv.json) {
          inv.out.json(started);
          return EXIT.ok;
        }
        inv.out.line(
          `started ${started.workflow_id}${started.source_ids ? ` (${started.source_ids.join(', ')})` : ' (every source)'}`,
        );
        inv.out.line(`Temporal Web UI: ${started.ui_url}`);
        inv.out.line('its run appears in etl runs once its first activity ran');
        return EXIT.ok;
      }
      if (!inv.json) inv.out.line(`started ${started.workflow_id}   ${started.ui_url}`);
      const followed = await followRun(inv, started.workflow_id);
      if (followed.detached) {
        const how =
          followed.runId === null ? `etl runs (workflow ${started.workflow_id})` : `etl runs show ${followed.runId}`;
        inv.out.note(`detached; the run goes on: ${how}`);
        if (inv.json) inv.out.json({ started, run_id: followed.runId, detached: true });
        return EXIT.detached;
      }
      const detail = followed.detail!;
      const code = detail.data.status === 'succeeded' ? EXIT.ok : EXIT.failed;
      if (inv.json) {
        inv.out.json({ started, ...detail });
        return code;
      }
      printRun(inv, detail);
      return code;
    },
  },
];
