// Cleanup of the values real sources send: numbers as "$87,000", "2,697,970,000", "1.7T", "2e-8" or "-",
// timestamps as ISO strings, epoch seconds or milliseconds. Money stays a decimal string: never a float.
// Every value is also checked against its domain (src/normalize/limits.ts) before it can reach the database.
import { LIMITS } from './limits.ts';

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
  // most values are plain numbers already: one test instead of the cleanup below (7 per asset record)
  if (typeof value === 'string' && PLAIN_DECIMAL.test(value)) return inDecimalDomain(value.startsWith('+') ? value.slice(1) : value, value);
  if (isMissing(value)) return null;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ValueError(`not a finite number: ${value}`);
    return inDecimalDomain(String(value), value);
  }
  if (typeof value === 'bigint') return inDecimalDomain(value.toString(), value);
  if (typeof value !== 'string') throw new ValueError(`not a number: ${excerpt(value)}`);
  // a leading $ is noise on a USD figure; any other currency sign means the value is not in USD at all
  if (/^[-+]?\s*(€|£|¥|EUR|GBP|JPY)/i.test(value.trim())) throw new ValueError(`not in USD: ${excerpt(value)}`);
  let text = value.trim().replace(/^(US)?\$\s*/, '').replace(/^([-+])(US)?\$\s*/, '$1');
  const suffix = /^(.*\d)\s*([kKmMbBtT])$/.exec(text);
  let exponent = 0;
  if (suffix) {
    text = suffix[1]!;
    exponent = SUFFIX[suffix[2]!.toLowerCase()]!;
  }
  if (/^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$/.test(text)) text = text.replaceAll(',', '');
  if (!PLAIN_DECIMAL.test(text)) throw new ValueError(`not a number: ${excerpt(value)}`);
  if (text.startsWith('+')) text = text.slice(1);
  if (exponent) text = /e/i.test(text) ? text.replace(/e([-+]?\d+)$/i, (_, e: string) => `e${Number(e) + exponent}`) : `${text}e${exponent}`;
  return inDecimalDomain(text, value);
}

/**
 * The decimal, when it is within LIMITS.decimal: `1e131000` is a valid PostgreSQL numeric of 131,001 digits,
 * and a page of such values is a response of gigabytes.
 */
function inDecimalDomain(text: string, original: unknown): string {
  const m = /^-?(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?$/.exec(text)!;
  const whole = m[1]!.replace(/^0+/, '');
  const fraction = m[2] ?? '';
  const digits = (whole + fraction).replace(/^0+/, '').replace(/0+$/, '');
  if (!digits) return text; // zero, however it is written
  const { maxSignificantDigits, maxExponent, minExponent } = LIMITS.decimal;
  if (digits.length > maxSignificantDigits) throw new ValueError(`has more than ${maxSignificantDigits} significant digits: ${excerpt(original)}`);
  const exponent = m[3] === undefined ? 0 : m[3].replace(/^[-+]?0*/, '').length > 6 ? Number(`${m[3].startsWith('-') ? '-' : ''}1e9`) : Number(m[3]);
  // the power of ten of the first significant digit
  const magnitude = exponent + (whole ? whole.length - 1 : -(fraction.search(/[1-9]/) + 1));
  if (magnitude >= maxExponent || magnitude < minExponent) throw new ValueError(`is out of range (about 1e${magnitude}; allowed 1e${minExponent} to 1e${maxExponent}): ${excerpt(original)}`);
  return text;
}

export function parseInteger(value: unknown): number | null {
  const decimal = parseDecimal(value);
  if (decimal === null) return null;
  const n = Number(decimal);
  if (!Number.isSafeInteger(n)) throw new ValueError(`not an integer: ${excerpt(value)}`);
  if (n < LIMITS.integer.min || n > LIMITS.integer.max) throw new ValueError(`is out of range (${LIMITS.integer.min} to ${LIMITS.integer.max}): ${excerpt(value)}`);
  return n;
}

/** A value as quoted in a reason: a 140,000-digit number is named by its first characters, not repeated. */
export function excerpt(value: unknown, max = 60): string {
  if (typeof value !== 'string') {
    let text: string;
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
    return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
  }
  return value.length > max ? `${JSON.stringify(value.slice(0, max))}… (${value.length} characters)` : JSON.stringify(value);
}

/**
 * Date formats a source may declare for its timestamps. `auto` (the default) accepts only unambiguous
 * spellings: ISO-8601 (no zone means UTC), epoch seconds or milliseconds, and RFC 822/1123 dates as feeds
 * write them. `03-04-2021` is ambiguous, so a CSV with such dates must declare dd-mm-yyyy or mm-dd-yyyy.
 */
export const DATE_FORMATS = [
  'auto', 'dd-mm-yyyy', 'mm-dd-yyyy', 'dd/mm/yyyy', 'mm/dd/yyyy', 'dd.mm.yyyy', 'mon dd, yyyy',
  'dd-mm-yy', 'mm-dd-yy', 'dd/mm/yy', 'mm/dd/yy', 'dd.mm.yy',
] as const;
export type DateFormat = (typeof DATE_FORMATS)[number];

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
// RFC 822 zones plus common unambiguous abbreviations; ambiguous ones (IST, CST in Asia, ...) are refused
const ZONES: Record<string, number> = {
  UT: 0, UTC: 0, GMT: 0, Z: 0, WET: 0, EST: -5, EDT: -4, CST: -6, CDT: -5, MST: -7, MDT: -6, PST: -8, PDT: -7,
  AKST: -9, AKDT: -8, HST: -10, WEST: 1, BST: 1, CET: 1, CEST: 2, EET: 2, EEST: 3, MSK: 3, HKT: 8, SGT: 8,
  JST: 9, KST: 9, AEST: 10, AEDT: 11, NZST: 12, NZDT: 13,
};
const TIME = String.raw`(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?`;
const DECLARED: Record<Exclude<DateFormat, 'auto'>, { pattern: RegExp; order: ['d' | 'm' | 'y', 'd' | 'm' | 'y', 'd' | 'm' | 'y'] }> = {
  'dd-mm-yyyy': { pattern: new RegExp(`^(\\d{1,2})-(\\d{1,2})-(\\d{4})${TIME}$`), order: ['d', 'm', 'y'] },
  'mm-dd-yyyy': { pattern: new RegExp(`^(\\d{1,2})-(\\d{1,2})-(\\d{4})${TIME}$`), order: ['m', 'd', 'y'] },
  'dd/mm/yyyy': { pattern: new RegExp(`^(\\d{1,2})/(\\d{1,2})/(\\d{4})${TIME}$`), order: ['d', 'm', 'y'] },
  'mm/dd/yyyy': { pattern: new RegExp(`^(\\d{1,2})/(\\d{1,2})/(\\d{4})${TIME}$`), order: ['m', 'd', 'y'] },
  'dd.mm.yyyy': { pattern: new RegExp(`^(\\d{1,2})\\.(\\d{1,2})\\.(\\d{4})${TIME}$`), order: ['d', 'm', 'y'] },
  'mon dd, yyyy': { pattern: new RegExp(`^([A-Za-z]{3})[a-z]*\\.? (\\d{1,2}),? (\\d{4})${TIME}$`), order: ['m', 'd', 'y'] },
  'dd-mm-yy': { pattern: new RegExp(`^(\\d{1,2})-(\\d{1,2})-(\\d{2})${TIME}$`), order: ['d', 'm', 'y'] },
  'mm-dd-yy': { pattern: new RegExp(`^(\\d{1,2})-(\\d{1,2})-(\\d{2})${TIME}$`), order: ['m', 'd', 'y'] },
  'dd/mm/yy': { pattern: new RegExp(`^(\\d{1,2})/(\\d{1,2})/(\\d{2})${TIME}$`), order: ['d', 'm', 'y'] },
  'mm/dd/yy': { pattern: new RegExp(`^(\\d{1,2})/(\\d{1,2})/(\\d{2})${TIME}$`), order: ['m', 'd', 'y'] },
  'dd.mm.yy': { pattern: new RegExp(`^(\\d{1,2})\\.(\\d{1,2})\\.(\\d{2})${TIME}$`), order: ['d', 'm', 'y'] },
};

/** A two-digit year as POSIX strptime reads %y: 69–99 are 1969–1999, 00–68 are 2000–2068. */
export const fullYear = (twoDigits: number) => (twoDigits >= 69 ? 1900 : 2000) + twoDigits;

/** An ISO-8601 UTC timestamp from what a source wrote, read in the source's declared format. */
export function parseTimestamp(value: unknown, format: DateFormat = 'auto'): string | null {
  if (isMissing(value)) return null;
  if (typeof value === 'number' || (typeof value === 'string' && /^\d{9,13}(\.\d+)?$/.test(value.trim()))) {
    const n = Number(value);
    // 10 digits and fewer are seconds (until the year 2286); 12 and more are milliseconds
    return toIso(new Date(n < 1e11 ? n * 1000 : n), value);
  }
  if (typeof value !== 'string') throw new ValueError(`not a timestamp: ${excerpt(value)}`);
  const text = value.replace(/\s+/g, ' ').trim();
  if (format !== 'auto') return declared(text, format, value);
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/.test(text)) {
    return toIso(new Date(text.length === 10 ? `${text}T00:00:00Z` : `${text.replace(' ', 'T')}Z`), value);
  }
  if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)? ?(Z|[+-]\d{2}:?\d{2})$/i.test(text)) {
    return toIso(new Date(text.replace(' ', 'T').replace(/ (?=[Z+-])/i, '').replace(/([+-]\d{2})(\d{2})$/, '$1:$2')), value);
  }
  return rfc822(text, value);
}

function declared(text: string, format: Exclude<DateFormat, 'auto'>, original: unknown): string {
  const { pattern, order } = DECLARED[format];
  const m = pattern.exec(text);
  if (!m) throw new ValueError(`not a ${format} date: ${excerpt(original)}`);
  const part = (p: 'd' | 'm' | 'y') => m[order.indexOf(p) + 1]!;
  const month = format === 'mon dd, yyyy' ? MONTHS.indexOf(part('m').toLowerCase()) + 1 : Number(part('m'));
  const year = part('y').length === 2 ? fullYear(Number(part('y'))) : Number(part('y'));
  return utc(year, month, Number(part('d')), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0), 0, original);
}

// RFC 822 as feeds write it: "Wed, 02 Oct 2002 13:00:00 GMT", "9 Oct 2019 08:00 +0530", "03 Apr 02 1500 GMT".
function rfc822(text: string, original: unknown): string {
  const m = /^(?:[A-Za-z]{3,9},? )?(\d{1,2}) ([A-Za-z]{3})[a-z]*\.? (\d{4}|\d{2}) (\d{1,2}):?(\d{2})(?::?(\d{2}))?(?: ?([A-Za-z]{1,5}|[+-]\d{2}:?\d{2}))?$/.exec(text);
  if (!m) throw new ValueError(`not a timestamp: ${excerpt(original)}`);
  const month = MONTHS.indexOf(m[2]!.toLowerCase()) + 1;
  const year = m[3]!.length === 2 ? (Number(m[3]) < 50 ? 2000 : 1900) + Number(m[3]) : Number(m[3]);
  const zone = m[7];
  let offsetMinutes = 0;
  if (zone && /^[+-]/.test(zone)) {
    const digits = zone.replace(':', '');
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5)));
  } else if (zone) {
    const hours = ZONES[zone.toUpperCase()];
    if (hours === undefined) throw new ValueError(`unknown or ambiguous time zone ${zone} in ${excerpt(original)}`);
    offsetMinutes = hours * 60;
  }
  return utc(year, month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0), offsetMinutes, original);
}

function utc(year: number, month: number, day: number, hour: number, minute: number, second: number, offsetMinutes: number, original: unknown): string {
  // setUTCFullYear, not Date.UTC: Date.UTC reads the years 0 to 99 as 1900 to 1999
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second);
  date.setTime(date.getTime() - offsetMinutes * 60_000);
  // Date.UTC rolls 31 Feb over into March: a date that does not round-trip did not exist
  const local = new Date(date.getTime() + offsetMinutes * 60_000);
  if (month < 1 || local.getUTCMonth() !== month - 1 || local.getUTCDate() !== day || hour > 23 || minute > 59 || second > 60) {
    throw new ValueError(`not a valid date: ${excerpt(original)}`);
  }
  return toIso(date, original);
}

function toIso(date: Date, original: unknown): string {
  const ms = date.getTime();
  if (Number.isNaN(ms)) throw new ValueError(`not a timestamp: ${excerpt(original)}`);
  if (ms < LIMITS.timestamp.earliest || ms >= LIMITS.timestamp.latestExclusive) throw new ValueError(`is out of range (years 1900 to 2199): ${excerpt(original)}`);
  return date.toISOString();
}

export function parseText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const text = String(value).trim();
  return text === '' ? null : text;
}
