// The sources file (YAML): which sources a run ingests and how. Validated with zod; every error names
// the file, the source and the field, because an operator fixes it by editing exactly that line.
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export const SOURCE_KINDS = ['csv'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

const sourceSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and dashes, at most 63'),
    kind: z.enum(SOURCE_KINDS),
    /** http(s) URL, or a file path relative to the sources file. */
    url: z.string().min(1),
    /** snapshot: each complete fetch is the whole truth, records gone from it are soft-deleted. never: keep everything. */
    delete_policy: z.enum(['snapshot', 'never']).default('snapshot'),
    /** Largest share of a source's live records one run may soft-delete before the delete guard holds them. */
    max_delete_ratio: z.number().min(0).max(1).default(0.2),
    csv: z
      .object({
        delimiter: z.string().min(1).max(1).optional(),
        encoding: z.enum(['utf8', 'utf16le', 'latin1']).optional(),
      })
      .strict()
      .default({}),
  })
  .strict();

const fileSchema = z
  .object({ sources: z.array(z.unknown()).min(1, 'at least one source') })
  .strict();

export interface SourceConfig {
  id: string;
  kind: SourceKind;
  /** Absolute file path or http(s) URL. */
  location: { type: 'file'; path: string } | { type: 'http'; url: string };
  deletePolicy: 'snapshot' | 'never';
  maxDeleteRatio: number;
  csv: { delimiter?: string; encoding?: 'utf8' | 'utf16le' | 'latin1' };
}

export class SourcesConfigError extends Error {
  override name = 'SourcesConfigError';
}

export function loadSourcesConfig(file: string): SourceConfig[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new SourcesConfigError(`${file}: cannot read the sources file (${(error as Error).message})`);
  }
  return parseSourcesConfig(text, file);
}

export function parseSourcesConfig(text: string, file: string): SourceConfig[] {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new SourcesConfigError(`${file}: not valid YAML (${(error as Error).message})`);
  }
  const top = fileSchema.safeParse(document);
  if (!top.success) throw new SourcesConfigError(`${file}: ${describe(top.error.issues)}`);

  const seen = new Set<string>();
  return top.data.sources.map((entry, index) => {
    const label = typeof (entry as { id?: unknown })?.id === 'string' ? `source '${(entry as { id: string }).id}'` : `sources[${index}]`;
    const parsed = sourceSchema.safeParse(entry);
    if (!parsed.success) throw new SourcesConfigError(`${file}: ${label}: ${describe(parsed.error.issues)}`);
    const s = parsed.data;
    if (seen.has(s.id)) throw new SourcesConfigError(`${file}: ${label}: field 'id': duplicate source id`);
    seen.add(s.id);
    return {
      id: s.id,
      kind: s.kind,
      location: /^https?:\/\//i.test(s.url)
        ? { type: 'http', url: s.url }
        : { type: 'file', path: path.resolve(path.dirname(file), s.url) },
      deletePolicy: s.delete_policy,
      maxDeleteRatio: s.max_delete_ratio,
      csv: s.csv,
    } satisfies SourceConfig;
  });
}

function describe(issues: z.core.$ZodIssue[]): string {
  return issues
    .map((i) => (i.path.length ? `field '${i.path.join('.')}': ${i.message}` : i.message))
    .join('; ');
}
