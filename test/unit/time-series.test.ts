// The time series' pure parts: value domains (no number PostgreSQL would store with a hundred thousand
// digits), two- and four-digit years, OHLC headers and constants, snapshot or history, and the range and
// bucket checks of the series API.
import assert from 'node:assert/strict';
import { resolveRange } from '../../src/api/series.ts';
import { MAX_BUCKETS } from '../../src/api/schemas.ts';
import { applyMapping, matchHeader, resolveMapping } from '../../src/normalize/mapping.ts';
import { validateRecord } from '../../src/normalize/record.ts';
import { inferSeries } from '../../src/normalize/series.ts';
import { ValueError, fullYear, parseDecimal, parseInteger, parseTimestamp } from '../../src/normalize/values.ts';
import { parseSourcesConfig } from '../../src/sources/config.ts';

describe('time series: values, mapping and ranges', () => {
  it('refuses decimals outside the domain: too many digits, too large or too small, however they are written', () => {
    for (const input of [
      '1e131000',
      '-1e41',
      '1'.repeat(41),
      `0.${'0'.repeat(45)}1`,
      '1e-41',
      '2e9999999999',
      `${'1.5T'.replace('1.5', '9'.repeat(39))}0`,
    ]) {
      assert.throws(() => parseDecimal(input), ValueError, input.slice(0, 40));
    }
    assert.match(
      String(
        (() => {
          try {
            parseDecimal('1e131000');
          } catch (e) {
            return (e as Error).message;
          }
        })(),
      ),
      /out of range \(about 1e131000/,
    );
    assert.match(
      String(
        (() => {
          try {
            parseDecimal('9'.repeat(140_000));
          } catch (e) {
            return (e as Error).message;
          }
        })(),
      ),
      /more than 40 significant digits: "9{60}"… \(140000 characters\)/,
    );
    // what real sources send stays exact
    for (const [input, expected] of [
      ['0.1234567890123456789', '0.1234567890123456789'],
      ['2e-8', '2e-8'],
      ['999999999999999999999999999999', '999999999999999999999999999999'],
      ['0', '0'],
      ['0.000', '0.000'],
      ['1.7T', '1.7e12'],
      ['2e3k', '2e6'],
    ] as const) {
      assert.equal(parseDecimal(input), expected);
    }
  });

  it('keeps integers within PostgreSQL int4 and timestamps within years 1900 to 2199', () => {
    assert.equal(parseInteger('2147483647'), 2147483647);
    assert.throws(() => parseInteger('2147483648'), /out of range/);
    assert.throws(() => parseTimestamp('0000-01-01T00:00:00Z'), ValueError);
    assert.throws(() => parseTimestamp('2300-01-01'), /out of range \(years 1900 to 2199\)/);
    assert.throws(() => parseTimestamp('01-01-0099', 'dd-mm-yyyy'), /out of range/, 'the year 99 is not 1999');
    assert.equal(parseTimestamp('01-01-1950', 'dd-mm-yyyy'), '1950-01-01T00:00:00.000Z');
  });

  it('reads declared two-digit years as strptime does (69–99 → 19xx, 00–68 → 20xx)', () => {
    assert.equal(fullYear(99), 1999);
    assert.equal(fullYear(69), 1969);
    assert.equal(fullYear(68), 2068);
    assert.equal(parseTimestamp('05-09-17', 'dd-mm-yy'), '2017-09-05T00:00:00.000Z');
    assert.equal(parseTimestamp('09/05/17 13:30', 'mm/dd/yy'), '2017-09-05T13:30:00.000Z');
    assert.equal(parseTimestamp('31.12.99', 'dd.mm.yy'), '1999-12-31T00:00:00.000Z');
    assert.throws(() => parseTimestamp('05-09-2017', 'dd-mm-yy'), /not a dd-mm-yy date/);
    assert.ok(
      parseSourcesConfig(
        "sources:\n  - { id: h, kind: csv, url: h.csv, csv: { date_format: 'mm-dd-yy' } }\n",
        'f.yaml',
      )[0]!.csv.dateFormat === 'mm-dd-yy',
    );
  });

  it('refuses an asset quote observed before 1970 or more than a day after its payload was fetched', () => {
    const fetchedAt = new Date('2024-03-01T00:00:00Z');
    const quote = (at: string) =>
      validateRecord('asset', { sourceKey: 'btc', symbol: 'BTC', priceUsd: '1', sourceUpdatedAt: at }, { fetchedAt });
    assert.ok(quote('2024-03-01T23:00:00Z').ok, 'a clock a little ahead is tolerated');
    const future = quote('2024-03-03T00:00:00Z');
    assert.ok(!future.ok && /more than a day after the payload was fetched/.test(future.reason));
    const old = quote('1969-12-31T23:59:59Z');
    assert.ok(!old.ok && /source_updated_at is before 1970/.test(old.reason));
    // an article may be older than any market data
    assert.ok(validateRecord('article', { sourceKey: 'a', title: 't', publishedAt: '1950-01-01' }).ok);
  });

  it('refuses text that would not fit the indexes, counted in bytes as well as characters', () => {
    const key = validateRecord('article', { sourceKey: 'x'.repeat(501), title: 't' });
    assert.ok(!key.ok && /source_key is longer than 500 characters/.test(key.reason));
    // 1,500 characters of two bytes each: within the characters, beyond the bytes an index entry can hold;
    // the url is optional, so the article is kept without it
    const url = validateRecord('article', { sourceKey: 'k', title: 't', url: `https://x.example/${'é'.repeat(1500)}` });
    assert.ok(url.ok && url.record.url === null);
    assert.deepEqual(
      url.issues.map((i) => [i.field, i.reason]),
      [['url', 'is longer than 2000 bytes']],
    );
  });

  it('maps the OHLC headers of history exports; the close is the price', () => {
    const { mapping } = matchHeader('asset', [
      'SNo',
      'Name',
      'Symbol',
      'Date',
      'High',
      'Low',
      'Open',
      'Close',
      'Volume',
      'Marketcap',
    ]);
    const from = Object.fromEntries(Object.entries(mapping).map(([f, s]) => [f, s.from]));
    assert.deepEqual(from, {
      name: 'Name',
      symbol: 'Symbol',
      sourceUpdatedAt: 'Date',
      highUsd: 'High',
      lowUsd: 'Low',
      openUsd: 'Open',
      priceUsd: 'Close',
      volume24hUsd: 'Volume',
      marketCapUsd: 'Marketcap',
    });
    for (const [header, field] of [
      ['close_price', 'priceUsd'],
      ['open_price', 'openUsd'],
      ['high_price', 'highUsd'],
      ['low_usd', 'lowUsd'],
    ] as const) {
      assert.equal(matchHeader('asset', [header]).mapping[field]?.from, header, header);
    }
  });

  it('gives constants to every record, keying a one-coin file by its constant symbol', () => {
    const { mapping } = resolveMapping({
      kind: 'asset',
      columns: ['Date', 'Close', 'Symbol'],
      configured: {},
      constants: { symbol: 'BTC', name: 'Bitcoin' },
      renames: {},
    });
    assert.deepEqual(mapping.symbol, { from: 'constant', confidence: 1, how: 'constant', value: 'BTC' });
    assert.equal(mapping.sourceKey?.how, 'symbol');
    assert.deepEqual(applyMapping({ Date: '2017-09-05', Close: '1', Symbol: 'XXX' }, mapping), {
      symbol: 'BTC',
      name: 'Bitcoin',
      sourceUpdatedAt: '2017-09-05',
      priceUsd: '1',
      sourceKey: 'BTC',
    });
    const [source] = parseSourcesConfig(
      'sources:\n  - { id: h, kind: csv, url: h.csv, constants: { symbol: BTC, rank: 1 }, series: history }\n',
      'f.yaml',
    );
    assert.deepEqual([source!.constants, source!.series], [{ symbol: 'BTC', rank: '1' }, 'history']);
    assert.throws(
      () =>
        parseSourcesConfig('sources:\n  - { id: h, kind: csv, url: h.csv, constants: { colour: red } }\n', 'f.yaml'),
      /field 'constants.colour'/,
    );
    assert.throws(
      () => parseSourcesConfig('sources:\n  - { id: h, kind: csv, url: h.csv, series: daily }\n', 'f.yaml'),
      /field 'series'/,
    );
  });

  it('tells a history from a snapshot by how often keys repeat at other times, unless the sources file says', () => {
    const mapping = {
      sourceKey: { from: 'id', confidence: 1, how: 'alias' as const },
      sourceUpdatedAt: { from: 'at', confidence: 1, how: 'alias' as const },
    };
    const rows = (pairs: [string, string][]) => pairs.map(([id, at]) => ({ id, at }));
    assert.equal(
      inferSeries(
        'auto',
        rows([
          ['btc', '1'],
          ['btc', '2'],
          ['eth', '1'],
          ['eth', '2'],
        ]),
        mapping,
      ),
      'history',
    );
    assert.equal(
      inferSeries(
        'auto',
        rows([
          ['btc', '1'],
          ['eth', '1'],
          ['ada', '1'],
          ['btc', '2'],
        ]),
        mapping,
      ),
      'snapshot',
      'one key twice in a snapshot',
    );
    assert.equal(
      inferSeries(
        'auto',
        rows([
          ['btc', '1'],
          ['btc', '1'],
          ['eth', '1'],
        ]),
        mapping,
      ),
      'snapshot',
      'the same time twice is a duplicate, not history',
    );
    assert.equal(
      inferSeries(
        'auto',
        rows([
          ['btc', '1'],
          ['btc', '2'],
        ]),
        { sourceKey: mapping.sourceKey },
      ),
      'snapshot',
      'no timestamp: no history',
    );
    assert.equal(inferSeries('history', [], mapping), 'history');
  });

  it('resolves series ranges: defaults end just after the newest observation, buckets align, bad ranges are 400s', () => {
    const newest = new Date('2024-03-01T10:17:00.000Z');
    assert.deepEqual(resolveRange('raw', {}, newest, null), {
      from: new Date('1970-01-01T00:00:00Z'),
      to: new Date('2024-03-01T10:17:00.001Z'),
    });
    const hourly = resolveRange('1h', { from: new Date('2024-03-01T08:30:00Z') }, newest, null);
    assert.deepEqual(hourly, { from: new Date('2024-03-01T08:00:00Z'), to: new Date('2024-03-01T11:00:00Z') });
    // weeks start on Monday: 2024-02-26
    assert.deepEqual(
      resolveRange('1w', { from: new Date('2024-02-28T00:00:00Z'), to: new Date('2024-03-01T00:00:00Z') }, null, null),
      { from: new Date('2024-02-26T00:00:00Z'), to: new Date('2024-03-04T00:00:00Z') },
    );
    const daily = resolveRange('1d', {}, newest, null);
    assert.equal((daily.to.getTime() - daily.from.getTime()) / 86_400_000, MAX_BUCKETS);
    const problem = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as { extra?: { invalid_params?: { name: string; reason: string }[] } }).extra?.invalid_params?.[0];
      }
      return undefined;
    };
    assert.equal(problem(() => resolveRange('raw', { from: newest, to: newest }, null, null))?.name, 'from');
    assert.match(
      problem(() => resolveRange('5m', { from: new Date('2024-01-01T00:00:00Z'), to: newest }, null, null))!.reason,
      /spans 17404 buckets of 5m, more than 2000/,
    );
    assert.match(
      problem(() =>
        resolveRange(
          '1h',
          { from: new Date('2024-01-01T00:00:00Z'), to: new Date('2024-01-02T00:00:00Z') },
          null,
          new Date('2024-02-01T00:00:00Z'),
        ),
      )!.reason,
      /daily rollups only/,
    );
    assert.deepEqual(
      resolveRange(
        '1d',
        { from: new Date('2024-01-01T00:00:00Z'), to: new Date('2024-01-03T00:00:00Z') },
        null,
        new Date('2024-02-01T00:00:00Z'),
      ).from,
      new Date('2024-01-01T00:00:00Z'),
      'days come from the rollup',
    );
  });
});
