// What a bad value costs: an optional field that cannot be read is stored as null with its issue recorded,
// while a required field, a value that says the row is not market data, or an unreadable observation time
// quarantines the record. Source sentinels (CoinPaprika's rank 0) are read as "no value".
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { clearSentinels, validateRecord } from '../../src/normalize/record.ts';
import { couldBeTicker } from '../../src/normalize/ticker.ts';
import { coinpaprikaSource } from '../../src/sources/coinpaprika.ts';
import { coingeckoSource } from '../../src/sources/coingecko.ts';
import { applyMapping, resolveMapping } from '../../src/normalize/mapping.ts';
import { recorded } from '../recorded.ts';
import { parseSourcesConfig } from '../../src/sources/config.ts';
import { Readable } from 'node:stream';

const asset = {
  sourceKey: 'bitcoin',
  symbol: 'btc',
  name: 'Bitcoin',
  priceUsd: '1',
  sourceUpdatedAt: '2024-03-01T00:00:00Z',
};

describe('field-level rejection', () => {
  it('keeps a record whose optional fields do not parse, with each field, value and reason', () => {
    const result = validateRecord('asset', { ...asset, priceUsd: 'twelve', rank: 'first', name: 'n'.repeat(300) });
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.record.priceUsd, null);
    assert.equal(result.record.rank, null);
    assert.equal(result.record.name, null);
    assert.equal(result.record.symbol, 'BTC');
    assert.deepEqual(
      result.issues.map((i) => [i.field, i.reason]),
      [
        ['name', 'is longer than 200 characters'],
        ['rank', 'not a number: "first"'],
        ['price_usd', 'not a number: "twelve"'],
      ],
    );
    assert.equal(result.issues.find((i) => i.field === 'price_usd')!.value, '"twelve"');
    assert.ok(result.issues.find((i) => i.field === 'name')!.value.length < 250, 'a long value is quoted by its start');
  });

  it('quarantines a record whose required field is missing or unreadable', () => {
    for (const [candidate, reason] of [
      [{ ...asset, symbol: '' }, /symbol is required/],
      [{ ...asset, sourceKey: 'k'.repeat(300) }, /source_key is longer than 200 characters/],
    ] as const) {
      const result = validateRecord('asset', candidate);
      assert.ok(!result.ok);
      assert.match(result.reason, reason);
    }
    const article = validateRecord('article', { sourceKey: 'a', title: '' });
    assert.ok(!article.ok && /title is required/.test(article.reason));
  });

  it('quarantines a record whose values say it is not market data: a negative amount, a symbol that cannot be a ticker', () => {
    const negative = validateRecord('asset', { ...asset, priceUsd: '-3' });
    assert.ok(!negative.ok && /price_usd must not be negative/.test(negative.reason));
    const product = validateRecord('asset', { ...asset, symbol: 'Mechanical Keyboard' });
    assert.ok(!product.ok && /symbol cannot be a ticker/.test(product.reason));
    // a symbol column the sources file maps by hand is read as it is
    const trusted = validateRecord('asset', { ...asset, symbol: 'Mechanical Keyboard' }, { trustSymbol: true });
    assert.ok(trusted.ok && trusted.record.symbol === 'MECHANICAL KEYBOARD');
  });

  it("quarantines an asset whose observation time cannot be read (a quote at a guessed time is a false point), keeps an article's", () => {
    const quote = validateRecord('asset', { ...asset, sourceUpdatedAt: 'sometime' });
    assert.ok(!quote.ok && /source_updated_at not a timestamp/.test(quote.reason));
    const article = validateRecord('article', { sourceKey: 'a', title: 'T', publishedAt: 'vers midi' });
    assert.ok(article.ok);
    assert.equal(article.record.publishedAt, null);
    assert.deepEqual(
      article.issues.map((i) => [i.field, i.value]),
      [['published_at', '"vers midi"']],
    );
  });

  it('says which zone-less times were read as UTC, and reads them in the source zone when one is set', () => {
    for (const publishedAt of ['2024-03-01 09:30:00', '01 Mar 2024 09:30']) {
      const utc = validateRecord('article', { sourceKey: 'a', title: 'T', publishedAt });
      assert.ok(utc.ok);
      assert.equal(utc.record.publishedAt, '2024-03-01T09:30:00.000Z');
      assert.deepEqual([utc.zoneAssumed, utc.issues], [['published_at'], []], publishedAt);
    }
    const berlin = validateRecord(
      'article',
      { sourceKey: 'a', title: 'T', publishedAt: '2024-03-01 09:30:00' },
      { timeZone: 'Europe/Berlin' },
    );
    assert.ok(berlin.ok);
    assert.equal(berlin.record.publishedAt, '2024-03-01T08:30:00.000Z');
    assert.deepEqual(berlin.zoneAssumed, []);
    // a zone written in the value, and a date without a time of day, assume nothing
    for (const publishedAt of ['2024-03-01T09:30:00+02:00', 'Fri, 01 Mar 2024 09:30:00 GMT', '2024-03-01']) {
      const r = validateRecord('article', { sourceKey: 'a', title: 'T', publishedAt });
      assert.ok(r.ok && r.zoneAssumed.length === 0, publishedAt);
    }
  });

  it('reads -0 as zero, not as a negative amount', () => {
    const r = validateRecord('asset', { ...asset, priceUsd: '-0.00', volume24hUsd: '-0' });
    assert.ok(r.ok, JSON.stringify(r));
  });
});

describe('source sentinels', () => {
  it('reads CoinPaprika 0 as "unknown" for rank, supplies and market cap, and leaves other zeros alone', () => {
    const candidate: Record<string, unknown> = {
      rank: 0,
      maxSupply: 0,
      circulatingSupply: '0',
      totalSupply: 0,
      marketCapUsd: 0,
      priceUsd: 0,
      percentChange24h: 0,
    };
    clearSentinels(candidate, coinpaprikaSource.sentinels);
    assert.deepEqual(candidate, {
      rank: null,
      maxSupply: null,
      circulatingSupply: null,
      totalSupply: null,
      marketCapUsd: null,
      priceUsd: 0,
      percentChange24h: 0,
    });
    // CoinGecko writes whole numbers as floats: its zero supply arrives as 0.0
    const gecko: Record<string, unknown> = { marketCapUsd: 0, circulatingSupply: '0.0', maxSupply: null, rank: 0 };
    clearSentinels(gecko, coingeckoSource.sentinels);
    assert.deepEqual(gecko, { marketCapUsd: null, circulatingSupply: null, maxSupply: null, rank: 0 });
  });

  it('keeps inactive coins of a CoinPaprika coin list, unranked, as read from the payload', async () => {
    const coins = [
      { id: 'btc-bitcoin', name: 'Bitcoin', symbol: 'BTC', rank: 1, is_new: false, is_active: true, type: 'coin' },
      { id: 'xyz-dead-coin', name: 'Dead Coin', symbol: 'XYZ', rank: 0, is_new: false, is_active: false, type: 'coin' },
      {
        id: 'abc-old-token',
        name: 'Old Token',
        symbol: 'ABC',
        rank: 0,
        is_new: false,
        is_active: false,
        type: 'token',
      },
    ];
    const { mapping } = resolveMapping({
      kind: 'asset',
      declared: coinpaprikaSource.fieldMap,
      columns: [],
      configured: {},
      renames: {},
    });
    const ranks: (number | null)[] = [];
    const source = parseSourcesConfig(
      'sources:\n  - {id: p, kind: coinpaprika, url: "https://api.coinpaprika.test/v1/coins"}\n',
      '/tmp/f.yaml',
    )[0]!;
    for await (const fields of coinpaprikaSource.read(Readable.from([Buffer.from(JSON.stringify(coins))]), source, {
      url: 'https://api.coinpaprika.test/v1/coins',
      contentType: 'application/json',
    })) {
      const candidate = applyMapping(fields as Record<string, unknown>, mapping);
      clearSentinels(candidate, coinpaprikaSource.sentinels);
      const result = validateRecord('asset', candidate);
      assert.ok(result.ok, JSON.stringify(result));
      ranks.push(result.record.rank);
    }
    assert.deepEqual(ranks, [1, null, null]);
  });

  const fixtures = recorded('coinpaprika');
  (fixtures ? it : it.skip)(
    'keeps every coin of the recorded CoinPaprika coin list and tickers, inactive (rank 0) ones included',
    () => {
      for (const [file, inactive] of [
        ['coins__maikelmclauflin-coinpaprika-api-grpc.json', 1297],
        ['tickers-default__maikelmclauflin-coinpaprika-api-grpc.json', 0],
      ] as const) {
        const coins = JSON.parse(fs.readFileSync(path.join(fixtures!, file), 'utf8')) as Record<string, unknown>[];
        const { mapping } = resolveMapping({
          kind: 'asset',
          declared: coinpaprikaSource.fieldMap,
          columns: [],
          configured: {},
          renames: {},
        });
        let unranked = 0;
        const refused: string[] = [];
        for (const coin of coins) {
          const fields = Object.fromEntries(flatten(coin));
          const candidate = applyMapping(fields, mapping);
          clearSentinels(candidate, coinpaprikaSource.sentinels);
          const result = validateRecord('asset', candidate, { fetchedAt: new Date('2019-09-07T00:00:00Z') });
          if (!result.ok) refused.push(`${String(coin.id)}: ${result.reason}`);
          else if (result.record.rank === null) unranked++;
        }
        assert.deepEqual(refused, [], file);
        assert.equal(unranked, inactive, `${file}: the inactive coins are kept without a rank`);
      }
    },
  );

  const gecko = recorded('coingecko');
  (gecko ? it : it.skip)('keeps every coin of the recorded CoinGecko /coins/markets payloads', () => {
    for (const file of fs.readdirSync(gecko!).filter((f) => f.startsWith('coins_markets'))) {
      const { mapping } = resolveMapping({
        kind: 'asset',
        declared: coingeckoSource.fieldMap,
        columns: [],
        configured: {},
        renames: {},
      });
      const refused = (JSON.parse(fs.readFileSync(path.join(gecko!, file), 'utf8')) as Record<string, unknown>[])
        .map((coin) => {
          const candidate = applyMapping(coin, mapping);
          clearSentinels(candidate, coingeckoSource.sentinels);
          return validateRecord('asset', candidate, { fetchedAt: new Date('2024-01-01T00:00:00Z') });
        })
        .filter((r) => !r.ok);
      assert.deepEqual(refused, [], file);
    }
  });
});

function* flatten(value: Record<string, unknown>, prefix = ''): Generator<[string, unknown]> {
  for (const [k, v] of Object.entries(value)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) yield* flatten(v as Record<string, unknown>, `${prefix}${k}.`);
    else yield [`${prefix}${k}`, v];
  }
}

describe('a symbol that cannot be a ticker', () => {
  it('tells tickers, however listings write them, from names of things', () => {
    // real ones, from CoinGecko and CoinPaprika listings: spaces, case and length alone say nothing
    for (const t of [
      'BTC',
      'eth',
      '1INCH',
      'stETH',
      'BTC.B',
      'USDT',
      '币安人生',
      'baby pepe',
      'eth 2.0',
      'hixokdkekjcjdksicndnaiaihsbznnxnxnduje',
    ])
      assert.ok(couldBeTicker(t), t);
    for (const t of ['Mechanical Keyboard', 'USB-C Hub 7-in-1', 'Logitech MX Keys', 'LogitechKeyboard', ''])
      assert.ok(!couldBeTicker(t), t);
  });

  const payloads = recorded();
  (payloads ? it : it.skip)('passes every non-empty symbol of the recorded CoinGecko and CoinPaprika payloads', () => {
    let checked = 0;
    for (const dir of ['coingecko', 'coinpaprika']) {
      for (const file of fs.readdirSync(path.join(payloads!, dir)).filter((f) => f.endsWith('.json'))) {
        const symbols = (JSON.parse(fs.readFileSync(path.join(payloads!, dir, file), 'utf8')) as { symbol?: unknown }[])
          .map((c) => String(c.symbol ?? '').trim())
          .filter(Boolean);
        assert.deepEqual(
          symbols.filter((s) => !couldBeTicker(s)),
          [],
          file,
        );
        checked += symbols.length;
      }
    }
    assert.ok(checked > 10_000, `${checked} symbols`);
  });
});
