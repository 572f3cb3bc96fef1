// Cleanup of the values real sources send: numbers as "$87,000", "2,697,970,000", "1.7T", "2e-8" or "-",
// timestamps as ISO strings, epoch seconds or milliseconds, or feed dates in the common feed languages. Money stays a
// decimal string: never a float.
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
  return (
    value === null || value === undefined || (typeof value === 'string' && MISSING.has(value.trim().toLowerCase()))
  );
}

/**
 * A decimal string PostgreSQL's numeric accepts exactly, or null when the source says "no value".
 * Accepts thousands separators, a leading currency sign, K/M/B/T suffixes and scientific notation.
 */
export function parseDecimal(value: unknown): string | null {
  // most values are plain numbers already: one test instead of the cleanup below (7 per asset record)
  if (typeof value === 'string' && PLAIN_DECIMAL.test(value))
    return inDecimalDomain(value.startsWith('+') ? value.slice(1) : value, value);
  if (isMissing(value)) return null;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ValueError(`not a finite number: ${value}`);
    return inDecimalDomain(String(value), value);
  }
  if (typeof value === 'bigint') return inDecimalDomain(value.toString(), value);
  if (typeof value !== 'string') throw new ValueError(`not a number: ${excerpt(value)}`);
  // a leading $ is noise on a USD figure; any other currency sign means the value is not in USD at all
  if (/^[-+]?\s*(€|£|¥|EUR|GBP|JPY)/i.test(value.trim())) throw new ValueError(`not in USD: ${excerpt(value)}`);
  let text = value
    .trim()
    .replace(/^(US)?\$\s*/, '')
    .replace(/^([-+])(US)?\$\s*/, '$1');
  const suffix = /^(.*\d)\s*([kKmMbBtT])$/.exec(text);
  let exponent = 0;
  if (suffix) {
    text = suffix[1]!;
    exponent = SUFFIX[suffix[2]!.toLowerCase()]!;
  }
  if (/^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$/.test(text)) text = text.replaceAll(',', '');
  if (!PLAIN_DECIMAL.test(text)) throw new ValueError(`not a number: ${excerpt(value)}`);
  if (text.startsWith('+')) text = text.slice(1);
  if (exponent)
    text = /e/i.test(text)
      ? text.replace(/e([-+]?\d+)$/i, (_, e: string) => `e${Number(e) + exponent}`)
      : `${text}e${exponent}`;
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
  if (digits.length > maxSignificantDigits)
    throw new ValueError(`has more than ${maxSignificantDigits} significant digits: ${excerpt(original)}`);
  const exponent =
    m[3] === undefined
      ? 0
      : m[3].replace(/^[-+]?0*/, '').length > 6
        ? Number(`${m[3].startsWith('-') ? '-' : ''}1e9`)
        : Number(m[3]);
  // the power of ten of the first significant digit
  const magnitude = exponent + (whole ? whole.length - 1 : -(fraction.search(/[1-9]/) + 1));
  if (magnitude >= maxExponent || magnitude < minExponent)
    throw new ValueError(
      `is out of range (about 1e${magnitude}; allowed 1e${minExponent} to 1e${maxExponent}): ${excerpt(original)}`,
    );
  return text;
}

export function parseInteger(value: unknown): number | null {
  const decimal = parseDecimal(value);
  if (decimal === null) return null;
  const n = Number(decimal);
  if (!Number.isSafeInteger(n)) throw new ValueError(`not an integer: ${excerpt(value)}`);
  if (n < LIMITS.integer.min || n > LIMITS.integer.max)
    throw new ValueError(`is out of range (${LIMITS.integer.min} to ${LIMITS.integer.max}): ${excerpt(value)}`);
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
  return value.length > max
    ? `${JSON.stringify(value.slice(0, max))}… (${value.length} characters)`
    : JSON.stringify(value);
}

/**
 * Date formats a source may declare for its timestamps. `auto` (the default) accepts only unambiguous
 * spellings: ISO-8601, epoch seconds or milliseconds, and RFC 822/1123 dates as feeds write them, in English
 * and the other common feed languages. `03-04-2021` is ambiguous, so a CSV with such dates must declare
 * dd-mm-yyyy or mm-dd-yyyy. A time without a zone is read in the zone a source declares, else as UTC.
 */
export const DATE_FORMATS = [
  'auto',
  'dd-mm-yyyy',
  'mm-dd-yyyy',
  'dd/mm/yyyy',
  'mm/dd/yyyy',
  'dd.mm.yyyy',
  'mon dd, yyyy',
  'dd-mm-yy',
  'mm-dd-yy',
  'dd/mm/yy',
  'mm/dd/yy',
  'dd.mm.yy',
] as const;
export type DateFormat = (typeof DATE_FORMATS)[number];

// Month names as feeds write them: English and the ten most common other feed languages (Spanish, French,
// German, Portuguese, Italian, Dutch, Russian, Polish, Turkish, Swedish). Russian and Polish put a month in the
// genitive after a day number ("2 октября", "2 października"), so both forms are listed. Abbreviations that are
// prefixes of a name ("févr", "okt", "paź", "Eki") need no entry: see MONTH_WORDS.
const MONTH_NAMES: readonly (readonly string[])[] = [
  [
    'january',
    'enero',
    'janvier',
    'januar',
    'jänner',
    'janeiro',
    'gennaio',
    'januari',
    'январь',
    'января',
    'styczeń',
    'stycznia',
    'ocak',
  ],
  [
    'february',
    'febrero',
    'février',
    'februar',
    'fevereiro',
    'febbraio',
    'februari',
    'февраль',
    'февраля',
    'luty',
    'lutego',
    'şubat',
  ],
  [
    'march',
    'marzo',
    'mars',
    'märz',
    'maerz',
    'mrz',
    'março',
    'maart',
    'mrt',
    'март',
    'марта',
    'marzec',
    'marca',
    'mart',
  ],
  ['april', 'abril', 'avril', 'aprile', 'апрель', 'апреля', 'kwiecień', 'kwietnia', 'nisan'],
  ['may', 'mayo', 'mai', 'maio', 'maggio', 'mei', 'maj', 'май', 'мая', 'maja', 'mayıs'],
  ['june', 'junio', 'juin', 'juni', 'junho', 'giugno', 'июнь', 'июня', 'czerwiec', 'czerwca', 'haziran'],
  ['july', 'julio', 'juillet', 'juli', 'julho', 'luglio', 'июль', 'июля', 'lipiec', 'lipca', 'temmuz'],
  ['august', 'agosto', 'août', 'augustus', 'augusti', 'август', 'августа', 'sierpień', 'sierpnia', 'ağustos'],
  [
    'september',
    'septiembre',
    'setiembre',
    'septembre',
    'setembro',
    'settembre',
    'сентябрь',
    'сентября',
    'wrzesień',
    'września',
    'eylül',
  ],
  [
    'october',
    'octubre',
    'octobre',
    'oktober',
    'outubro',
    'ottobre',
    'октябрь',
    'октября',
    'październik',
    'października',
    'ekim',
  ],
  ['november', 'noviembre', 'novembre', 'novembro', 'ноябрь', 'ноября', 'listopad', 'listopada', 'kasım'],
  [
    'december',
    'diciembre',
    'décembre',
    'dezember',
    'dezembro',
    'dicembre',
    'декабрь',
    'декабря',
    'grudzień',
    'grudnia',
    'aralık',
  ],
];

/**
 * A month word folded so that spellings of one word compare equal: any case (Turkish "EKİM" lowercases to an i
 * with a combining dot), with or without accents (feeds strip them: "fevrier", "Kasim"), without a trailing dot.
 */
const foldWord = (word: string) =>
  word.toLowerCase().normalize('NFD').replace(/\p{M}/gu, '').replaceAll('ı', 'i').replace(/\.$/, '');

/**
 * Every full name and every prefix of at least three letters that belongs to one month only: feeds abbreviate
 * by cutting a name short, at three letters ("okt", "dic") or more ("janv", "sept", "févr"). A prefix shared by
 * two months ("jui": juin or juillet) names neither, and a shorter one is too ambiguous to be a month.
 */
const MONTH_WORDS: ReadonlyMap<string, number> = (() => {
  const full = new Map<string, number>();
  const prefixes = new Map<string, number>();
  MONTH_NAMES.forEach((names, index) => {
    for (const name of names) {
      const word = foldWord(name);
      full.set(word, index + 1);
      for (let end = 3; end < word.length; end++) {
        const prefix = word.slice(0, end);
        const seen = prefixes.get(prefix);
        prefixes.set(prefix, seen === undefined || seen === index + 1 ? index + 1 : 0);
      }
    }
  });
  for (const [prefix, month] of prefixes) if (month && !full.has(prefix)) full.set(prefix, month);
  return full;
})();

/** The month (1 to 12) a word names in any of the languages above, or 0 when it names none. */
function monthNumber(word: string): number {
  return MONTH_WORDS.get(word.toLowerCase()) ?? MONTH_WORDS.get(foldWord(word)) ?? 0;
}

// RFC 822 zones plus common unambiguous abbreviations; ambiguous ones (IST, CST in Asia, ...) are refused
const ZONES: Record<string, number> = {
  UT: 0,
  UTC: 0,
  GMT: 0,
  Z: 0,
  WET: 0,
  EST: -5,
  EDT: -4,
  CST: -6,
  CDT: -5,
  MST: -7,
  MDT: -6,
  PST: -8,
  PDT: -7,
  AKST: -9,
  AKDT: -8,
  HST: -10,
  WEST: 1,
  BST: 1,
  CET: 1,
  CEST: 2,
  MEZ: 1,
  MESZ: 2,
  EET: 2,
  EEST: 3,
  MSK: 3,
  HKT: 8,
  SGT: 8,
  JST: 9,
  KST: 9,
  AEST: 10,
  AEDT: 11,
  NZST: 12,
  NZDT: 13,
};
const TIME = String.raw`(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?`;
const DECLARED: Record<
  Exclude<DateFormat, 'auto'>,
  { pattern: RegExp; order: ['d' | 'm' | 'y', 'd' | 'm' | 'y', 'd' | 'm' | 'y'] }
> = {
  'dd-mm-yyyy': { pattern: new RegExp(`^(\\d{1,2})-(\\d{1,2})-(\\d{4})${TIME}$`), order: ['d', 'm', 'y'] },
  'mm-dd-yyyy': { pattern: new RegExp(`^(\\d{1,2})-(\\d{1,2})-(\\d{4})${TIME}$`), order: ['m', 'd', 'y'] },
  'dd/mm/yyyy': { pattern: new RegExp(`^(\\d{1,2})/(\\d{1,2})/(\\d{4})${TIME}$`), order: ['d', 'm', 'y'] },
  'mm/dd/yyyy': { pattern: new RegExp(`^(\\d{1,2})/(\\d{1,2})/(\\d{4})${TIME}$`), order: ['m', 'd', 'y'] },
  'dd.mm.yyyy': { pattern: new RegExp(`^(\\d{1,2})\\.(\\d{1,2})\\.(\\d{4})${TIME}$`), order: ['d', 'm', 'y'] },
  'mon dd, yyyy': { pattern: new RegExp(`^(\\p{L}+)\\.? (\\d{1,2}),? (\\d{4})${TIME}$`, 'u'), order: ['m', 'd', 'y'] },
  'dd-mm-yy': { pattern: new RegExp(`^(\\d{1,2})-(\\d{1,2})-(\\d{2})${TIME}$`), order: ['d', 'm', 'y'] },
  'mm-dd-yy': { pattern: new RegExp(`^(\\d{1,2})-(\\d{1,2})-(\\d{2})${TIME}$`), order: ['m', 'd', 'y'] },
  'dd/mm/yy': { pattern: new RegExp(`^(\\d{1,2})/(\\d{1,2})/(\\d{2})${TIME}$`), order: ['d', 'm', 'y'] },
  'mm/dd/yy': { pattern: new RegExp(`^(\\d{1,2})/(\\d{1,2})/(\\d{2})${TIME}$`), order: ['m', 'd', 'y'] },
  'dd.mm.yy': { pattern: new RegExp(`^(\\d{1,2})\\.(\\d{1,2})\\.(\\d{2})${TIME}$`), order: ['d', 'm', 'y'] },
};
const EPOCH = /^\d{9,13}(\.\d+)?$/;
const ISO_LOCAL = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/;
const ISO_ZONED = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)? ?(Z|[+-]\d{2}:?\d{2})$/i;
// ISO with a zone name after it, as CoinGecko's CSV export writes its snapped_at: "2013-04-28 00:00:00 UTC"
const ISO_NAMED_ZONE = /^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) ([A-Za-z]{1,5})$/;
// RFC 822 as feeds write it, in any of the languages above: "Wed, 02 Oct 2002 13:00:00 GMT", "9 Oct 2019 08:00
// +0530", "03 Apr 02 1500 GMT", "Mi, 02 Okt. 2024 13:00:00 +0200", "mar., 15 oct. 2024 10:00", "2 de octubre de
// 2024". The day name is any word (it repeats what the date says); the month must be one monthNumber knows.
const RFC822 =
  /^(?:\p{L}+\.?(?:, ?| ))?(\d{1,2})\.? (?:de )?(\p{L}+)\.?,? (?:de )?(\d{4}|\d{2})(?:,? (\d{1,2}):?(\d{2})(?::?(\d{2}))?(?: ?([A-Za-z]{1,5}|[+-]\d{2}:?\d{2}))?)?$/u;

/** A two-digit year as POSIX strptime reads %y: 69–99 are 1969–1999, 00–68 are 2000–2068. */
export const fullYear = (twoDigits: number) => (twoDigits >= 69 ? 1900 : 2000) + twoDigits;

/** A timestamp read: the instant in ISO-8601 UTC, and whether its zone was a guess. */
export type TimestampReading = { iso: string; zoneAssumed: boolean };

/**
 * An ISO-8601 UTC timestamp from what a source wrote, read in the source's declared format; null when the
 * source says "no value". A time of day without a zone is wall-clock time in `timeZone` (an IANA name) when
 * one is given, and UTC otherwise: then `zoneAssumed` says so, since UTC is only a guess for such a value.
 * Throws ValueError for a value that is not a timestamp, RangeError for a `timeZone` that is not a zone.
 */
export function readTimestamp(value: unknown, format: DateFormat = 'auto', timeZone?: string): TimestampReading | null {
  if (isMissing(value)) return null;
  // the zone is checked before the value is read: a misconfigured zone fails on the first value, not only on
  // the zone-less ones
  const zone = timeZone === undefined ? undefined : zoneClock(timeZone);
  if (typeof value === 'number' || (typeof value === 'string' && EPOCH.test(value.trim()))) {
    const n = Number(value);
    // 10 digits and fewer are seconds (until the year 2286); 12 and more are milliseconds. An epoch is an instant.
    return { iso: toIso(new Date(n < 1e11 ? n * 1000 : n), value), zoneAssumed: false };
  }
  if (typeof value !== 'string') throw new ValueError(`not a timestamp: ${excerpt(value)}`);
  const text = value.replace(/\s+/g, ' ').trim();
  if (format !== 'auto') return declared(text, format, zone, value);
  if (ISO_LOCAL.test(text)) {
    if (text.length === 10) return { iso: toIso(new Date(`${text}T00:00:00Z`), value), zoneAssumed: false };
    return wallClock(Date.parse(`${text.replace(' ', 'T')}Z`), zone, value);
  }
  if (ISO_ZONED.test(text)) {
    const iso = toIso(
      new Date(
        text
          .replace(' ', 'T')
          .replace(/ (?=[Z+-])/i, '')
          .replace(/([+-]\d{2})(\d{2})$/, '$1:$2'),
      ),
      value,
    );
    return { iso, zoneAssumed: false };
  }
  const named = ISO_NAMED_ZONE.exec(text);
  if (named) {
    const hours = ZONES[named[2]!.toUpperCase()];
    if (hours === undefined) throw new ValueError(`unknown or ambiguous time zone ${named[2]} in ${excerpt(value)}`);
    return {
      iso: toIso(new Date(Date.parse(`${named[1]!.replace(' ', 'T')}Z`) - hours * 3_600_000), value),
      zoneAssumed: false,
    };
  }
  return rfc822(text, zone, value);
}

/** readTimestamp's instant alone, for callers that do not report assumed zones. */
export function parseTimestamp(value: unknown, format: DateFormat = 'auto', timeZone?: string): string | null {
  return readTimestamp(value, format, timeZone)?.iso ?? null;
}

function declared(
  text: string,
  format: Exclude<DateFormat, 'auto'>,
  zone: ZoneClock | undefined,
  original: unknown,
): TimestampReading {
  const { pattern, order } = DECLARED[format];
  const m = pattern.exec(text);
  if (!m) throw new ValueError(`not a ${format} date: ${excerpt(original)}`);
  const part = (p: 'd' | 'm' | 'y') => m[order.indexOf(p) + 1]!;
  const month = format === 'mon dd, yyyy' ? monthNumber(part('m')) : Number(part('m'));
  if (month === 0 && format === 'mon dd, yyyy') throw new ValueError(`not a ${format} date: ${excerpt(original)}`);
  const year = part('y').length === 2 ? fullYear(Number(part('y'))) : Number(part('y'));
  const wall = wallTime(
    year,
    month,
    Number(part('d')),
    Number(m[4] ?? 0),
    Number(m[5] ?? 0),
    Number(m[6] ?? 0),
    original,
  );
  return m[4] === undefined ? utcDay(wall, original) : wallClock(wall, zone, original);
}

function rfc822(text: string, zone: ZoneClock | undefined, original: unknown): TimestampReading {
  const m = RFC822.exec(text);
  const month = m ? monthNumber(m[2]!) : 0;
  // a date alone needs its four-digit year: "03 Apr 02" is as likely a truncated time as the year 2002
  if (!m || month === 0 || (m[4] === undefined && m[3]!.length === 2))
    throw new ValueError(`not a timestamp: ${excerpt(original)}`);
  const year = m[3]!.length === 2 ? (Number(m[3]) < 50 ? 2000 : 1900) + Number(m[3]) : Number(m[3]);
  const wall = wallTime(year, month, Number(m[1]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0), original);
  if (m[4] === undefined) return utcDay(wall, original);
  const offset = m[7];
  if (offset === undefined) return wallClock(wall, zone, original);
  let offsetMinutes: number;
  if (/^[+-]/.test(offset)) {
    const digits = offset.replace(':', '');
    offsetMinutes = (offset.startsWith('-') ? -1 : 1) * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5)));
  } else {
    const hours = ZONES[offset.toUpperCase()];
    if (hours === undefined) throw new ValueError(`unknown or ambiguous time zone ${offset} in ${excerpt(original)}`);
    offsetMinutes = hours * 60;
  }
  return { iso: toIso(new Date(wall - offsetMinutes * 60_000), original), zoneAssumed: false };
}

/** The wall-clock time as if it were UTC, in milliseconds, when the date and time exist on a calendar. */
function wallTime(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  original: unknown,
): number {
  // setUTCFullYear, not Date.UTC: Date.UTC reads the years 0 to 99 as 1900 to 1999
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second);
  // Date rolls 31 Feb over into March: a date that does not round-trip did not exist
  if (
    month < 1 ||
    date.getUTCMonth() !== month - 1 ||
    date.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 60
  ) {
    throw new ValueError(`not a valid date: ${excerpt(original)}`);
  }
  return date.getTime();
}

/**
 * A date without a time of day is its UTC day, whatever zone the source is in: daily market data is keyed by
 * the UTC day it covers, and moving a date to the zone's midnight would file it under the previous UTC day.
 * No zone is assumed for it, as it names a day and not an instant.
 */
function utcDay(wall: number, original: unknown): TimestampReading {
  return { iso: toIso(new Date(wall), original), zoneAssumed: false };
}

/** A time of day that came without a zone: wall-clock time in the source's zone, or UTC as a flagged guess. */
function wallClock(wall: number, zone: ZoneClock | undefined, original: unknown): TimestampReading {
  if (zone === undefined) return { iso: toIso(new Date(wall), original), zoneAssumed: true };
  if (Number.isNaN(wall)) throw new ValueError(`not a timestamp: ${excerpt(original)}`);
  return { iso: toIso(new Date(zonedToUtc(wall, zone)), original), zoneAssumed: false };
}

const DAY_MS = 24 * 60 * 60 * 1000;
/**
 * A zone's formatter, built once (Intl.DateTimeFormat is slow to build and a million-row file is read in one
 * zone), and the last wall-clock day found to have one offset throughout: consecutive rows mostly fall on the
 * same day, so most values need no Intl call at all.
 */
type ZoneClock = { format: Intl.DateTimeFormat; day: number; offset: number };
const CLOCKS = new Map<string, ZoneClock>();
const CLOCK_TEXT = /^(\d+)\/(\d+)\/(\d+), (\d+):(\d+):(\d+)$/;

/**
 * Whether `name` is a time zone Intl knows by name ("Europe/Berlin", "UTC", any case). A bare UTC offset such as
 * "+01:00" is refused although newer runtimes accept it: it never changes for daylight saving time, so a source
 * configured with one would be read an hour off for half the year.
 */
export function isTimeZone(name: string): boolean {
  if (CLOCKS.has(name)) return true;
  if (!/^\p{L}/u.test(name)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

function zoneClock(timeZone: string): ZoneClock {
  let clock = CLOCKS.get(timeZone);
  if (clock === undefined) {
    if (!isTimeZone(timeZone)) throw new RangeError(`not a time zone: ${excerpt(timeZone)}`);
    // en-US numeric parts in h23 print as "10/2/2024, 13:00:00", which CLOCK_TEXT reads; format() with a regular
    // expression is several times faster than formatToParts()
    const format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    clock = { format, day: Number.NaN, offset: 0 };
    CLOCKS.set(timeZone, clock);
  }
  return clock;
}

/** The zone's offset from UTC at an instant, in milliseconds. */
function offsetAt(format: Intl.DateTimeFormat, instant: number): number {
  const m = CLOCK_TEXT.exec(format.format(instant))!;
  const wholeSecond = instant - (((instant % 1000) + 1000) % 1000);
  const wall = new Date(0);
  wall.setUTCFullYear(Number(m[3]), Number(m[1]) - 1, Number(m[2]));
  wall.setUTCHours(Number(m[4]), Number(m[5]), Number(m[6]));
  return wall.getTime() - wholeSecond;
}

/**
 * The instant at which the zone's clocks show `wall` (wall-clock time written as if UTC), DST-correct. Around a
 * transition a wall-clock time can be shown twice (clocks set back) or never (clocks set forward); both are
 * read with the offset in force before the transition, so the same text always gives the same instant: a
 * repeated time is its first occurrence, a skipped time lands as far after the transition as it was written
 * after it ("02:30" on a spring-forward night in Berlin is 03:30 summer time). This is what Temporal's
 * "compatible" disambiguation and java.time do.
 */
function zonedToUtc(wall: number, clock: ZoneClock): number {
  const day = Math.floor(wall / DAY_MS);
  if (day === clock.day) return wall - clock.offset;
  // zones change their offset months apart, never twice in a few days; and no offset reaches a day, so the
  // offsets a day before and after the wall-clock day bracket every instant that day's times can be
  const before = offsetAt(clock.format, (day - 1) * DAY_MS);
  const after = offsetAt(clock.format, (day + 2) * DAY_MS);
  if (before === after) {
    clock.day = day;
    clock.offset = before;
    return wall - before;
  }
  const early = wall - before;
  if (offsetAt(clock.format, early) === before) return early;
  const late = wall - after;
  if (offsetAt(clock.format, late) === after) return late;
  return early;
}

function toIso(date: Date, original: unknown): string {
  const ms = date.getTime();
  if (Number.isNaN(ms)) throw new ValueError(`not a timestamp: ${excerpt(original)}`);
  if (ms < LIMITS.timestamp.earliest || ms >= LIMITS.timestamp.latestExclusive)
    throw new ValueError(`is out of range (years 1900 to 2199): ${excerpt(original)}`);
  return date.toISOString();
}

export function parseText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const text = String(value).trim();
  return text === '' ? null : text;
}
