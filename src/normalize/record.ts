// The unified schema every source maps into, validated with zod. A record that fails goes to quarantine
// with the messages below as its reason; nothing is dropped silently and nothing is guessed.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { LIMITS, type TextLimit } from './limits.ts';
import { couldBeTicker } from './ticker.ts';
import {
  ValueError,
  excerpt,
  parseDecimal,
  parseInteger,
  parseText,
  readTimestamp,
  type DateFormat,
} from './values.ts';

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
  'kind',
  'sourceKey',
  'symbol',
  'name',
  'rank',
  'priceUsd',
  'marketCapUsd',
  'volume24hUsd',
  'circulatingSupply',
  'totalSupply',
  'maxSupply',
  'percentChange24h',
  'openUsd',
  'highUsd',
  'lowUsd',
  'title',
  'url',
  'summary',
  'author',
  'publishedAt',
  'sourceUpdatedAt',
] as const satisfies readonly (keyof NormalizedRecord)[];

/** The fields of an asset record that make a quote: what an observation in the time series holds. */
export const QUOTE_FIELDS = [
  'priceUsd',
  'marketCapUsd',
  'volume24hUsd',
  'circulatingSupply',
  'totalSupply',
  'maxSupply',
  'percentChange24h',
  'rank',
  'openUsd',
  'highUsd',
  'lowUsd',
] as const satisfies readonly (keyof NormalizedRecord)[];

export type UnifiedField = Exclude<(typeof RECORD_FIELDS)[number], 'kind'>;

/** camelCase field → its snake_case name in SQL, the API and the sources file (volume24hUsd → volume_24h_usd). */
export const toSnake = (field: string) =>
  field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/(\d+)/g, '_$1');

/** Every field a source can map into, with its snake_case name. */
export const UNIFIED_FIELDS = RECORD_FIELDS.filter((f): f is UnifiedField => f !== 'kind').map((field) => ({
  field,
  snake: toSnake(field),
}));
const bySnake = new Map(UNIFIED_FIELDS.map((f) => [f.snake, f.field]));
export const snakeToField = (name: string): UnifiedField | undefined => bySnake.get(name);

/** The fields each kind requires: without a source for them, a payload cannot be read at all. */
export const REQUIRED_FIELDS: Record<RecordKind, UnifiedField[]> = {
  asset: ['sourceKey', 'symbol'],
  article: ['sourceKey', 'title'],
};

/**
 * How much a bad value costs. `field`: the field is stored as null and the problem recorded beside the run
 * (a bad optional field is not a bad record). `record`: the record is quarantined, because the value is what
 * identifies it, or says it is not what it claims to be (a negative price, a symbol that cannot be a ticker),
 * or would put a quote at a time the source did not say.
 */
type Cost = 'field' | 'record';
const COST = 'cost';

// A preprocess step turns source text into a typed value, then `check` may refuse it; a ValueError or a
// refusal becomes a zod issue on that field, tagged with what it costs. Plain checks rather than a nested zod
// schema per field: this runs for every field of every record, and a nested safeParse allocates a result
// object for each one.
function cleaned<T>(
  parse: (value: unknown) => T | null,
  check: (value: T) => string | null = () => null,
  { unreadable = 'field', refused = 'field' }: { unreadable?: Cost; refused?: Cost } = {},
) {
  return z.unknown().transform((value, ctx): T | null => {
    try {
      const parsed = parse(value);
      if (parsed === null) return null;
      const problem = check(parsed);
      if (problem === null) return parsed;
      ctx.addIssue({ code: 'custom', message: problem, params: { [COST]: refused } });
      return z.NEVER;
    } catch (error) {
      if (!(error instanceof ValueError)) throw error;
      ctx.addIssue({ code: 'custom', message: error.message, params: { [COST]: unreadable } });
      return z.NEVER;
    }
  });
}

// PostgreSQL counts characters, its indexes count bytes: a 500-character key of 4-byte characters is 2,000 bytes
const fits =
  ({ chars, bytes }: TextLimit) =>
  (s: string) =>
    s.length > chars
      ? `is longer than ${chars} characters`
      : s.length * 3 > bytes && Buffer.byteLength(s) > bytes
        ? `is longer than ${bytes} bytes`
        : null;
const decimal = cleaned(parseDecimal);
// an amount below zero is not a misspelt amount: the row is not the market data it claims to be
const amount = cleaned(
  parseDecimal,
  (d) => (d.startsWith('-') && /[1-9]/.test(d.replace(/e.*$/i, '')) ? 'must not be negative' : null),
  { refused: 'record' },
);
const text = (limit: TextLimit) => cleaned(parseText, fits(limit));
/** A required field: without it (or with it unreadable) the record cannot be identified or shown. */
const required = <T>(parse: (value: unknown) => T | null, check: (value: T) => string | null) =>
  cleaned(parse, check, { unreadable: 'record', refused: 'record' }).refine((v) => v !== null, {
    message: 'is required',
    params: { [COST]: 'record' },
  });
const requiredText = (limit: TextLimit) => required(parseText, fits(limit));
const { text: TEXT } = LIMITS;

/** Why a symbol cannot be a ticker, or null. */
function symbolProblem(symbol: string, trusted: boolean): string | null {
  const tooLong = fits(TEXT.symbol)(symbol);
  if (tooLong || trusted) return tooLong;
  return couldBeTicker(symbol) ? null : 'cannot be a ticker (a name in mixed case)';
}

// the fields of the record being validated whose time was read as UTC for want of a zone (set per call)
let zoneAssumed: string[] = [];

function schemasFor(dateFormat: DateFormat, timeZone: string | undefined, trustSymbol: boolean) {
  const timestamp = (field: string, cost: Cost) =>
    cleaned(
      (v) => {
        const read = readTimestamp(v, dateFormat, timeZone);
        if (read?.zoneAssumed) zoneAssumed.push(field);
        return read?.iso ?? null;
      },
      undefined,
      { unreadable: cost },
    );
  return {
    asset: z.object({
      kind: z.literal('asset'),
      sourceKey: requiredText(TEXT.assetKey),
      // upper-cased after the check: a product name is told from a ticker by its case too
      symbol: required(parseText, (s) => symbolProblem(s, trustSymbol)).transform((s) => s!.toUpperCase()),
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
      // when the quote was observed: read wrongly, it would be a point of the series at a time nobody said
      sourceUpdatedAt: timestamp('source_updated_at', 'record'),
    }),
    article: z.object({
      kind: z.literal('article'),
      sourceKey: requiredText(TEXT.articleKey),
      title: requiredText(TEXT.title),
      url: text(TEXT.url),
      summary: text(TEXT.summary),
      author: text(TEXT.author),
      publishedAt: timestamp('published_at', 'field'),
      sourceUpdatedAt: timestamp('source_updated_at', 'field'),
    }),
  };
}

// one zod schema per declared date format, zone and symbol trust, built once; a payload asks for the same
// one for every record, so the last one is kept at hand
const schemaCache = new Map<string, ReturnType<typeof schemasFor>>();
let last:
  | {
      dateFormat: DateFormat;
      timeZone: string | undefined;
      trustSymbol: boolean;
      schemas: ReturnType<typeof schemasFor>;
    }
  | undefined;
function schemas(dateFormat: DateFormat, timeZone: string | undefined, trustSymbol: boolean) {
  if (last && last.dateFormat === dateFormat && last.timeZone === timeZone && last.trustSymbol === trustSymbol)
    return last.schemas;
  const key = `${dateFormat}\u0000${timeZone ?? ''}\u0000${trustSymbol}`;
  const found = schemaCache.get(key) ?? schemaCache.set(key, schemasFor(dateFormat, timeZone, trustSymbol)).get(key)!;
  last = { dateFormat, timeZone, trustSymbol, schemas: found };
  return found;
}

const EMPTY = Object.fromEntries(RECORD_FIELDS.map((f) => [f, null])) as unknown as NormalizedRecord;

/** An optional field the record keeps as null (or, for `note`, as read), with the value the source sent and why. */
export interface FieldIssue {
  field: string;
  value: string;
  reason: string;
}

export type Validation =
  | {
      ok: true;
      record: NormalizedRecord;
      issues: FieldIssue[];
      /**
       * The fields whose time of day had no zone and was read as UTC (no `timezone` for the source). Not a
       * field issue per record: a file of zone-less times would write one for every row of every run; the
       * run says it once (run_source.warnings).
       */
      zoneAssumed: string[];
    }
  | { ok: false; reason: string };

export interface ValidationContext {
  dateFormat?: DateFormat;
  /** The IANA zone of the source's zone-less timestamps; without one they are read as UTC, and flagged. */
  timeZone?: string;
  /** When the payload was fetched: an asset quote observed more than a day after it is refused. */
  fetchedAt?: Date;
  /** The sources file maps the symbol column by hand: its values are symbols whatever they look like. */
  trustSymbol?: boolean;
}

/** Validates a candidate record (unified field name → source value) against the unified schema. */
export function validateRecord(
  kind: RecordKind,
  candidate: Record<string, unknown>,
  { dateFormat = 'auto', timeZone, fetchedAt, trustSymbol = false }: ValidationContext = {},
): Validation {
  const schema = schemas(dateFormat, timeZone, trustSymbol)[kind];
  // a field the source does not have is null, like an empty one
  const input = { ...EMPTY, ...candidate, kind };
  zoneAssumed = [];
  let result = schema.safeParse(input);
  const issues: FieldIssue[] = [];
  if (!result.success) {
    const costs = result.error.issues.map((i) => ({
      issue: i,
      cost: ((i as { params?: Record<string, unknown> }).params?.[COST] as Cost | undefined) ?? 'record',
    }));
    if (costs.some((c) => c.cost === 'record')) return { ok: false, reason: reasonOf(result.error.issues) };
    // every problem is in an optional field: keep the record with those fields empty
    for (const { issue } of costs) {
      const field = String(issue.path[0]);
      issues.push({ field: toSnake(field), value: excerpt(candidate[field], 200), reason: issue.message });
      (input as Record<string, unknown>)[field] = null;
    }
    zoneAssumed = [];
    result = schema.safeParse(input);
    if (!result.success) return { ok: false, reason: reasonOf(result.error.issues) };
  }
  if (kind === 'asset' && result.data.sourceUpdatedAt) {
    const problem = observationProblem(result.data.sourceUpdatedAt as string, fetchedAt);
    if (problem) return { ok: false, reason: `source_updated_at ${problem}` };
  }
  return { ok: true, record: { ...EMPTY, ...result.data } as NormalizedRecord, issues, zoneAssumed };
}

const reasonOf = (issues: z.core.$ZodIssue[]) =>
  issues.map((i) => (i.path.length ? `${toSnake(i.path.join('.'))} ${i.message}` : i.message)).join('; ');

const PLAIN_NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** Values a source writes for "no value" in a field (CoinPaprika's rank 0): read as null, not as a claim. */
export function clearSentinels(
  candidate: Record<string, unknown>,
  sentinels: Partial<Record<UnifiedField, readonly (string | number)[]>> | undefined,
): void {
  if (!sentinels) return;
  for (const [field, values] of Object.entries(sentinels)) {
    const value = candidate[field];
    if (value === null || value === undefined) continue;
    // compared as numbers where both are: CoinGecko writes a zero supply as 0.0
    const text = typeof value === 'string' ? value.trim() : value;
    const number =
      typeof text === 'number' ? text : typeof text === 'string' && PLAIN_NUMBER.test(text) ? Number(text) : undefined;
    if (values.some((v) => v === text || (typeof v === 'number' && v === number) || String(v) === text))
      candidate[field] = null;
  }
}

/** Why an asset quote's timestamp cannot be an observation time (LIMITS.observation), or null. */
function observationProblem(iso: string, fetchedAt: Date | undefined): string | null {
  const ms = Date.parse(iso);
  if (ms < LIMITS.observation.earliest) return `is before 1970: ${iso}`;
  if (fetchedAt && ms > fetchedAt.getTime() + LIMITS.observation.futureSlackMs)
    return `is more than a day after the payload was fetched (${fetchedAt.toISOString()}): ${iso}`;
  return null;
}

/** A stable hash of the record's content: equal hashes mean "nothing to write". */
export function contentHash(record: NormalizedRecord): string {
  // one string, one hash: a null (\u0000) never equals an empty or missing value
  return createHash('sha256')
    .update(RECORD_FIELDS.map((field) => record[field] ?? '\u0000').join('\u001f'))
    .digest('hex')
    .slice(0, 32);
}
