// Whether a value could be a ticker at all: a row whose symbol cannot be is not market data and is
// quarantined. (Header matching asks more, whether a column looks like tickers: looksLikeTicker in
// mapping.ts; a file of product names fails there as a whole.) Real listings have
// tickers like BTC, 1INCH, stETH, BTC.B, `baby pepe`, `eth 2.0`, 币安人生 and even 38 lower-case letters,
// so neither spaces, case nor length alone tell a ticker from a name. What no listing has is a mixed-case
// value with spaces or of many letters: `Mechanical Keyboard`, `USB-C Hub 7-in-1`, `LogitechKeyboard` are
// names of things (test/unit/field-issues.test.ts holds every symbol of the recorded payloads to it).

/** Mixed case beyond this length is a word or a name, not a ticker (cbETH, stETH and WBTC.e are shorter). */
const MAX_MIXED_CASE_CHARS = 12;

const hasUpper = /\p{Lu}/u;
const hasLower = /\p{Ll}/u;

export function couldBeTicker(value: string): boolean {
  const text = value.trim();
  if (!text) return false;
  if (!(hasUpper.test(text) && hasLower.test(text))) return true;
  return !/\s/.test(text) && [...text].length <= MAX_MIXED_CASE_CHARS;
}
