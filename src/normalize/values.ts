// Cleanup of the values real sources send: numbers as "$87,000", "2,697,970,000", "1.7T", "2e-8" or "-",
// timestamps as ISO strings, epoch seconds or milliseconds. Money stays a decimal string: never a float.

/** Why a value could not be read; the message ends up in the quarantine reason. */
export class ValueError extends Error {
  override name = 'ValueError';
}

const MISSING = new Set(['', '-', '—', 'n/a', 'na', 'null', 'none', 'nan', '?']);
const SUFFIX: Record<string, number> = { k: 3, m: 6, b: 9, t: 12 };
const PLAIN_DECIMAL = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

export function isMissing(value: unknown): boolean {
  return value === null || value === undefined || (typeof value === 'string' && MISSING.has(value.trim().toLowerCase()));
}

/**
 * A decimal string PostgreSQL's numeric accepts exactly, or null when the source says "no value".
 * Accepts thousands separators, a leading currency sign, K/M/B/T suffixes and scientific notation.
 */
export function parseDecimal(value: unknown): string | null {
  if (isMissing(value)) return null;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ValueError(`not a finite number: ${value}`);
    return String(value);
  }
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'string') throw new ValueError(`not a number: ${JSON.stringify(value)}`);
  let text = value.trim().replace(/^[$€£]\s*/, '').replace(/^([-+])[$€£]\s*/, '$1');
  const suffix = /^(.*\d)\s*([kKmMbBtT])$/.exec(text);
  let exponent = 0;
  if (suffix) {
    text = suffix[1]!;
    exponent = SUFFIX[suffix[2]!.toLowerCase()]!;
  }
  if (/^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$/.test(text)) text = text.replaceAll(',', '');
  if (!PLAIN_DECIMAL.test(text)) throw new ValueError(`not a number: ${JSON.stringify(value)}`);
  if (text.startsWith('+')) text = text.slice(1);
  return exponent ? `${text}e${exponent}` : text;
}

export function parseInteger(value: unknown): number | null {
  const decimal = parseDecimal(value);
  if (decimal === null) return null;
  const n = Number(decimal);
  if (!Number.isSafeInteger(n)) throw new ValueError(`not an integer: ${JSON.stringify(value)}`);
  return n;
}

/** An ISO-8601 UTC timestamp, from ISO text (with or without zone: no zone means UTC) or epoch s/ms. */
export function parseTimestamp(value: unknown): string | null {
  if (isMissing(value)) return null;
  if (typeof value === 'number' || (typeof value === 'string' && /^\d{9,13}(\.\d+)?$/.test(value.trim()))) {
    const n = Number(value);
    // 10 digits and fewer are seconds (until the year 2286); 12 and more are milliseconds
    return toIso(new Date(n < 1e11 ? n * 1000 : n), value);
  }
  if (typeof value !== 'string') throw new ValueError(`not a timestamp: ${JSON.stringify(value)}`);
  const text = value.trim();
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/.test(text)) {
    return toIso(new Date(text.length === 10 ? `${text}T00:00:00Z` : `${text.replace(' ', 'T')}Z`), value);
  }
  if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(text)) {
    return toIso(new Date(text.replace(' ', 'T')), value);
  }
  throw new ValueError(`not a timestamp: ${JSON.stringify(value)}`);
}

function toIso(date: Date, original: unknown): string {
  if (Number.isNaN(date.getTime())) throw new ValueError(`not a timestamp: ${JSON.stringify(original)}`);
  return date.toISOString();
}

export function parseText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const text = String(value).trim();
  return text === '' ? null : text;
}
