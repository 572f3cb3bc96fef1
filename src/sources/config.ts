// The sources file (YAML): which sources a run ingests and how. Validated with zod; every error names
// the file, the source and the field, because an operator fixes it by editing exactly that line.
// `${VAR}` and `${VAR:-default}` in string values are replaced from the environment after parsing, so a
// variable is always a value and never YAML (secrets belong in `auth.env`, read at request time; one in a URL's
// query is redacted wherever the URL is shown).
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { UNIFIED_FIELDS, snakeToField, type UnifiedField } from '../normalize/record.ts';
import { DATE_FORMATS, isTimeZone, type DateFormat } from '../normalize/values.ts';
import { redactUrl } from './redact.ts';

export const SOURCE_KINDS = ['coinpaprika', 'coingecko', 'csv', 'rss'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

const unifiedFieldName = z.string().refine((name) => snakeToField(name) !== undefined, {
  message: `not a unified field; one of ${UNIFIED_FIELDS.map((f) => f.snake).join(', ')}`,
});

const sourceSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and dashes, at most 63'),
    kind: z.enum(SOURCE_KINDS),
    /** http(s) URL, or a file path relative to the sources file. */
    url: z
      .string()
      .min(1)
      // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is this rule's purpose
      .regex(/^[^\x00-\x1f\x7f]+$/, 'control characters are not allowed'),
    /** A secret sent as a header; only the environment variable's name is written here. */
    auth: z
      .object({
        env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name'),
        header: z.string().min(1),
        required: z.boolean().default(true),
      })
      .strict()
      .optional(),
    /** Requests per second to the provider, across every worker; sources with the same `key` share one limit. */
    rate_limit: z
      .object({ requests_per_second: z.number().positive(), key: z.string().min(1).optional() })
      .strict()
      .optional(),
    /** snapshot: each complete fetch is the whole truth, records gone from it are soft-deleted. never: keep everything. */
    delete_policy: z.enum(['snapshot', 'never']).default('snapshot'),
    /** Largest share of a source's live records one run may soft-delete before the delete guard holds them. */
    max_delete_ratio: z.number().min(0).max(1).default(0.2),
    /** The guard measures deletes against the most live records the source had in this many days of runs. */
    delete_guard_window_days: z.number().int().min(1).max(3650).default(30),
    /** A snapshot with more than this share of its records quarantined deletes nothing: it is not a reliable picture. */
    max_quarantine_ratio: z.number().min(0).max(1).default(0.1),
    /** evolve: apply confident renames; warn: only report; freeze: quarantine the records a change affects. */
    drift_policy: z.enum(['evolve', 'warn', 'freeze']).default('warn'),
    /** unified field (snake_case) → source field, when automatic mapping gets it wrong. */
    mapping: z.record(unifiedFieldName, z.string().min(1)).default({}),
    /** unified field (snake_case) → a value every record gets: `{ symbol: BTC, name: Bitcoin }` for a one-coin history. */
    constants: z
      .record(unifiedFieldName, z.union([z.string().min(1).max(500), z.number()]).transform(String))
      .default({}),
    /**
     * Assets only. snapshot: each payload is the source's current quotes (one observation per key, at its
     * timestamp or the fetch time). history: each row is an observation at its own timestamp (required), and
     * a key missing from the file means nothing (no orphan deletes). auto: a history when the first records
     * repeat a key with different timestamps.
     */
    series: z.enum(['auto', 'snapshot', 'history']).default('auto'),
    /** The IANA time zone (Europe/Berlin) of timestamps the source writes without one; unset, they are read as UTC and flagged. */
    timezone: z
      .string()
      .refine(isTimeZone, 'not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)')
      .optional(),
    http: z
      .object({
        timeout_ms: z.number().int().positive().default(30_000),
        max_bytes: z
          .number()
          .int()
          .positive()
          .default(512 * 1024 * 1024),
      })
      .strict()
      .default({ timeout_ms: 30_000, max_bytes: 512 * 1024 * 1024 }),
    /** coingecko: results per page (the API's maximum is 250) and a safety cap on pages. */
    paging: z
      .object({
        per_page: z.number().int().min(1).max(250).default(250),
        max_pages: z.number().int().positive().default(100),
      })
      .strict()
      .optional(),
    /** Misbehaviour on purpose, for demos and tests; refused unless ETL_FAULT_INJECTION=1. */
    faults: z
      .object({
        /** The first N fetch attempts of every run fail (and are retried). */
        fetch_failures: z.number().int().min(0).optional(),
        /** Each fetch attempt fails with this probability. */
        fetch_failure_rate: z.number().min(0).max(1).optional(),
        /** Added before every fetch attempt. */
        latency_ms: z.number().int().min(0).max(600_000).optional(),
        /** The first normalize attempt fails at this record; the retry resumes from its last checkpoint. */
        fail_at_record: z.number().int().min(0).optional(),
        /** The worker process is killed (SIGKILL) at this record during the first normalize attempt. */
        crash_at_record: z.number().int().min(0).optional(),
        /** A payload normalized in parts: the two above count records within this part (default 0, the first). */
        at_part: z.number().int().min(0).optional(),
      })
      .strict()
      .optional(),
    csv: z
      .object({
        delimiter: z.string().min(1).max(1).optional(),
        encoding: z.enum(['utf8', 'utf16le', 'latin1']).optional(),
        date_format: z.enum(DATE_FORMATS).optional(),
      })
      .strict()
      .default({}),
  })
  .strict();

const fileSchema = z.object({ sources: z.array(z.unknown()).min(1, 'at least one source') }).strict();

export interface SourceConfig {
  id: string;
  kind: SourceKind;
  /** The URL or path as the sources file gives it (credentials in its query redacted): what logs, errors and the API show. */
  url: string;
  /** Absolute file path or http(s) URL. */
  location: { type: 'file'; path: string } | { type: 'http'; url: string };
  auth?: { env: string; header: string; required: boolean };
  rateLimit?: { perSecond: number; key: string };
  deletePolicy: 'snapshot' | 'never';
  maxDeleteRatio: number;
  deleteGuardWindowDays: number;
  maxQuarantineRatio: number;
  driftPolicy: 'evolve' | 'warn' | 'freeze';
  mapping: Partial<Record<UnifiedField, string>>;
  constants: Partial<Record<UnifiedField, string>>;
  series: 'auto' | 'snapshot' | 'history';
  timeZone?: string;
  http: { timeoutMs: number; maxBytes: number };
  paging: { perPage: number; maxPages: number };
  csv: { delimiter?: string; encoding?: 'utf8' | 'utf16le' | 'latin1'; dateFormat?: DateFormat };
  faults?: {
    fetchFailures?: number;
    fetchFailureRate?: number;
    latencyMs?: number;
    failAtRecord?: number;
    crashAtRecord?: number;
    atPart?: number;
  };
}

export class SourcesConfigError extends Error {
  override name = 'SourcesConfigError';
}

export function loadSourcesConfig(file: string, env: NodeJS.ProcessEnv = process.env): SourceConfig[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new SourcesConfigError(`${file}: cannot read the sources file (${(error as Error).message})`);
  }
  return parseSourcesConfig(text, file, env);
}

export function parseSourcesConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): SourceConfig[] {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new SourcesConfigError(`${file}: not valid YAML (${(error as Error).message})`);
  }
  document = interpolate(document, file, env);
  const top = fileSchema.safeParse(document);
  if (!top.success) throw new SourcesConfigError(`${file}: ${describe(top.error.issues)}`);

  const seen = new Set<string>();
  return top.data.sources.map((entry, index) => {
    const id = (entry as { id?: unknown } | null)?.id;
    const label = typeof id === 'string' ? `source '${id}'` : `sources[${index}]`;
    const parsed = sourceSchema.safeParse(entry);
    if (!parsed.success) throw new SourcesConfigError(`${file}: ${label}: ${describe(parsed.error.issues)}`);
    const s = parsed.data;
    if (seen.has(s.id)) throw new SourcesConfigError(`${file}: ${label}: field 'id': duplicate source id`);
    if (s.faults && env.ETL_FAULT_INJECTION !== '1') {
      throw new SourcesConfigError(
        `${file}: ${label}: field 'faults': fault injection is off; set ETL_FAULT_INJECTION=1 to allow it`,
      );
    }
    seen.add(s.id);
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(s.url)?.[1]?.toLowerCase();
    const http = scheme === 'http' || scheme === 'https';
    if (scheme && !http) {
      throw new SourcesConfigError(
        `${file}: ${label}: field 'url': scheme '${scheme}:' is neither http nor https (a file path has no scheme): ${redactUrl(s.url)}`,
      );
    }
    if (http && !URL.canParse(s.url))
      throw new SourcesConfigError(`${file}: ${label}: field 'url': not a valid URL: ${redactUrl(s.url)}`);
    if (!http && s.kind !== 'csv' && s.kind !== 'rss') {
      throw new SourcesConfigError(`${file}: ${label}: field 'url': a ${s.kind} source needs an http(s) URL`);
    }
    return {
      id: s.id,
      kind: s.kind,
      url: redactUrl(s.url),
      location: http ? { type: 'http', url: s.url } : { type: 'file', path: path.resolve(path.dirname(file), s.url) },
      auth: s.auth,
      rateLimit: s.rate_limit && {
        perSecond: s.rate_limit.requests_per_second,
        key: s.rate_limit.key ?? (http ? new URL(s.url).host : s.id),
      },
      deletePolicy: s.delete_policy,
      maxDeleteRatio: s.max_delete_ratio,
      deleteGuardWindowDays: s.delete_guard_window_days,
      maxQuarantineRatio: s.max_quarantine_ratio,
      driftPolicy: s.drift_policy,
      mapping: Object.fromEntries(Object.entries(s.mapping).map(([field, from]) => [snakeToField(field)!, from])),
      constants: Object.fromEntries(Object.entries(s.constants).map(([field, value]) => [snakeToField(field)!, value])),
      series: s.series,
      timeZone: s.timezone,
      http: { timeoutMs: s.http.timeout_ms, maxBytes: s.http.max_bytes },
      paging: { perPage: s.paging?.per_page ?? 250, maxPages: s.paging?.max_pages ?? 100 },
      csv: { delimiter: s.csv.delimiter, encoding: s.csv.encoding, dateFormat: s.csv.date_format },
      faults: s.faults && {
        fetchFailures: s.faults.fetch_failures,
        fetchFailureRate: s.faults.fetch_failure_rate,
        latencyMs: s.faults.latency_ms,
        failAtRecord: s.faults.fail_at_record,
        crashAtRecord: s.faults.crash_at_record,
        atPart: s.faults.at_part,
      },
    } satisfies SourceConfig;
  });
}

/** `${VAR}` and `${VAR:-default}` replaced in every string of the parsed document (keys stay as written). */
function interpolate(value: unknown, file: string, env: NodeJS.ProcessEnv): unknown {
  if (typeof value === 'string') {
    // a value that is one variable keeps its type: `max_delete_ratio: ${RATIO}` is a number
    const whole = /^\$\{[A-Z_][A-Z0-9_]*(?::-[^}]*)?\}$/.test(value);
    const replaced = value.replace(
      /\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}/g,
      (_match, name: string, fallback: string | undefined) => {
        const found = env[name];
        if (found !== undefined && found !== '') return found;
        if (fallback !== undefined) return fallback;
        throw new SourcesConfigError(`${file}: \${${name}} is not set and has no default (write \${${name}:-default})`);
      },
    );
    if (whole && /^-?\d+(\.\d+)?$/.test(replaced)) return Number(replaced);
    if (whole && (replaced === 'true' || replaced === 'false')) return replaced === 'true';
    return replaced;
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, file, env));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, file, env)]));
  return value;
}

function describe(issues: z.core.$ZodIssue[]): string {
  return issues.map((i) => (i.path.length ? `field '${i.path.join('.')}': ${i.message}` : i.message)).join('; ');
}
