// Where each unified field comes from in a source's records. Sources with a fixed format declare it;
// CSV headers are matched against the spellings real exports use, and each column's first values are
// checked against what the field holds, with a confidence score. Below the threshold a column stays
// unmapped and is reported with its best guess: a column is never guessed into a field.
import { distance } from 'fastest-levenshtein';
import { LIMITS } from './limits.ts';
import { REQUIRED_FIELDS, type RecordKind, type UnifiedField } from './record.ts';
import { isMissing, parseDecimal, parseTimestamp } from './values.ts';

export interface FieldSource {
  /** The source field (CSV column, or dotted JSON path); `constant` for a value the sources file fixes. */
  from: string;
  confidence: number;
  /** `values`: a column whose name matches nothing, mapped by what it holds (tickers, dates, URLs). */
  how: 'declared' | 'alias' | 'fuzzy' | 'values' | 'configured' | 'renamed' | 'symbol' | 'constant';
  /** The value every record gets, for a constant (a history file of one coin without a symbol column). */
  value?: string;
}
export type FieldMapping = Partial<Record<UnifiedField, FieldSource>>;
export interface Unmapped {
  column: string;
  /** The field the column came closest to, and whether its name or its values got it there. */
  best?: { field: UnifiedField; confidence: number; by?: 'name' | 'values' };
  /** Why the column's name match was not taken: its values contradict the field, or it is in another currency than USD. */
  why?: string;
}
export interface ResolvedMapping {
  mapping: FieldMapping;
  unmapped: Unmapped[];
}

/** A header match below this confidence is not used ("price_change_24h" scores 0.75 against "percent_change_24h"). */
export const MAPPING_THRESHOLD = 0.8;

// Spellings seen in CoinGecko (API and CSV export), CoinPaprika, CoinMarketCap (API v1 and historical CSV),
// CoinCap, Kaggle datasets, exchange exports (CryptoDataDownload, Bitstamp, CoinAPI) and pandas, each with how
// sure a match makes us: a bare `cap` or `market` says less than `market_cap`. Compared ignoring case, spaces
// and punctuation, also with the words reordered, and also without a leading coin_/asset_/token_/crypto_.
// Families are covered by reading the name (see readName), not by listing every spelling.
const TIME_ALIASES: [string, number][] = [
  ['timestamp', 0.9],
  ['datetime', 0.9],
  ['date', 0.85],
  ['time', 0.85],
  ['unix_timestamp', 0.9],
  ['unix_time', 0.9],
  ['unix', 0.85],
  ['epoch', 0.8],
  ['snapped_at', 0.95],
  ['observed_at', 0.9],
  ['recorded_date', 0.85],
  ['as_of', 0.85],
  // a candle's close is when its figures were observed; its open time only when nothing better is there
  ['time_close', 0.88],
  ['close_time', 0.88],
  ['time_period_end', 0.85],
  ['time_open', 0.8],
  ['open_time', 0.8],
];
const UPDATED_ALIASES: [string, number][] = [
  ['source_updated_at', 1],
  ['last_updated', 0.95],
  ['last_updated_at', 0.95],
  ['updated_at', 0.95],
  ['updated', 0.9],
  ['modified_at', 0.9],
];
const ALIASES: Partial<Record<UnifiedField, [string, number][]>> = {
  sourceKey: [
    ['id', 1],
    ['slug', 0.9],
    ['uuid', 0.9],
    ['cmc_id', 0.9],
  ],
  symbol: [
    ['symbol', 1],
    ['ticker', 0.95],
    ['ticker_symbol', 0.95],
    ['sym', 0.9],
    ['base_asset', 0.85],
    ['base_currency', 0.85],
    ['base', 0.7],
    ['code', 0.7],
  ],
  name: [
    ['name', 1],
    ['full_name', 0.9],
    ['coin', 0.8],
    ['asset', 0.8],
    ['token', 0.8],
    ['crypto', 0.75],
    ['currency', 0.7],
  ],
  rank: [
    ['rank', 1],
    ['market_cap_rank', 0.95],
    ['cmc_rank', 0.9],
    ['ranknow', 0.9],
  ],
  priceUsd: [
    ['price_usd', 1],
    ['usd_price', 1],
    ['current_price', 0.95],
    ['price', 0.95],
    ['last_price', 0.95],
    ['latest_price', 0.95],
    ['spot_price', 0.95],
    ['market_price', 0.9],
    ['usd', 0.85],
    ['last', 0.8],
    ['close', 0.85],
    ['close_price', 0.9],
    ['price_close', 0.9],
    ['close_usd', 0.9],
    ['closing_price', 0.9],
    ['weighted_price', 0.8],
  ],
  // a history's open, high and low of the period a row sums up (the close is its price)
  openUsd: [
    ['open_usd', 1],
    ['open', 0.9],
    ['open_price', 0.9],
    ['price_open', 0.9],
    ['opening_price', 0.9],
  ],
  highUsd: [
    ['high_usd', 1],
    ['high', 0.9],
    ['high_price', 0.9],
    ['price_high', 0.9],
  ],
  lowUsd: [
    ['low_usd', 1],
    ['low', 0.9],
    ['low_price', 0.9],
    ['price_low', 0.9],
  ],
  marketCapUsd: [
    ['market_cap_usd', 1],
    ['usd_market_cap', 1],
    ['market_cap', 0.95],
    ['market_capitalization', 0.95],
    ['mcap', 0.9],
    ['mkt_cap', 0.9],
    ['cap', 0.8],
    ['market', 0.7],
  ],
  volume24hUsd: [
    ['volume_24h_usd', 1],
    ['24h_volume_usd', 1],
    ['volume_usd_24h', 1],
    ['usd_24h_vol', 1],
    ['volume_24h', 0.95],
    ['total_volume', 0.95],
    ['volume_usd', 0.95],
    ['volume', 0.9],
    ['vol_24h', 0.9],
    ['vol_usd', 0.9],
    ['daily_volume', 0.85],
    ['vol', 0.85],
    // Bitstamp's Volume_(Currency): the quote currency's, beside Volume_(BTC)
    ['volume_currency', 0.85],
  ],
  circulatingSupply: [
    ['circulating_supply', 1],
    ['available_supply', 0.95],
    ['circ_supply', 0.9],
    ['supply', 0.9],
  ],
  totalSupply: [['total_supply', 1]],
  maxSupply: [
    ['max_supply', 1],
    ['maximum_supply', 0.95],
  ],
  percentChange24h: [
    ['percent_change_24h', 1],
    ['price_change_percentage_24h', 0.95],
    ['change_percent_24h', 0.95],
    ['usd_24h_change', 0.95],
    ['change_24h', 0.9],
    ['percent_24h', 0.9],
  ],
  title: [
    ['title', 1],
    ['headline', 0.95],
  ],
  url: [
    ['url', 1],
    ['link', 0.95],
  ],
  summary: [
    ['summary', 1],
    ['description', 0.9],
  ],
  author: [
    ['author', 1],
    ['creator', 0.9],
  ],
};
const ASSET_FIELDS = new Set<UnifiedField>([
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
  'sourceUpdatedAt',
]);
const ARTICLE_FIELDS = new Set<UnifiedField>([
  'sourceKey',
  'title',
  'url',
  'summary',
  'author',
  'publishedAt',
  'sourceUpdatedAt',
]);
/** The fields whose values are US dollars: a column in another currency is none of them. */
const USD_FIELDS = new Set<UnifiedField>(['priceUsd', 'openUsd', 'highUsd', 'lowUsd', 'marketCapUsd', 'volume24hUsd']);
const AMOUNT_FIELDS = new Set<UnifiedField>([...USD_FIELDS, 'circulatingSupply', 'totalSupply', 'maxSupply']);

// An asset's time is when it was observed; an article's plain date or time is when it was published.
function aliasesFor(kind: RecordKind, field: UnifiedField): [string, number][] {
  if (field === 'sourceUpdatedAt') return kind === 'asset' ? [...UPDATED_ALIASES, ...TIME_ALIASES] : UPDATED_ALIASES;
  if (field === 'publishedAt')
    return [['published_at', 1], ['pub_date', 0.95], ['publish_date', 0.95], ['published', 0.95], ...TIME_ALIASES];
  return ALIASES[field] ?? [];
}

const squash = (name: string) => name.toLowerCase().replace(/[^a-z0-9]/g, '');
/** Words of a field name: `price_change_24h`, `priceChange24h` and `Price Change 24h` give the same words. */
export const words = (name: string) =>
  name
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+|(?<=[a-z])(?=\d)/)
    .filter(Boolean);

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

// ---- reading a column's name ----

// USD and the dollar stablecoins quotes are in: an exchange's "Volume USDT" is the USD volume
const USD_UNITS = new Set(['usd', 'usdt', 'usdc', 'busd', 'tusd', 'fdusd', 'usdp', 'dollar', 'dollars', 'usdollar']);
// currencies an amount column may be in instead; `base` is an exchange's base asset ("base_volume")
const OTHER_CURRENCIES = new Set([
  'btc',
  'xbt',
  'eth',
  'bnb',
  'sol',
  'xrp',
  'ltc',
  'doge',
  'ada',
  'sat',
  'sats',
  'eur',
  'gbp',
  'jpy',
  'krw',
  'cny',
  'rmb',
  'inr',
  'aud',
  'cad',
  'chf',
  'rub',
  'try',
  'brl',
  'base',
]);
const PREFIXES = new Set(['coin', 'asset', 'token', 'crypto', 'cryptocurrency', 'currency']);
const SPELLINGS = new Map<string, string>([
  ['24hr', '24h'],
  ['24hrs', '24h'],
  ['24hour', '24h'],
  ['24hours', '24h'],
  ['pct', 'percent'],
  ['percentage', 'percent'],
  ['perc', 'percent'],
  ...[...USD_UNITS].map((u): [string, string] => [u, 'usd']),
]);
/** Words with a meaning here: any word of an alias, and words headers use around them. */
const VOCABULARY = new Set([
  ...[...Object.values(ALIASES), TIME_ALIASES, UPDATED_ALIASES]
    .flat()
    .flatMap(([alias]) => [...words(alias), squash(alias)]),
  'published',
  'pub',
  'id',
  'no',
  'nr',
  'num',
  'number',
  'index',
  'idx',
  'utc',
  'gmt',
  'iso',
  'ms',
  'sec',
  'seconds',
  'change',
  'percent',
  '1h',
  '7d',
  '30d',
  '1y',
  'ath',
  'atl',
  'roi',
  'vwap',
  'ohlc',
  'avg',
  'quote',
  'currency',
  'traded',
  'count',
  'trades',
  'tradecount',
]);

function canonicalWords(text: string): string[] {
  const raw = words(text.replace(/%/g, ' percent ').replace(/\bus\$|\$/gi, ' usd '));
  const out: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    let word = raw[i]!;
    // "Usd24Hr" splits into 24hr; "24 h" into two words
    if (word === '24' && /^h(r|rs|our|ours)?$/.test(raw[i + 1] ?? '')) [word, i] = ['24h', i + 1];
    word = SPELLINGS.get(word) ?? word;
    // "price_in_usd", "price in btc": the unit is what counts
    if (word === 'in' && (SPELLINGS.get(raw[i + 1] ?? '') === 'usd' || OTHER_CURRENCIES.has(raw[i + 1] ?? '')))
      continue;
    out.push(word);
  }
  return out;
}

interface NameForm {
  squashed: string;
  sorted: string;
  /** The period the name is about (1h, 24h, 7d), if it says. */
  period?: string;
  /** How much a match of this form is worth: a name read without its coin_ prefix a little less. */
  factor: number;
}
interface ReadName {
  words: string[];
  forms: NameForm[];
  /** The currency or unit other than USD the name says the column is in ("Volume BTC", "price_eur", "[coins]"). */
  currency?: string;
}
const form = (ws: string[], factor = 1): NameForm => ({
  squashed: ws.join(''),
  sorted: [...ws].sort().join(' '),
  factor,
  period: ws.find((w) => /^\d+(h|d|w|m|y|mo)$/.test(w)),
});

/**
 * A column name read the way people write them: a units suffix in parentheses or brackets ("(USD)", "[usd]",
 * "($)", "(BTC)") is a unit, not part of the name; "24hr" is 24h, "%" is percent, USDT is USD; a leading
 * coin_/asset_/token_/crypto_ says whose the field is; a currency code beside the name ("Volume BTC",
 * "price_in_eur") says the column is not in USD.
 */
function readName(column: string): ReadName {
  let currency: string | undefined;
  let usd = false;
  const text = column.replace(/^\uFEFF/, '').replace(/[([]([^)\]]*)[)\]]/g, (_, inner: string) => {
    const unit = inner.trim();
    const unitWords = canonicalWords(unit);
    if (!unitWords.length) return ' ';
    if (unitWords.every((w) => w === 'usd')) usd = true;
    // "(24h)", "(%)" or "(Currency)" are words of the name
    else if (unitWords.every((w) => VOCABULARY.has(w))) return ` ${unit} `;
    else currency ??= unit;
    return ' ';
  });
  let ws = canonicalWords(text);
  if (usd) ws.push('usd');
  currency ??= ws.find((w) => OTHER_CURRENCIES.has(w));
  // an upper-case code beside other words ("Volume 1INCH") is the currency of an exchange's base asset
  const tokens = text.split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  if (!currency && tokens.length >= 2) {
    currency = tokens.find(
      (t) =>
        /^[A-Z0-9]{2,10}$/.test(t) &&
        /[A-Z]/.test(t) &&
        !VOCABULARY.has(t.toLowerCase()) &&
        !SPELLINGS.has(t.toLowerCase()),
    );
  }
  if (currency) ws = ws.filter((w) => w !== currency!.toLowerCase());
  if (currency && currency === currency.toLowerCase() && OTHER_CURRENCIES.has(currency))
    currency = currency.toUpperCase();
  const bases = [ws];
  if (ws.includes('usd') && ws.length > 1) bases.push(ws.filter((w) => w !== 'usd'));
  const forms = [form(words(column)), ...bases.map((b) => form(b))];
  for (const b of bases) if (b.length >= 2 && PREFIXES.has(b[0]!)) forms.push(form(b.slice(1), 0.97));
  return { words: ws, forms: forms.filter((f) => f.squashed), currency };
}

const aliasForms = new Map<string, NameForm>();
const aliasForm = (alias: string) => aliasForms.get(alias) ?? aliasForms.set(alias, form(words(alias))).get(alias)!;

/** Scores a column's name against one field's aliases: exact, with words reordered, or close (typos). */
function nameScore(name: ReadName, aliases: [string, number][]): { confidence: number; how: 'alias' | 'fuzzy' } {
  let best = { confidence: 0, how: 'fuzzy' as 'alias' | 'fuzzy' };
  for (const f of name.forms) {
    for (const [alias, weight] of aliases) {
      const a = aliasForm(alias);
      // a 7-day change is not the 24-hour change, however alike the names are
      if (f.period && a.period && f.period !== a.period) continue;
      const w = weight * f.factor;
      let candidate: { confidence: number; how: 'alias' | 'fuzzy' };
      if (f.squashed === a.squashed) candidate = { confidence: w, how: 'alias' };
      else {
        const reordered = f.sorted === a.sorted ? w * 0.95 : 0;
        // edit distance only for longer names: "vol" vs "val" says nothing
        const similar =
          a.squashed.length >= 5
            ? w * (1 - distance(f.squashed, a.squashed) / Math.max(f.squashed.length, a.squashed.length))
            : 0;
        candidate = { confidence: Math.max(reordered, similar), how: 'fuzzy' };
      }
      if (
        candidate.confidence > best.confidence ||
        (candidate.confidence === best.confidence && candidate.how === 'alias')
      )
        best = candidate;
    }
  }
  return best;
}

// ---- reading a column's values ----

/**
 * Whether a value can be a ticker symbol. Tickers are single tokens: BTC, 1INCH, BTC.B, USDC.E, wmatic[hts];
 * sources lower-case them (CoinGecko's btc) or write them in mixed case (stETH, cbETH, sUSD, 0xBTC), and
 * meme coins use any script or sign (币安人生, ₿, $WIF). What a ticker is not: text with spaces (a product
 * name, "Mechanical Keyboard"), a mixed-case word longer than 12 characters, anything longer than a symbol
 * may be, a signed or fractional number, a date, a URL, or a placeholder such as "-".
 */
export function looksLikeTicker(value: string): boolean {
  const s = value.trim();
  if (!s || /\s/u.test(s)) return false;
  const mixedCase = /\p{Ll}/u.test(s) && /\p{Lu}/u.test(s);
  if ([...s].length > (mixedCase ? 12 : LIMITS.text.symbol.chars)) return false;
  if (/^[-+]?\d*[.,]\d+$|^[-+]\d/.test(s)) return false;
  if (/^\d{4}-\d{2}-\d{2}/.test(s) || s.includes('://') || /^www\./i.test(s)) return false;
  return !/^[-—–?._/]+$/.test(s);
}

// A column's values looked at, and how many of them must agree
const SAMPLE_LIMIT = 1000;
const MIN_VALUES = 3;
const MOSTLY = 0.8;
const HALF = 0.5;
/** How much values that fit a field add: distinctive shapes (tickers, dates, URLs) more than plain numbers. */
const STRONG_FIT = 0.1;
const WEAK_FIT = 0.05;
/** What values that contradict a field do to its name score. */
const CONTRADICTED = 0.5;
/** A name match this close is worth explaining when the values or a currency undo it. */
const UNDONE = 0.6;
/** The confidence of a column mapped by its values alone. */
const BY_VALUES = 0.85;

const FIAT = /^(USD|EUR|GBP|JPY|CNY|KRW|INR|AUD|CAD|CHF|RUB|TRY|BRL)$/i;
// single words that are not tickers however short: flags, sides, states
const NOT_TICKERS = /^(true|false|yes|no|y|n|buy|sell|bid|ask|long|short|open|closed|active|inactive|up|down)$/i;
const DATE_SHAPES = [
  /^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}([T ].*)?$/, // 2024-01-15, 2013-04-28 00:00:00 UTC
  /^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}([T ,].*)?$/, // 05-12-2025 17:43:10, 31/01/24: a declared format reads them
  /^(\p{L}{3,9},?\s+)?\d{1,2}\s+\p{L}{3,9}\.?,?\s+\d{2,4}\b/u, // Wed, 02 Oct 2002 13:00
  /^\p{L}{3,9}\.?\s+\d{1,2},?\s+\d{4}\b/u, // Sep 05, 2017
  /^(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$/, // 20240115
];

interface Profile {
  /** Shares of the column's non-empty sampled values that are each shape. */
  ticker: number;
  tickerShaped: number;
  fiat: number;
  number: number;
  nonNegative: number;
  percent: number;
  rank: number;
  dateText: number;
  epoch: number;
  url: number;
  examples: string;
}

const attempt = <T>(f: () => T): T | undefined => {
  try {
    return f();
  } catch {
    return undefined; // a ValueError: the value is not of that shape
  }
};
const isBlank = (v: unknown) => isMissing(v) || (typeof v === 'string' && !v.trim());
// numbers and dates have digits: text without one is not worth a parse that throws
const hasDigit = /\d/;
/**
 * Cells profiled per payload, across its columns: a file of thousands of columns gets fewer rows per column,
 * so judging a header costs about as much however wide it is (profiling runs between heartbeats).
 */
const CELL_BUDGET = 200_000;

/** What a column's sampled values look like, or null with too few of them to say. */
function profile(values: unknown[] | undefined, limit: number): Profile | null {
  const present = (values ?? []).slice(0, limit).filter((v) => !isBlank(v));
  if (present.length < MIN_VALUES) return null;
  const counts = {
    ticker: 0,
    tickerShaped: 0,
    fiat: 0,
    number: 0,
    nonNegative: 0,
    percent: 0,
    rank: 0,
    dateText: 0,
    epoch: 0,
    url: 0,
  };
  for (const value of present) {
    const text = typeof value === 'string' ? value.trim() : typeof value === 'number' ? String(value) : '';
    const decimal =
      typeof value === 'number' || hasDigit.test(text) ? (attempt(() => parseDecimal(value)) ?? null) : null;
    const numeric = typeof value === 'number' || decimal !== null;
    if (numeric) {
      counts.number++;
      if (!decimal!.startsWith('-')) counts.nonNegative++;
      const n = Number(decimal);
      if (Number.isInteger(n) && n >= 1 && n <= 10_000_000) counts.rank++;
      if (/^\d{9,13}(\.\d+)?$/.test(text) && attempt(() => parseTimestamp(value))) counts.epoch++;
    }
    if (
      numeric ||
      (typeof value === 'string' && hasDigit.test(text) && attempt(() => parseDecimal(text.replace(/\s*%$/, ''))))
    )
      counts.percent++;
    if (looksLikeTicker(text)) counts.ticker++;
    if (!numeric && text) {
      const url = /^https?:\/\/\S+$/i.test(text);
      const date =
        !url &&
        hasDigit.test(text) &&
        (attempt(() => parseTimestamp(text)) !== undefined || DATE_SHAPES.some((re) => re.test(text)));
      if (url) counts.url++;
      if (date) counts.dateText++;
      if (looksLikeTicker(text)) {
        const lower = /\p{Ll}/u.test(text);
        const upper = /\p{Lu}/u.test(text);
        const shaped =
          !upper || !lower ? !lower || [...text].length <= 6 : /^[\p{Ll}\p{N}]{1,3}[\p{Lu}\p{N}]{2,}$/u.test(text);
        if (shaped && [...text].length <= 10 && /\p{L}/u.test(text) && !date && !NOT_TICKERS.test(text))
          counts.tickerShaped++;
        if (FIAT.test(text)) counts.fiat++;
      }
    }
  }
  const examples = [...new Set(present.map((v) => (typeof v === 'string' ? v.trim() : String(v))))]
    .slice(0, 2)
    .map((v) => JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v))
    .join(', ');
  const share = Object.fromEntries(Object.entries(counts).map(([k, n]) => [k, n / present.length])) as Omit<
    Profile,
    'examples'
  >;
  return { ...share, examples };
}

type Evidence = { fit: 'strong' | 'weak' } | { against: string } | null;

/** What a column's values say about one field: they fit it, they contradict it, or they cannot tell. */
function evidence(field: UnifiedField, p: Profile): Evidence {
  if (field === 'symbol') {
    if (p.tickerShaped >= MOSTLY && p.fiat < MOSTLY) return { fit: 'strong' };
    if (p.ticker < HALF || p.number >= MOSTLY || p.dateText >= MOSTLY)
      return { against: `its values are not tickers (${p.examples})` };
    return null;
  }
  if (field === 'name') {
    if (p.tickerShaped >= MOSTLY) return { against: `its values are tickers, not names (${p.examples})` };
    if (p.number >= MOSTLY || p.dateText + p.epoch >= MOSTLY || p.url >= MOSTLY)
      return { against: `its values are not names (${p.examples})` };
    return null;
  }
  if (AMOUNT_FIELDS.has(field)) {
    if (p.nonNegative >= MOSTLY) return { fit: 'weak' };
    if (p.number < HALF) return { against: `its values are not numbers (${p.examples})` };
    if (p.nonNegative < HALF) return { against: `its values are negative (${p.examples})` };
    return null;
  }
  if (field === 'percentChange24h')
    return p.percent < HALF ? { against: `its values are not numbers (${p.examples})` } : null;
  if (field === 'rank') {
    if (p.rank >= MOSTLY) return { fit: 'weak' };
    return p.rank < HALF ? { against: `its values are not positive whole numbers (${p.examples})` } : null;
  }
  if (field === 'sourceUpdatedAt' || field === 'publishedAt') {
    if (p.dateText + p.epoch >= MOSTLY) return { fit: 'strong' };
    return p.dateText + p.epoch < HALF ? { against: `its values are not dates (${p.examples})` } : null;
  }
  if (field === 'url') {
    if (p.url >= MOSTLY) return { fit: 'strong' };
    return p.url < HALF ? { against: `its values are not URLs (${p.examples})` } : null;
  }
  return null;
}

// The fields a column may be mapped to by its values alone, and the words in a name that say the column is
// something else: an exchange's "BINANCE" or a quote currency's "USDT" look like tickers, an ATH date is a date.
const BY_VALUES_ALONE: Record<RecordKind, Partial<Record<UnifiedField, (p: Profile) => boolean>>> = {
  asset: { symbol: (p) => p.tickerShaped >= MOSTLY && p.fiat < MOSTLY, sourceUpdatedAt: (p) => p.dateText >= MOSTLY },
  article: { publishedAt: (p) => p.dateText >= MOSTLY, url: (p) => p.url >= MOSTLY },
};
const SOMETHING_ELSE: Partial<Record<UnifiedField, Set<string>>> = {
  symbol: new Set([
    'exchange',
    'source',
    'market',
    'pair',
    'instrument',
    'quote',
    'vs',
    'convert',
    'fiat',
    'platform',
    'chain',
    'network',
    'blockchain',
    'category',
    'type',
    'status',
    'country',
    'sector',
    'tag',
    'tags',
    'class',
    'side',
    'sku',
    'isbn',
    'ean',
    'upc',
    'model',
    'part',
  ]),
  sourceUpdatedAt: new Set([
    'ath',
    'atl',
    'added',
    'created',
    'listed',
    'listing',
    'launch',
    'launched',
    'genesis',
    'first',
    'birth',
    'expiry',
    'expires',
    'maturity',
    'start',
    'high',
    'low',
  ]),
  publishedAt: new Set(['created', 'expiry', 'expires', 'start', 'end', 'event', 'birth']),
  url: new Set([
    'image',
    'img',
    'thumbnail',
    'thumb',
    'icon',
    'logo',
    'avatar',
    'enclosure',
    'media',
    'photo',
    'picture',
    'video',
    'audio',
    'feed',
    'comments',
  ]),
};

/*
 * How a column is scored against a field (copied into the README):
 *
 * A column's confidence for a field starts from its name score, 0 to 1: its best alias, exact, with the words
 * reordered or by edit distance, after reading units and prefixes ("Price (USD)" is price_usd, "coin_symbol" is
 * symbol at 0.97 of the alias); a name in another currency ("Volume BTC", "price_eur") scores 0 for the USD
 * fields. When at least three of the column's first values (up to 1,000) are non-empty, they adjust it: values
 * that fit the field add 0.1 when their shape is distinctive (tickers for symbol, dates or epoch times for the
 * timestamps, URLs for url) and 0.05 when it is not (non-negative numbers for prices, caps, volumes and
 * supplies, positive whole numbers for rank), capped at 1 and only to a name that matched at all; values that
 * contradict it (fewer than half fit: a symbol column of product names, a name column of tickers or numbers, a
 * price column of words) halve it. A column may be mapped by its values alone, at 0.85 and `how: 'values'`,
 * when its name does no better and at least 80% of its values are tickers (symbol), date strings (an asset's
 * source_updated_at, an article's published_at) or URLs (an article's url), unless its name says it is
 * something else (exchange, quote currency, ATH date, image). Amounts and ranks are never mapped by values
 * alone: a number does not say which amount it is. Columns and fields are then paired best confidence first,
 * each used once; a column left below 0.8 stays unmapped, reported with its best guess (by name or by values)
 * and why its name match was not taken.
 */
interface Candidate {
  column: string;
  field: UnifiedField;
  confidence: number;
  how: 'alias' | 'fuzzy' | 'values';
  /** The name score before the values had their say. */
  named: number;
  why?: string;
}

function scoreColumn(
  kind: RecordKind,
  column: string,
  fields: UnifiedField[],
  values: unknown[] | undefined,
  rowLimit: number,
): Candidate[] {
  const name = readName(column);
  const p = profile(values, rowLimit);
  return fields.map((field) => {
    const { confidence: named, how } = nameScore(name, aliasesFor(kind, field));
    if (name.currency && USD_FIELDS.has(field))
      return { column, field, confidence: 0, how, named, why: `its name says ${name.currency}, not USD` };
    const ev = p && evidence(field, p);
    let confidence = named;
    let why: string | undefined;
    if (ev && 'fit' in ev && named > 0) confidence = Math.min(1, named + (ev.fit === 'strong' ? STRONG_FIT : WEAK_FIT));
    if (ev && 'against' in ev) [confidence, why] = [named * CONTRADICTED, ev.against];
    const alone = BY_VALUES_ALONE[kind][field];
    if (p && alone?.(p) && confidence < BY_VALUES && !name.words.some((w) => SOMETHING_ELSE[field]?.has(w))) {
      return { column, field, confidence: BY_VALUES, how: 'values' as const, named };
    }
    return { column, field, confidence, how, named, why };
  });
}

/**
 * Matches CSV columns to unified fields, each column and field used at most once, best matches first.
 * `samples` are each column's first values as the source wrote them; without them only names count.
 */
export function matchHeader(kind: RecordKind, columns: string[], samples?: Record<string, unknown[]>): ResolvedMapping {
  const fields = [...(kind === 'asset' ? ASSET_FIELDS : ARTICLE_FIELDS)];
  // own entries only: a column may be called "constructor" or "__proto__"
  const valuesOf = (column: string) =>
    samples && Object.hasOwn(samples, column) && Array.isArray(samples[column]) ? samples[column] : undefined;
  const rowLimit = Math.max(
    MIN_VALUES * 10,
    Math.min(SAMPLE_LIMIT, Math.floor(CELL_BUDGET / Math.max(1, columns.length))),
  );
  const candidates = columns.flatMap((column) => scoreColumn(kind, column, fields, valuesOf(column), rowLimit));
  candidates.sort((a, b) => b.confidence - a.confidence);
  // best first within each column too
  const byColumn = Map.groupBy(candidates, (c) => c.column);
  const mapping: FieldMapping = {};
  const used = new Set<string>();
  for (const c of candidates) {
    if (c.confidence < MAPPING_THRESHOLD || used.has(c.column) || mapping[c.field]) continue;
    mapping[c.field] = { from: c.column, confidence: round(c.confidence), how: c.how };
    used.add(c.column);
  }
  const unmapped = columns
    .filter((column) => !used.has(column))
    .map((column): Unmapped => {
      const own = byColumn.get(column) ?? [];
      const best = own.find((c) => c.confidence > 0);
      // why its strongest name match was not taken, when its values or its currency undid it
      const top = own.reduce<Candidate | undefined>((a, c) => (!a || c.named > a.named ? c : a), undefined);
      const undone = top?.why && top.named >= UNDONE ? top : undefined;
      return {
        column,
        ...(best && {
          best: {
            field: best.field,
            confidence: round(best.confidence),
            by: best.how === 'values' ? 'values' : 'name',
          },
        }),
        ...(undone && { why: undone.why }),
      };
    });
  return { mapping, unmapped };
}

/** Each column's values in the given records, the first `limit` of them: the `samples` matchHeader reads. */
export function sampleValues(
  records: Iterable<Record<string, unknown>>,
  limit = SAMPLE_LIMIT,
): Record<string, unknown[]> {
  const samples = new Map<string, unknown[]>();
  let n = 0;
  for (const record of records) {
    if (n++ >= limit) break;
    for (const [column, value] of Object.entries(record))
      samples.get(column)?.push(value) ?? samples.set(column, [value]);
  }
  return Object.fromEntries(samples);
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
  /** Each column's first values (sampleValues of the leading records): evidence for matching a header. */
  samples?: Record<string, unknown[]>;
}

export function resolveMapping({
  kind,
  declared,
  columns,
  configured,
  constants = {},
  renames,
  samples,
}: MappingInput): ResolvedMapping {
  const resolved: ResolvedMapping = declared
    ? {
        mapping: Object.fromEntries(
          Object.entries(declared).map(([field, from]) => [field, { from, confidence: 1, how: 'declared' }]),
        ),
        unmapped: [],
      }
    : matchHeader(kind, columns, samples);
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
  resolved.unmapped = resolved.unmapped.filter(
    (u) => !Object.values(resolved.mapping).some((m) => m.from === u.column),
  );
  // an asset file without an id column is keyed by its symbols
  const symbol = resolved.mapping.symbol;
  if (kind === 'asset' && !resolved.mapping.sourceKey && symbol)
    resolved.mapping.sourceKey = { ...symbol, how: 'symbol' };
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
