// etl entities review / etl overrides: near misses of identity resolution, and the operator's decisions
// about two records (the same thing: force; never the same: forbid), applied at the next run.
import { EXIT, flag, positiveInt, text, usageError, type Command } from '../command.ts';
import { table, when } from '../format.ts';
import type { Override, OverridePage, OverrideResponse, ReviewPage } from '../types.ts';
import { morePages } from './quarantine.ts';

const KINDS = ['asset', 'article'];
const kindOf = (value: string | undefined) => {
  if (value !== undefined && !KINDS.includes(value))
    throw usageError(`--kind must be asset or article, not '${value}'`);
  return value;
};

export const entityCommands: Command[] = [
  {
    words: ['entities', 'review'],
    summary: "records left on their own that came close to another source's entity, to decide with an override",
    options: {
      kind: { type: 'string', value: 'KIND', description: 'asset or article' },
      limit: { type: 'string', value: 'N', description: 'how many (default 50)' },
      cursor: { type: 'string', value: 'CURSOR', description: 'the next page' },
    },
    async run(inv) {
      const { body } = await inv.api.get<ReviewPage>('/entities/review', {
        kind: kindOf(text(inv, 'kind')),
        limit: positiveInt(text(inv, 'limit'), '--limit'),
        cursor: text(inv, 'cursor'),
      });
      if (inv.json) {
        inv.out.json(body);
        return EXIT.ok;
      }
      if (!body.data.length) {
        inv.out.line('nothing to review');
        return EXIT.ok;
      }
      const label = (s: { symbol: string | null; name: string | null; title: string | null }) =>
        [s.symbol, s.name ?? s.title].filter(Boolean).join(' ');
      inv.out.line(
        table(
          ['record', 'what', 'candidate', 'entity', 'what', 'reason', 'confidence'],
          body.data.map((r) => [
            `${r.record.source}:${r.record.source_key}`,
            label(r.record),
            `${r.candidate.source}:${r.candidate.source_key}`,
            String(r.candidate.entity_id),
            label(r.candidate),
            r.reason,
            r.confidence.toFixed(2),
          ]),
          40,
        ),
      );
      inv.out.line();
      inv.out.line('decide one: etl overrides add --kind KIND --force|--forbid RECORD CANDIDATE [--reason TEXT]');
      morePages(inv, body.next_cursor);
      return EXIT.ok;
    },
  },
  {
    words: ['overrides', 'add'],
    args: 'LEFT_SOURCE:KEY RIGHT_SOURCE:KEY',
    summary: 'decide that two records are the same thing (--force) or never the same (--forbid)',
    description:
      "Applied at each source's next identity resolution (the next run, even when nothing changed). Exits 5 when a live override says otherwise.",
    positionals: { min: 2, max: 2 },
    options: {
      kind: { type: 'string', value: 'KIND', description: 'asset or article (required)' },
      force: { type: 'boolean', description: 'the two records are one entity' },
      forbid: { type: 'boolean', description: 'the two records are never one entity' },
      reason: { type: 'string', value: 'TEXT', description: 'why; kept with the override' },
    },
    async run(inv) {
      const kind = kindOf(text(inv, 'kind'));
      if (!kind) throw usageError('--kind is required (asset or article)');
      if (flag(inv, 'force') === flag(inv, 'forbid')) throw usageError('say --force or --forbid (one of them)');
      const [left, right] = inv.positionals.map(recordRef);
      const { status, body } = await inv.api.post<OverrideResponse>('/overrides', {
        kind,
        action: flag(inv, 'force') ? 'force' : 'forbid',
        left,
        right,
        reason: text(inv, 'reason'),
      });
      if (inv.json) {
        inv.out.json(body);
        return EXIT.ok;
      }
      inv.out.line(
        `${status === 201 ? 'made' : 'already in force:'} override ${describe(body.data)}; it applies at the next run`,
      );
      return EXIT.ok;
    },
  },
  {
    words: ['overrides', 'list'],
    summary: 'the overrides in force (--all: also removed ones)',
    options: {
      kind: { type: 'string', value: 'KIND', description: 'asset or article' },
      all: { type: 'boolean', description: 'also removed overrides (kept as history)' },
    },
    async run(inv) {
      const { body } = await inv.api.get<OverridePage>('/overrides', {
        kind: kindOf(text(inv, 'kind')),
        include_removed: flag(inv, 'all') || undefined,
      });
      if (inv.json) {
        inv.out.json(body);
        return EXIT.ok;
      }
      if (!body.data.length) {
        inv.out.line('no overrides');
        return EXIT.ok;
      }
      inv.out.line(
        table(
          ['id', 'kind', 'action', 'left', 'right', 'reason', 'made', 'removed'],
          body.data.map((o) => [
            String(o.id),
            o.kind,
            o.action,
            `${o.left.source}:${o.left.key}`,
            `${o.right.source}:${o.right.key}`,
            o.reason,
            when(o.created_at),
            o.removed_at ? when(o.removed_at) : undefined,
          ]),
          50,
        ),
      );
      return EXIT.ok;
    },
  },
  {
    words: ['overrides', 'remove'],
    args: 'ID',
    summary: 'remove an override: its records are resolved by the rules again at the next run',
    positionals: { min: 1, max: 1 },
    async run(inv) {
      const id = positiveInt(inv.positionals[0], 'the override id')!;
      const { body } = await inv.api.delete<OverrideResponse>(`/overrides/${id}`);
      if (inv.json) {
        inv.out.json(body);
        return EXIT.ok;
      }
      inv.out.line(`removed override ${describe(body.data)}`);
      return EXIT.ok;
    },
  },
];

/** SOURCE:KEY; a source id has no colon, a key may. */
function recordRef(arg: string): { source: string; key: string } {
  const at = arg.indexOf(':');
  if (at <= 0 || at === arg.length - 1) throw usageError(`'${arg}' is not SOURCE:KEY (e.g. coingecko:bitcoin)`);
  return { source: arg.slice(0, at), key: arg.slice(at + 1) };
}

const describe = (o: Override) =>
  `${o.id}: ${o.action} ${o.left.source}:${o.left.key} with ${o.right.source}:${o.right.key}${o.reason ? ` (${o.reason})` : ''}`;
