// `etl sources check --fetch`: one request per source with the real source adapter, then what normalize would
// make of its first 1,000 records: the field mapping with confidences, and what would be quarantined and why.
// The same per-record pipeline as the normalize stage (src/normalize/pipeline.ts), without a database: renames a
// source accepted under drift policy evolve live in source_state, so they are not applied here.
import { Readable } from 'node:stream';
import { SchemaObserver } from '../normalize/drift.ts';
import { missingRequired, resolveMapping, sampleValues } from '../normalize/mapping.ts';
import { normalizeRecord, recordRules } from '../normalize/pipeline.ts';
import { toSnake } from '../normalize/record.ts';
import { inferSeries } from '../normalize/series.ts';
import type { SourceConfig } from '../sources/config.ts';
import { adapterFor } from '../sources/index.ts';
import { isUnparsed, type SourceFields, type Unparsed } from '../sources/types.ts';

/** Schema, mapping and validation are judged on this many leading records, as normalize does. */
export const SAMPLE_SIZE = 1000;
/** Quarantined records listed by position (the rest are counted by reason). */
const EXAMPLES = 10;

export interface SourcePreview {
  source: string;
  kind: string;
  url: string;
  ok: boolean;
  /** Why the source cannot be ingested as configured: unreachable, unreadable, nothing maps to a required field. */
  error: string | null;
  fetch: { url: string; status: number | null; content_type: string | null; bytes: number; duration_ms: number } | null;
  mapping: { field: string; from: string; how: string; confidence: number }[];
  unmapped: { column: string; best: { field: string; confidence: number } | null; why: string | null }[];
  missing: string[];
  series: string | null;
  sample: {
    records: number;
    quarantined: number;
    /** Optional values that would be stored as null (field_issue). */
    field_issues: number;
    reasons: { reason: string; count: number }[];
    examples: { position: number; key: string | null; reason: string }[];
  } | null;
}

export async function previewSource(source: SourceConfig): Promise<SourcePreview> {
  const preview: SourcePreview = {
    source: source.id,
    kind: source.kind,
    url: source.url,
    ok: false,
    error: null,
    fetch: null,
    mapping: [],
    unmapped: [],
    missing: [],
    series: null,
    sample: null,
  };
  const adapter = adapterFor(source);
  const startedAt = performance.now();
  let body: Buffer | undefined;
  let info = { url: source.url, contentType: null as string | null };
  try {
    const documents = adapter.fetch(source, {
      validators: { etag: null, lastModified: null },
      signal: AbortSignal.timeout(source.http.timeoutMs),
      markIncomplete: () => {},
      resumeAt: { document: 0, byteOffset: 0 },
      throttle: async () => {},
    });
    // the first document only: one request, even for a paged API
    for await (const document of documents) {
      const chunks: Uint8Array[] = [];
      for await (const chunk of document.body) chunks.push(chunk);
      body = Buffer.concat(chunks);
      info = { url: document.url, contentType: document.contentType };
      preview.fetch = {
        url: document.url,
        status: document.httpStatus,
        content_type: document.contentType,
        bytes: body.length,
        duration_ms: Math.round(performance.now() - startedAt),
      };
      break;
    }
  } catch (error) {
    preview.error = `fetch failed: ${(error as Error).message}`;
    return preview;
  }
  if (!body) {
    preview.error = 'the source returned no document';
    return preview;
  }

  const sample: (SourceFields | Unparsed)[] = [];
  try {
    for await (const record of adapter.read(Readable.from([body]), source, info))
      if (sample.push(record) >= SAMPLE_SIZE) break;
  } catch (error) {
    preview.error = `not readable as ${source.kind}: ${(error as Error).message}`;
    return preview;
  }
  const observer = new SchemaObserver();
  const parsed = sample.filter((r): r is SourceFields => !isUnparsed(r));
  for (const fields of parsed) observer.observe(fields);
  const { mapping, unmapped } = resolveMapping({
    kind: adapter.recordKind,
    declared: adapter.fieldMap,
    columns: Object.keys(observer.schema()),
    configured: source.mapping,
    constants: source.constants,
    renames: {},
    samples: sampleValues(parsed),
  });
  preview.mapping = Object.entries(mapping).map(([field, m]) => ({
    field: toSnake(field),
    from: m!.how === 'constant' ? `constant ${JSON.stringify(m!.value)}` : m!.from,
    how: m!.how,
    confidence: m!.confidence,
  }));
  preview.unmapped = unmapped.map((u) => ({
    column: u.column,
    best: u.best ? { field: toSnake(u.best.field), confidence: u.best.confidence } : null,
    why: u.why ?? null,
  }));
  preview.missing = sample.length ? missingRequired(adapter.recordKind, mapping).map(toSnake) : [];
  if (preview.missing.length) {
    preview.error = `nothing maps to ${preview.missing.join(', ')}; set 'mapping' in the sources file`;
    return preview;
  }

  const series = adapter.recordKind === 'asset' ? inferSeries(source.series, sample, mapping) : null;
  preview.series = series;
  const rules = recordRules(source, adapter, { mapping, series, fetchedAt: new Date() });
  const reasons = new Map<string, number>();
  const examples: { position: number; key: string | null; reason: string }[] = [];
  let fieldIssues = 0;
  for (const [position, fields] of sample.entries()) {
    let reason: string;
    let key: string | null = null;
    if (isUnparsed(fields)) reason = fields.reason;
    else {
      const outcome = normalizeRecord(fields, rules);
      if (outcome.ok) {
        fieldIssues += outcome.issues.length;
        continue;
      }
      ({ reason, sourceKey: key } = outcome);
    }
    // the value a reason quotes differs per record; counted by what is wrong, not by the value
    const kindOfReason = reason.replace(/"[^"]*"…?( \(\d+ characters\))?/g, '"…"');
    reasons.set(kindOfReason, (reasons.get(kindOfReason) ?? 0) + 1);
    if (examples.length < EXAMPLES) examples.push({ position, key, reason });
  }
  const quarantined = [...reasons.values()].reduce((a, b) => a + b, 0);
  preview.sample = {
    records: sample.length,
    quarantined,
    field_issues: fieldIssues,
    reasons: [...reasons].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count),
    examples,
  };
  preview.ok = true;
  return preview;
}
