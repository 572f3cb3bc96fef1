// The unified schema every source maps into, validated with zod. A record that fails goes to quarantine
// with the messages below as its reason; nothing is dropped silently and nothing is guessed.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { LIMITS, type TextLimit } from './limits.ts';
import { ValueError, parseDecimal, parseInteger, parseText, parseTimestamp, type DateFormat } from './values.ts';

export type RecordKind = 'asset' | 'article';

/** A normalized record, as staged and merged. Decimals are strings; timestamps are ISO-8601 UTC. */
export interface NormalizedRecord {
  kind: RecordKind;
  sourceKey: string;
  symbol: string | null;
  name: string | null;
  rank: number | null;
  priceUsd: string | null;
  marketCapUsd: string | null;
  volume24hUsd: string | null;
  circulatingSupply: string | null;
  totalSupply: string | null;
  maxSupply: string | null;
  percentChange24h: string | null;
  /** The open, high and low of the period the quote sums up, when the source has them (daily histories). */
  openUsd: string | null;
  highUsd: string | null;
  lowUsd: string | null;
  title: string | null;
  url: string | null;
  summary: string | null;
  author: string | null;
  publishedAt: string | null;
  sourceUpdatedAt: string | null;
}

/** The record's fields in a fixed order: the staging COPY columns and the content hash both use it. */
export const RECORD_FIELDS = [
  'kind', 'sourceKey', 'symbol', 'name', 'rank', 'priceUsd', 'marketCapUsd', 'volume24hUsd', 'circulatingSupply',
  'totalSupply', 'maxSupply', 'percentChange24h', 'openUsd', 'highUsd', 'lowUsd', 'title', 'url', 'summary', 'author',
  'publishedAt', 'sourceUpdatedAt',
] as const satisfies readonly (keyof NormalizedRecord)[];

/** The fields of an asset record that make a quote: what an observation in the time series holds. */
export const QUOTE_FIELDS = [
  'priceUsd', 'marketCapUsd', 'volume24hUsd', 'circulatingSupply', 'totalSupply', 'maxSupply', 'percentChange24h', 'rank', 'openUsd', 'highUsd', 'lowUsd',
] as const satisfies readonly (keyof NormalizedRecord)[];

export type UnifiedField = Exclude<(typeof RECORD_FIELDS)[number], 'kind'>;

/** camelCase field → its snake_case name in SQL, the API and the sources file (volume24hUsd → volume_24h_usd). */
export const toSnake = (field: string) => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/(\d+)/g, '_$1');

/** Every field a source can map into, with its snake_case name. */
export const UNIFIED_FIELDS = RECORD_FIELDS.filter((f): f is UnifiedField => f !== 'kind').map((field) => ({ field, snake: toSnake(field) }));
const bySnake = new Map(UNIFIED_FIELDS.map((f) => [f.snake, f.field]));
export const snakeToField = (name: string): UnifiedField | undefined => bySnake.get(name);

/** The fields each kind requires: without a source for them, a payload cannot be read at all. */
export const REQUIRED_FIELDS: Record<RecordKind, UnifiedField[]> = { asset: ['sourceKey', 'symbol'], article: ['sourceKey', 'title'] };

// A preprocess step turns source text into a typed value, then `check` may refuse it; a ValueError or a
// refusal becomes a zod issue on that field. Plain checks rather than a nested zod schema per field: this
// runs for every field of every record, and a nested safeParse allocates a result object for each one.
function cleaned<T>(parse: (value: unknown) => T | null, check: (value: T) => string | null = () => null) {
  return z.unknown().transform((value, ctx): T | null => {
    try {
      const parsed = parse(value);
      if (parsed === null) return null;
      const problem = check(parsed);
      if (problem === null) return parsed;
      ctx.addIssue({ code: 'custom', message: problem });
      return z.NEVER;
    } catch (error) {
      if (!(error instanceof ValueError)) throw error;
      ctx.addIssue({ code: 'custom', message: error.message });
      return z.NEVER;
    }
  });
}

// PostgreSQL counts characters, its indexes count bytes: a 500-character key of 4-byte characters is 2,000 bytes
const fits = ({ chars, bytes }: TextLimit) => (s: string) =>
  s.length > chars ? `is longer than ${chars} characters` : s.length * 3 > bytes && Buffer.byteLength(s) > bytes ? `is longer than ${bytes} bytes` : null;
const decimal = cleaned(parseDecimal);
const amount = cleaned(parseDecimal, (d) => (d.startsWith('-') ? 'must not be negative' : null));
const text = (limit: TextLimit) => cleaned(parseText, fits(limit));
const required = <T>(schema: z.ZodType<T | null>) => schema.refine((v) => v !== null, 'is required');
const { text: TEXT } = LIMITS;

function schemasFor(dateFormat: DateFormat) {
  const timestamp = cleaned((v) => parseTimestamp(v, dateFormat));
  return {
    asset: z.object({
      kind: z.literal('asset'),
      sourceKey: required(text(TEXT.assetKey)),
      symbol: required(cleaned((v) => parseText(v)?.toUpperCase() ?? null, fits(TEXT.symbol))),
      name: text(TEXT.name),
      rank: cleaned(parseInteger, (n) => (n > 0 ? null : 'must be positive')),
      priceUsd: amount,
      marketCapUsd: amount,
      volume24hUsd: amount,
      circulatingSupply: amount,
      totalSupply: amount,
      maxSupply: amount,
      percentChange24h: decimal,
      openUsd: amount,
      highUsd: amount,
      lowUsd: amount,
      sourceUpdatedAt: timestamp,
    }),
    article: z.object({
      kind: z.literal('article'),
      sourceKey: required(text(TEXT.articleKey)),
      title: required(text(TEXT.title)),
      url: text(TEXT.url),
      summary: text(TEXT.summary),
      author: text(TEXT.author),
      publishedAt: timestamp,
      sourceUpdatedAt: timestamp,
    }),
  };
}

// one zod schema per declared date format, built once
const schemaCache = new Map<DateFormat, ReturnType<typeof schemasFor>>();
const schemas = (dateFormat: DateFormat) => schemaCache.get(dateFormat) ?? schemaCache.set(dateFormat, schemasFor(dateFormat)).get(dateFormat)!;

const EMPTY = Object.fromEntries(RECORD_FIELDS.map((f) => [f, null])) as unknown as NormalizedRecord;

export type Validation = { ok: true; record: NormalizedRecord } | { ok: false; reason: string };

export interface ValidationContext {
  dateFormat?: DateFormat;
  /** When the payload was fetched: an asset quote observed more than a day after it is refused. */
  fetchedAt?: Date;
}

/** Validates a candidate record (unified field name → source value) against the unified schema. */
export function validateRecord(kind: RecordKind, candidate: Record<string, unknown>, { dateFormat = 'auto', fetchedAt }: ValidationContext = {}): Validation {
  // a field the source does not have is null, like an empty one
  const result = schemas(dateFormat)[kind].safeParse({ ...EMPTY, ...candidate, kind });
  if (result.success && kind === 'asset' && result.data.sourceUpdatedAt) {
    const problem = observationProblem(result.data.sourceUpdatedAt as string, fetchedAt);
    if (problem) return { ok: false, reason: `source_updated_at ${problem}` };
  }
  if (!result.success) {
    const reason = result.error.issues.map((i) => (i.path.length ? `${toSnake(i.path.join('.'))} ${i.message}` : i.message)).join('; ');
    return { ok: false, reason };
  }
  return { ok: true, record: { ...EMPTY, ...result.data } as NormalizedRecord };
}

/** Why an asset quote's timestamp cannot be an observation time (LIMITS.observation), or null. */
function observationProblem(iso: string, fetchedAt: Date | undefined): string | null {
  const ms = Date.parse(iso);
  if (ms < LIMITS.observation.earliest) return `is before 1970: ${iso}`;
  if (fetchedAt && ms > fetchedAt.getTime() + LIMITS.observation.futureSlackMs) return `is more than a day after the payload was fetched (${fetchedAt.toISOString()}): ${iso}`;
  return null;
}

/** A stable hash of the record's content: equal hashes mean "nothing to write". */
export function contentHash(record: NormalizedRecord): string {
  // one string, one hash: a null (\u0000) never equals an empty or missing value
  return createHash('sha256').update(RECORD_FIELDS.map((field) => record[field] ?? '\u0000').join('\u001f')).digest('hex').slice(0, 32);
}
