// etl quarantine / etl drift: the records normalize refused, with the reason and the fields as sent, and the
// schema changes runs saw.
import { EXIT, positiveInt, text, type Command, type Invocation } from '../command.ts';
import { fields, table, when } from '../format.ts';
import type { DriftEventPage, QuarantineDetail, QuarantinePage } from '../types.ts';

const pageOptions = {
  limit: { type: 'string', value: 'N', description: 'how many (default 50)' },
  cursor: { type: 'string', value: 'CURSOR', description: 'the next page (the cursor the previous page printed)' },
} as const;
const filterOptions = {
  source: { type: 'string', value: 'ID', description: 'only this source' },
  run: { type: 'string', value: 'RUN', description: 'only this run' },
} as const;

export const quarantineCommands: Command[] = [
  {
    words: ['quarantine', 'list'],
    summary: 'quarantined records, newest first, with their reason',
    options: {
      ...filterOptions,
      reason: { type: 'string', value: 'TEXT', description: 'only reasons containing this text (case-insensitive)' },
      ...pageOptions,
    },
    async run(inv) {
      const { body } = await inv.api.get<QuarantinePage>('/quarantine', {
        source: text(inv, 'source'),
        run_id: positiveInt(text(inv, 'run'), '--run'),
        reason: text(inv, 'reason'),
        limit: positiveInt(text(inv, 'limit'), '--limit'),
        cursor: text(inv, 'cursor'),
      });
      if (inv.json) {
        inv.out.json(body);
        return EXIT.ok;
      }
      if (!body.data.length) {
        inv.out.line('nothing quarantined matches');
        return EXIT.ok;
      }
      inv.out.line(
        table(
          ['id', 'run', 'source', 'key', 'position', 'reason'],
          body.data.map((q) => [
            String(q.id),
            String(q.run_id),
            q.source,
            q.source_key,
            String(q.raw_position),
            q.reason,
          ]),
          100,
        ),
      );
      morePages(inv, body.next_cursor);
      return EXIT.ok;
    },
  },
  {
    words: ['quarantine', 'show'],
    args: 'ID',
    summary: 'one quarantined record: its reason, where it came from, and its fields as the source sent them',
    positionals: { min: 1, max: 1 },
    async run(inv) {
      const id = positiveInt(inv.positionals[0], 'the quarantine id')!;
      const { body } = await inv.api.get<QuarantineDetail>(`/quarantine/${id}`);
      if (inv.json) {
        inv.out.json(body);
        return EXIT.ok;
      }
      const q = body.data;
      inv.out.line(
        fields([
          ['quarantined', `${q.id}, ${when(q.created_at)}`],
          ['source', `${q.source}, key ${q.source_key ?? '(none: refused before its key could be read)'}`],
          ['run', `${q.run_id} (etl runs show ${q.run_id})`],
          ['raw', `payload ${q.raw_payload_id}, record ${q.raw_position}`],
          ['reason', q.reason],
        ]),
      );
      inv.out.line();
      inv.out.line('fields as sent:');
      inv.out.line(JSON.stringify(q.fields, null, 2));
      return EXIT.ok;
    },
  },
  {
    words: ['drift', 'list'],
    summary: 'schema drift, newest first: fields added, removed, renamed or retyped, and what the drift policy did',
    options: { ...filterOptions, ...pageOptions },
    async run(inv) {
      const { body } = await inv.api.get<DriftEventPage>('/drift-events', {
        source: text(inv, 'source'),
        run_id: positiveInt(text(inv, 'run'), '--run'),
        limit: positiveInt(text(inv, 'limit'), '--limit'),
        cursor: text(inv, 'cursor'),
      });
      if (inv.json) {
        inv.out.json(body);
        return EXIT.ok;
      }
      if (!body.data.length) {
        inv.out.line('no drift events match');
        return EXIT.ok;
      }
      inv.out.line(
        table(
          ['id', 'run', 'source', 'change', 'field', 'types', 'confidence', 'action'],
          body.data.map((d) => [
            String(d.id),
            String(d.run_id),
            d.source,
            d.change,
            d.previous_field ? `${d.previous_field} → ${d.field}` : d.field,
            d.previous_type || d.current_type ? `${d.previous_type ?? '-'} → ${d.current_type ?? '-'}` : '-',
            d.confidence === null ? '-' : d.confidence.toFixed(2),
            d.action,
          ]),
        ),
      );
      morePages(inv, body.next_cursor);
      return EXIT.ok;
    },
  },
];

export function morePages(inv: Invocation, cursor: string | null): void {
  if (cursor) inv.out.line(`more: the same command with --cursor ${cursor}`);
}
