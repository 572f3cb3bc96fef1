// The value domains of the unified schema, in one place. Validation enforces them before a row is staged,
// so PostgreSQL never rejects a staged row (a COPY that fails fails the whole source) and no stored value
// can make a response explode (a numeric with 131,001 digits is a valid PostgreSQL numeric).

export const LIMITS = {
  /**
   * Decimals (prices, caps, volumes, supplies, changes): at most this many significant digits, and a
   * magnitude below 10^maxExponent with any non-zero value at or above 10^minExponent. Real figures have
   * fewer than 25 digits; the largest token supplies are around 10^30; the smallest prices around 10^-18.
   */
  decimal: { maxSignificantDigits: 40, maxExponent: 40, minExponent: -40 },
  /** Integers (rank) are stored as PostgreSQL int4. */
  integer: { min: -2_147_483_648, max: 2_147_483_647 },
  /** Any timestamp a source sends: years 1900 to 2199. */
  timestamp: { earliest: Date.UTC(1900, 0, 1), latestExclusive: Date.UTC(2200, 0, 1) },
  /**
   * When an asset quote was observed: not before 1970 (market data older than that is not what this
   * pipeline ingests, and every month of observations is a partition), and not more than a day after the
   * payload was fetched (a clock a little ahead is tolerated; a quote from next year is not a quote).
   */
  observation: { earliest: Date.UTC(1970, 0, 1), futureSlackMs: 24 * 60 * 60 * 1000 },
  /**
   * Text, in characters and in UTF-8 bytes. The byte bounds keep every indexed column (source_key, url
   * as an article's match key) well under PostgreSQL's B-tree limit of about 2,700 bytes per entry.
   */
  text: {
    assetKey: { chars: 200, bytes: 800 },
    articleKey: { chars: 500, bytes: 2000 },
    symbol: { chars: 40, bytes: 160 },
    name: { chars: 200, bytes: 800 },
    title: { chars: 1000, bytes: 4000 },
    url: { chars: 2000, bytes: 2000 },
    summary: { chars: 20_000, bytes: 80_000 },
    author: { chars: 500, bytes: 2000 },
  },
  /** A quarantined record keeps the key it had, cut to this many bytes (the quarantine key is indexed). */
  quarantineKeyBytes: 800,
  /** Reasons and error texts stored in the database, in characters. */
  reasonChars: 2000,
} as const;

export type TextLimit = { chars: number; bytes: number };
