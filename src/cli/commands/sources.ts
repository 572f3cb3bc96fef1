// etl sources: the configured sources with their last outcome (GET /sources), and checking a sources file
// locally (validation, and with --fetch one request per source and a preview of what normalize would do).
import { EXIT, flag, type Command, type Invocation } from '../command.ts';
import { count, cut, duration, plural, relative, table } from '../format.ts';
import type { SourcePreview } from '../preview.ts';
import type { SourceConfig } from '../../sources/config.ts';
import type { SourceList } from '../types.ts';

export const sourceCommands: Command[] = [
  {
    words: ['sources', 'list'],
    summary: 'the configured sources: kind, policies and last outcome (GET /sources)',
    async run(inv) {
      const { body } = await inv.api.get<SourceList>('/sources');
      if (inv.json) {
        inv.out.json(body);
        return EXIT.ok;
      }
      inv.out.line(
        table(
          [
            'source',
            'kind',
            'delete',
            'series',
            'last run',
            'outcome',
            'finished',
            'parsed',
            'inserted',
            'updated',
            'quarantined',
            'error',
          ],
          body.data.map((s) => {
            const last = s.last_run;
            return [
              s.id,
              s.kind,
              s.delete_policy,
              s.series ?? '-',
              last ? String(last.run_id) : 'never',
              last?.status,
              last ? (last.finished_at ? relative(last.finished_at) : 'running') : undefined,
              last?.parsed,
              last?.inserted,
              last?.updated,
              last?.quarantined,
              last?.error,
            ];
          }),
        ),
      );
      return EXIT.ok;
    },
  },
  {
    words: ['sources', 'check'],
    args: '[FILE]',
    summary:
      'validate a sources file (default ETL_SOURCES_FILE); --fetch also fetches each source once and previews the mapping',
    description: [
      'Reads the file here, not through the API. With --fetch, makes one request per source with the real source adapter',
      '(the first page of a paged API) and shows its status, content type and size, the header mapping with confidences,',
      `and what of the first 1,000 records would be quarantined and why. Exits 1 when the file or any source is invalid or unreachable.`,
    ].join('\n'),
    positionals: { min: 0, max: 1 },
    options: {
      fetch: { type: 'boolean', description: 'fetch each source once and preview its mapping and quarantine' },
    },
    async run(inv) {
      const file = inv.positionals[0] ?? inv.settings.ETL_SOURCES_FILE;
      // loaded here: the adapters and the normalizer are most of what the CLI would otherwise load for every command
      const { SourcesConfigError, loadSourcesConfig } = await import('../../sources/config.ts');
      const { previewSource } = await import('../preview.ts');
      let sources: SourceConfig[];
      try {
        sources = loadSourcesConfig(file);
      } catch (error) {
        if (!(error instanceof SourcesConfigError)) throw error;
        inv.out.note(`invalid: ${error.message}`);
        if (inv.json) inv.out.json({ file, valid: false, error: error.message, sources: [] });
        return EXIT.failed;
      }
      if (!flag(inv, 'fetch')) {
        if (inv.json) {
          inv.out.json({ file, valid: true, sources: sources.map(sourceSummary) });
          return EXIT.ok;
        }
        inv.out.line(`${file}: valid, ${plural(sources.length, 'source')}`);
        inv.out.line();
        inv.out.line(
          table(
            ['source', 'kind', 'url', 'delete', 'drift', 'series'],
            sources.map((s) => [s.id, s.kind, s.url, s.deletePolicy, s.driftPolicy, s.series]),
            80,
          ),
        );
        return EXIT.ok;
      }
      const previews: SourcePreview[] = [];
      for (const source of sources) {
        const preview = await previewSource(source);
        previews.push(preview);
        if (!inv.json) printPreview(inv, preview);
      }
      const failed = previews.filter((p) => !p.ok);
      if (inv.json) inv.out.json({ file, valid: failed.length === 0, sources: previews });
      else
        inv.out.line(
          failed.length
            ? `${plural(failed.length, 'source')} of ${sources.length} cannot be ingested: ${failed.map((p) => p.source).join(', ')}`
            : `${file}: all ${plural(sources.length, 'source')} fetched and readable`,
        );
      return failed.length ? EXIT.failed : EXIT.ok;
    },
  },
];

const sourceSummary = (s: SourceConfig) => ({
  id: s.id,
  kind: s.kind,
  url: s.url,
  delete_policy: s.deletePolicy,
  drift_policy: s.driftPolicy,
  series: s.series,
});

function printPreview(inv: Invocation, p: SourcePreview): void {
  const fetched = p.fetch
    ? `${p.fetch.status ?? 'file'}, ${p.fetch.content_type ?? 'no content type'}, ${count(p.fetch.bytes)} bytes in ${duration(p.fetch.duration_ms)}`
    : 'not fetched';
  inv.out.line(`${p.source} (${p.kind}) ${p.ok ? 'ok' : 'FAILED'}: ${fetched}`);
  inv.out.line(`  ${p.url}`);
  if (p.error) inv.out.line(`  error: ${p.error}`);
  if (p.mapping.length) {
    inv.out.line('  mapping:');
    const rows = p.mapping.map((m) => [m.field, '←', m.from, m.confidence.toFixed(2), m.how]);
    for (const line of table(['field', '', 'from', 'confidence', 'how'], rows).split('\n')) inv.out.line(`    ${line}`);
  }
  const unmapped = p.unmapped.filter((u) => u.best);
  if (unmapped.length)
    inv.out.line(
      `  unmapped: ${unmapped.map((u) => `${u.column} (best ${u.best!.field} ${u.best!.confidence.toFixed(2)}${u.why ? `: ${u.why}` : ''})`).join(', ')}`,
    );
  if (p.sample) {
    const s = p.sample;
    inv.out.line(
      `  first ${plural(s.records, 'record')}${p.series ? ` (read as a ${p.series})` : ''}: ${count(s.quarantined)} would be quarantined, ${plural(s.field_issues, 'optional value')} stored as null`,
    );
    // the examples say it all when they are all there is
    if (s.quarantined > s.examples.length)
      for (const r of s.reasons) inv.out.line(`    ${String(r.count).padStart(5)} × ${cut(r.reason, 140)}`);
    for (const e of s.examples)
      inv.out.line(`    record ${e.position}${e.key ? ` (${e.key})` : ''}: ${cut(e.reason, 140)}`);
  }
  inv.out.line();
}
