// Where each unified field comes from in a source's records. Sources with a fixed format declare it;
// CSV headers are matched against the spellings real exports use, with a confidence score. Below the
// threshold a column stays unmapped and is reported with its best guess: a column is never guessed into a field.
import { distance } from 'fastest-levenshtein';
import { REQUIRED_FIELDS, type RecordKind, type UnifiedField } from './record.ts';

export interface FieldSource {
  /** The source field (CSV column, or dotted JSON path); `constant` for a value the sources file fixes. */
  from: string;
  confidence: number;
  how: 'declared' | 'alias' | 'fuzzy' | 'configured' | 'renamed' | 'symbol' | 'constant';
  /** The value every record gets, for a constant (a history file of one coin without a symbol column). */
  value?: string;
}
export type FieldMapping = Partial<Record<UnifiedField, FieldSource>>;
export interface Unmapped {
  column: string;
  best?: { field: UnifiedField; confidence: number };
}
export interface ResolvedMapping {
  mapping: FieldMapping;
  unmapped: Unmapped[];
}

/** A header match below this confidence is not used ("price_change_24h" scores 0.75 against "percent_change_24h"). */
export const MAPPING_THRESHOLD = 0.8;

// Spellings seen in CoinGecko, CoinPaprika, CoinMarketCap, Kaggle and pandas exports, each with how sure
// a match makes us. Compared ignoring case, spaces and punctuation, and also with the words reordered.
const ALIASES: Partial<Record<UnifiedField, [string, number][]>> = {
  sourceKey: [['id', 1], ['coin_id', 0.95], ['asset_id', 0.95], ['slug', 0.9]],
  symbol: [['symbol', 1], ['ticker', 0.95], ['sym', 0.9]],
  name: [['name', 1], ['coin_name', 0.95], ['asset_name', 0.95], ['coin', 0.8], ['asset', 0.8]],
  rank: [['rank', 1], ['market_cap_rank', 0.95], ['cmc_rank', 0.9]],
  priceUsd: [['price_usd', 1], ['usd_price', 1], ['current_price', 0.95], ['price', 0.95], ['last_price', 0.95], ['last', 0.8], ['close', 0.85], ['close_price', 0.9], ['close_usd', 0.9], ['closing_price', 0.9]],
  // a history's open, high and low of the period a row sums up (the close is its price)
  openUsd: [['open_usd', 1], ['open', 0.9], ['open_price', 0.9], ['opening_price', 0.9]],
  highUsd: [['high_usd', 1], ['high', 0.9], ['high_price', 0.9]],
  lowUsd: [['low_usd', 1], ['low', 0.9], ['low_price', 0.9]],
  marketCapUsd: [['market_cap_usd', 1], ['market_cap', 0.95], ['market_capitalization', 0.95], ['mcap', 0.9]],
  volume24hUsd: [['volume_24h_usd', 1], ['volume_24h', 0.95], ['total_volume', 0.95], ['volume_usd', 0.95], ['volume', 0.9], ['vol_24h', 0.9], ['vol', 0.85]],
  circulatingSupply: [['circulating_supply', 1]],
  totalSupply: [['total_supply', 1]],
  maxSupply: [['max_supply', 1]],
  percentChange24h: [['percent_change_24h', 1], ['price_change_percentage_24h', 0.95], ['change_24h', 0.9]],
  sourceUpdatedAt: [['source_updated_at', 1], ['last_updated', 0.95], ['updated_at', 0.95], ['updated', 0.9], ['timestamp', 0.9], ['date', 0.85], ['recorded_date', 0.85], ['as_of', 0.85]],
  title: [['title', 1], ['headline', 0.95]],
  url: [['url', 1], ['link', 0.95]],
  summary: [['summary', 1], ['description', 0.9]],
  author: [['author', 1], ['creator', 0.9]],
  publishedAt: [['published_at', 1], ['pub_date', 0.95], ['published', 0.95]],
};
const ASSET_FIELDS = new Set<UnifiedField>([
  'sourceKey', 'symbol', 'name', 'rank', 'priceUsd', 'marketCapUsd', 'volume24hUsd', 'circulatingSupply', 'totalSupply', 'maxSupply',
  'percentChange24h', 'openUsd', 'highUsd', 'lowUsd', 'sourceUpdatedAt',
]);
const ARTICLE_FIELDS = new Set<UnifiedField>(['sourceKey', 'title', 'url', 'summary', 'author', 'publishedAt', 'sourceUpdatedAt']);

const squash = (name: string) => name.toLowerCase().replace(/[^a-z0-9]/g, '');
/** Words of a field name: `price_change_24h`, `priceChange24h` and `Price Change 24h` give the same words. */
export const words = (name: string) =>
  name.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase().split(/[^a-z0-9]+|(?<=[a-z])(?=\d)/).filter(Boolean);

/** How alike two field names are, 0..1: the better of edit-distance similarity and word overlap. */
export function nameSimilarity(a: string, b: string): number {
  const [x, y] = [squash(a), squash(b)];
  if (!x || !y) return 0;
  const edit = 1 - distance(x, y) / Math.max(x.length, y.length);
  const [wa, wb] = [new Set(words(a)), new Set(words(b))];
  const shared = [...wa].filter((w) => wb.has(w)).length;
  const overlap = shared / new Set([...wa, ...wb]).size;
  return Math.max(edit, overlap);
}

/** Scores a column against one unified field: its best alias, exact, with words reordered, or close (typos). */
function score(column: string, field: UnifiedField): { confidence: number; how: 'alias' | 'fuzzy' } {
  let best = { confidence: 0, how: 'fuzzy' as 'alias' | 'fuzzy' };
  const squashed = squash(column);
  const sortedWords = words(column).sort().join(' ');
  for (const [alias, weight] of ALIASES[field] ?? []) {
    const aliasSquashed = squash(alias);
    if (squashed === aliasSquashed) return { confidence: weight, how: 'alias' };
    const reordered = sortedWords === words(alias).sort().join(' ') ? weight * 0.95 : 0;
    // edit distance only for longer names: "vol" vs "val" says nothing
    const similar = aliasSquashed.length >= 5 ? weight * (1 - distance(squashed, aliasSquashed) / Math.max(squashed.length, aliasSquashed.length)) : 0;
    const confidence = Math.max(reordered, similar);
    if (confidence > best.confidence) best = { confidence, how: 'fuzzy' };
  }
  return best;
}

/** Matches CSV columns to unified fields, each column and field used at most once, best matches first. */
export function matchHeader(kind: RecordKind, columns: string[]): ResolvedMapping {
  const fields = [...(kind === 'asset' ? ASSET_FIELDS : ARTICLE_FIELDS)];
  const candidates = columns.flatMap((column) => fields.map((field) => ({ column, field, ...score(column, field) })));
  candidates.sort((a, b) => b.confidence - a.confidence);
  const mapping: FieldMapping = {};
  const used = new Set<string>();
  for (const c of candidates) {
    if (c.confidence < MAPPING_THRESHOLD || used.has(c.column) || mapping[c.field]) continue;
    mapping[c.field] = { from: c.column, confidence: round(c.confidence), how: c.how };
    used.add(c.column);
  }
  const unmapped = columns
    .filter((column) => !used.has(column))
    .map((column) => {
      const best = candidates.find((c) => c.column === column && c.confidence > 0);
      return best ? { column, best: { field: best.field, confidence: round(best.confidence) } } : { column };
    });
  return { mapping, unmapped };
}

export interface MappingInput {
  kind: RecordKind;
  /** The adapter's fixed map; absent for CSV, whose header is matched instead. */
  declared?: Partial<Record<UnifiedField, string>>;
  /** The fields the payload's records have. */
  columns: string[];
  /** Operator overrides from the sources file: they always win. */
  configured: Partial<Record<UnifiedField, string>>;
  /** Values the sources file fixes for every record (`constants:`); they win over any column. */
  constants?: Partial<Record<UnifiedField, string>>;
  /** Renames accepted under drift policy evolve: old source field → new one. */
  renames: Record<string, string>;
}

export function resolveMapping({ kind, declared, columns, configured, constants = {}, renames }: MappingInput): ResolvedMapping {
  const resolved: ResolvedMapping = declared
    ? { mapping: Object.fromEntries(Object.entries(declared).map(([field, from]) => [field, { from, confidence: 1, how: 'declared' }])), unmapped: [] }
    : matchHeader(kind, columns);
  for (const source of Object.values(resolved.mapping)) {
    let renamed = source.from;
    for (let hops = 0; renames[renamed] && hops < 10; hops++) renamed = renames[renamed]!;
    if (renamed !== source.from) Object.assign(source, { from: renamed, how: 'renamed' });
  }
  for (const [field, from] of Object.entries(configured)) {
    resolved.mapping[field as UnifiedField] = { from, confidence: 1, how: 'configured' };
  }
  for (const [field, value] of Object.entries(constants)) {
    resolved.mapping[field as UnifiedField] = { from: 'constant', confidence: 1, how: 'constant', value };
  }
  resolved.unmapped = resolved.unmapped.filter((u) => !Object.values(resolved.mapping).some((m) => m.from === u.column));
  // an asset file without an id column is keyed by its symbols
  const symbol = resolved.mapping.symbol;
  if (kind === 'asset' && !resolved.mapping.sourceKey && symbol) resolved.mapping.sourceKey = { ...symbol, how: 'symbol' };
  return resolved;
}

/** The required fields nothing maps to: a payload missing one cannot be read at all. */
export function missingRequired(kind: RecordKind, mapping: FieldMapping): UnifiedField[] {
  return REQUIRED_FIELDS[kind].filter((field) => !mapping[field]);
}

/** Picks each unified field's value out of a source record. */
export function applyMapping(fields: Record<string, unknown>, mapping: FieldMapping): Record<string, unknown> {
  const candidate: Record<string, unknown> = {};
  for (const [field, source] of Object.entries(mapping)) {
    const value = source.value ?? fields[source.from];
    candidate[field] = source.how === 'symbol' && typeof value === 'string' ? value.trim().toUpperCase() : value;
  }
  return candidate;
}

const round = (n: number) => Math.round(n * 100) / 100;
