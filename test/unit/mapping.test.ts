import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import {
  MAPPING_THRESHOLD,
  applyMapping,
  looksLikeTicker,
  matchHeader,
  missingRequired,
  resolveMapping,
  sampleValues,
} from '../../src/normalize/mapping.ts';
import type { UnifiedField } from '../../src/normalize/record.ts';
import { recorded, recordedRoot } from '../recorded.ts';

const from = (m: ReturnType<typeof matchHeader>['mapping']) =>
  Object.fromEntries(Object.entries(m).map(([f, s]) => [f, s.from]));
/** A small CSV as matchHeader gets it: the header, and each column's values. */
function table(csv: string): [string[], Record<string, string[]>] {
  const [header, ...rows] = csv
    .trim()
    .split('\n')
    .map((line) => line.split(','));
  return [header!, Object.fromEntries(header!.map((column, i) => [column, rows.map((row) => row[i]!)]))];
}
const fixtures = recordedRoot;

describe('field mapping', () => {
  it('maps the header spellings of real exports, with a confidence', () => {
    const { mapping } = matchHeader('asset', ['Ticker', 'LastPrice', 'Vol', 'RecordedDate']);
    assert.deepEqual(from(mapping), {
      symbol: 'Ticker',
      priceUsd: 'LastPrice',
      volume24hUsd: 'Vol',
      sourceUpdatedAt: 'RecordedDate',
    });
    assert.equal(mapping.priceUsd!.confidence, 0.95);
    for (const header of ['usd_price', 'LastPrice', 'current_price', 'Price (USD)', 'price_current']) {
      assert.equal(matchHeader('asset', [header]).mapping.priceUsd?.from, header, header);
    }
  });

  it('tolerates typos but never guesses below the threshold; a column maps to one field at most', () => {
    const { mapping, unmapped } = matchHeader('asset', [
      'circulating_suply',
      'price_change_24h',
      'market_dominance',
      'high_24h',
    ]);
    assert.equal(mapping.circulatingSupply?.how, 'fuzzy');
    // absolute change is not percent change, however similar the names look
    assert.equal(mapping.percentChange24h, undefined);
    assert.equal(mapping.marketCapUsd, undefined);
    const guess = unmapped.find((u) => u.column === 'price_change_24h')!;
    assert.equal(guess.best?.field, 'percentChange24h');
    assert.ok(guess.best!.confidence < MAPPING_THRESHOLD);
    assert.deepEqual(unmapped.map((u) => u.column).sort(), ['high_24h', 'market_dominance', 'price_change_24h']);
  });

  it('keeps periods apart: a 1-hour or 7-day change is not the 24-hour one', () => {
    const { mapping } = matchHeader('asset', ['percent_change_1h', 'percent_change_7d', 'price_change_percentage_7d']);
    assert.equal(mapping.percentChange24h, undefined);
    assert.equal(
      matchHeader('asset', ['percent_change_1h', 'percent_change_24h']).mapping.percentChange24h?.from,
      'percent_change_24h',
    );
  });

  it('gives configured mappings and accepted renames precedence, and keys a file without ids by symbol', () => {
    const declared = { sourceKey: 'id', symbol: 'symbol', priceUsd: 'current_price' };
    const renamed = resolveMapping({
      kind: 'asset',
      declared,
      columns: [],
      configured: {},
      renames: { current_price: 'price_current' },
    });
    assert.deepEqual(renamed.mapping.priceUsd, { from: 'price_current', confidence: 1, how: 'renamed' });
    const configured = resolveMapping({
      kind: 'asset',
      columns: ['Ticker', 'px'],
      configured: { priceUsd: 'px' },
      renames: {},
    });
    assert.deepEqual(configured.mapping.priceUsd, { from: 'px', confidence: 1, how: 'configured' });
    assert.deepEqual(configured.unmapped, []);
    assert.equal(configured.mapping.sourceKey?.how, 'symbol');
    assert.deepEqual(applyMapping({ Ticker: ' btc ', px: '1' }, configured.mapping), {
      symbol: ' btc ',
      sourceKey: 'BTC',
      priceUsd: '1',
    });
  });

  it('names the required fields nothing maps to', () => {
    const { mapping } = matchHeader('asset', ['Date', 'Open', 'High', 'Low', 'Close', 'Volume', 'Market Cap']);
    assert.deepEqual(
      missingRequired(
        'asset',
        resolveMapping({ kind: 'asset', columns: Object.keys(mapping), configured: {}, renames: {} }).mapping,
      ),
      ['sourceKey', 'symbol'],
    );
    assert.deepEqual(missingRequired('article', matchHeader('article', ['headline', 'link']).mapping), ['sourceKey']);
  });

  describe('the header families real exports write', () => {
    it("reads CoinGecko's CSV export (snapped_at is the observation time)", () => {
      assert.deepEqual(from(matchHeader('asset', ['snapped_at', 'price', 'market_cap', 'total_volume']).mapping), {
        sourceUpdatedAt: 'snapped_at',
        priceUsd: 'price',
        marketCapUsd: 'market_cap',
        volume24hUsd: 'total_volume',
      });
    });

    it("reads CoinMarketCap's historical CSV, observed at its timestamp or else its close, never its high or low", () => {
      const header = [
        'timeOpen',
        'timeClose',
        'timeHigh',
        'timeLow',
        'name',
        'open',
        'high',
        'low',
        'close',
        'volume',
        'marketCap',
        'timestamp',
      ];
      assert.deepEqual(from(matchHeader('asset', header).mapping), {
        name: 'name',
        openUsd: 'open',
        highUsd: 'high',
        lowUsd: 'low',
        priceUsd: 'close',
        volume24hUsd: 'volume',
        marketCapUsd: 'marketCap',
        sourceUpdatedAt: 'timestamp',
      });
      assert.equal(
        matchHeader(
          'asset',
          header.filter((c) => c !== 'timestamp'),
        ).mapping.sourceUpdatedAt?.from,
        'timeClose',
      );
      assert.equal(matchHeader('asset', ['timeHigh', 'timeLow', 'close']).mapping.sourceUpdatedAt, undefined);
      // its name column holds CoinMarketCap's id of the quote currency (2781 is USD), not a name
      const [columns, samples] = table(
        'timestamp,name,close\n2024-01-01T23:59:59.999Z,2781,1\n2024-01-02T23:59:59.999Z,2781,2\n2024-01-03T23:59:59.999Z,2781,3',
      );
      const { mapping, unmapped } = matchHeader('asset', columns, samples);
      assert.equal(mapping.name, undefined);
      assert.match(unmapped.find((u) => u.column === 'name')!.why!, /not names/);
    });

    it('reads the Kaggle crypto datasets', () => {
      assert.deepEqual(
        from(matchHeader('asset', ['Date', 'Symbol', 'Open', 'High', 'Low', 'Close', 'Volume', 'Marketcap']).mapping),
        {
          sourceUpdatedAt: 'Date',
          symbol: 'Symbol',
          openUsd: 'Open',
          highUsd: 'High',
          lowUsd: 'Low',
          priceUsd: 'Close',
          volume24hUsd: 'Volume',
          marketCapUsd: 'Marketcap',
        },
      );
      const { mapping, unmapped } = matchHeader('asset', [
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
      assert.deepEqual(from(mapping), {
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
      assert.deepEqual(
        unmapped.map((u) => u.column),
        ['SNo'],
      );
      // jessevent's crypto-markets: ranknow is the rank; a bare "market" is too vague to be the cap by name
      const markets = matchHeader('asset', [
        'slug',
        'symbol',
        'name',
        'date',
        'ranknow',
        'open',
        'high',
        'low',
        'close',
        'volume',
        'market',
      ]);
      assert.deepEqual(
        [markets.mapping.sourceKey?.from, markets.mapping.rank?.from, markets.mapping.marketCapUsd],
        ['slug', 'ranknow', undefined],
      );
    });

    it('reads exchange exports: the quote-currency volume is the USD volume, the base-currency one is not', () => {
      const cdd = matchHeader('asset', [
        'Unix Timestamp',
        'Date',
        'Symbol',
        'Open',
        'High',
        'Low',
        'Close',
        'Volume BTC',
        'Volume USD',
      ]);
      assert.deepEqual(from(cdd.mapping), {
        sourceUpdatedAt: 'Unix Timestamp',
        symbol: 'Symbol',
        openUsd: 'Open',
        highUsd: 'High',
        lowUsd: 'Low',
        priceUsd: 'Close',
        volume24hUsd: 'Volume USD',
      });
      const binance = matchHeader('asset', [
        'unix',
        'date',
        'symbol',
        'open',
        'high',
        'low',
        'close',
        'Volume BTC',
        'Volume USDT',
        'tradecount',
      ]);
      assert.equal(binance.mapping.volume24hUsd?.from, 'Volume USDT');
      assert.equal(binance.mapping.sourceUpdatedAt?.from, 'unix');
      assert.deepEqual(binance.unmapped.find((u) => u.column === 'Volume BTC')?.why, 'its name says BTC, not USD');
      const bitstamp = matchHeader('asset', [
        'Timestamp',
        'Open',
        'High',
        'Low',
        'Close',
        'Volume_(BTC)',
        'Volume_(Currency)',
        'Weighted_Price',
      ]);
      assert.deepEqual(
        [bitstamp.mapping.sourceUpdatedAt?.from, bitstamp.mapping.priceUsd?.from, bitstamp.mapping.volume24hUsd?.from],
        ['Timestamp', 'Close', 'Volume_(Currency)'],
      );
      for (const header of ['time', 'datetime', 'Unix Timestamp', 'unix', 'close_time']) {
        assert.equal(matchHeader('asset', [header]).mapping.sourceUpdatedAt?.from, header, header);
      }
    });

    it('never takes an amount in another currency for the USD one', () => {
      const { mapping, unmapped } = matchHeader('asset', [
        'Volume BTC',
        'Volume (BTC)',
        'Volume 1INCH',
        'volume_eth',
        'price_btc',
        'price_in_eur',
        'marketcap_eur',
        'base_volume',
      ]);
      assert.deepEqual(mapping, {});
      for (const u of unmapped) assert.match(u.why ?? '', /^its name says \S+, not USD$/, u.column);
      for (const header of ['Volume USD', 'Volume USDT', 'volume_usdc', 'Volume (USD)']) {
        assert.equal(matchHeader('asset', [header]).mapping.volume24hUsd?.from, header, header);
      }
    });

    it('reads the coin_, asset_, token_ and crypto_ prefixes', () => {
      const cases: [string, UnifiedField][] = [
        ['coin_symbol', 'symbol'],
        ['coin_name', 'name'],
        ['coin_id', 'sourceKey'],
        ['token_symbol', 'symbol'],
        ['crypto_name', 'name'],
        ['asset_id', 'sourceKey'],
        ['asset_symbol', 'symbol'],
        ['token_name', 'name'],
        ['crypto_symbol', 'symbol'],
        ['coin_ticker', 'symbol'],
        ['coinSymbol', 'symbol'],
        ['coin_price', 'priceUsd'],
        ['token_price', 'priceUsd'],
        ['coin_rank', 'rank'],
        ['asset_market_cap', 'marketCapUsd'],
      ];
      for (const [header, field] of cases)
        assert.equal(matchHeader('asset', [header]).mapping[field]?.from, header, header);
      // the prefix costs a little: coin_symbol is a symbol, but not as surely as symbol
      assert.ok(matchHeader('asset', ['coin_symbol']).mapping.symbol!.confidence < 1);
    });

    it('reads short forms of price, volume and market cap, weighing each honestly', () => {
      const cases: [string, UnifiedField][] = [
        ['usd', 'priceUsd'],
        ['price_in_usd', 'priceUsd'],
        ['spot_price', 'priceUsd'],
        ['close (usd)', 'priceUsd'],
        ['latest_price', 'priceUsd'],
        ['vol', 'volume24hUsd'],
        ['vol_24h', 'volume24hUsd'],
        ['volume (24h)', 'volume24hUsd'],
        ['24h volume', 'volume24hUsd'],
        ['24h_vol', 'volume24hUsd'],
        ['Volume 24hr', 'volume24hUsd'],
        ['volumeUsd24Hr', 'volume24hUsd'],
        ['24h_volume_usd', 'volume24hUsd'],
        ['usd_24h_vol', 'volume24hUsd'],
        ['mkt_cap', 'marketCapUsd'],
        ['mktcap', 'marketCapUsd'],
        ['marketcap', 'marketCapUsd'],
        ['market cap (usd)', 'marketCapUsd'],
        ['cap', 'marketCapUsd'],
        ['usd_market_cap', 'marketCapUsd'],
        ['supply', 'circulatingSupply'],
        ['available_supply', 'circulatingSupply'],
        ['changePercent24Hr', 'percentChange24h'],
        ['24h %', 'percentChange24h'],
        ['% change 24h', 'percentChange24h'],
        ['price_open', 'openUsd'],
        ['price_high', 'highUsd'],
        ['price_low', 'lowUsd'],
      ];
      for (const [header, field] of cases)
        assert.equal(matchHeader('asset', [header]).mapping[field]?.from, header, header);
      const confidence = (header: string) => matchHeader('asset', [header]).mapping.marketCapUsd!.confidence;
      assert.ok(
        confidence('cap') < confidence('mkt_cap') &&
          confidence('mkt_cap') < confidence('market_cap') &&
          confidence('market_cap') < confidence('market_cap_usd'),
      );
    });

    it('reads a units suffix in parentheses or brackets', () => {
      const cases: [string, UnifiedField][] = [
        ['Price (USD)', 'priceUsd'],
        ['price [usd]', 'priceUsd'],
        ['Price ($)', 'priceUsd'],
        ['Close (USD)', 'priceUsd'],
        ['Open [USD]', 'openUsd'],
        ['Market Cap (USD)', 'marketCapUsd'],
        ['Volume (USDT)', 'volume24hUsd'],
        ['Circulating Supply [coins]', 'circulatingSupply'],
        ['Max Supply (BTC)', 'maxSupply'],
        ['Change 24h (%)', 'percentChange24h'],
      ];
      for (const [header, field] of cases)
        assert.equal(matchHeader('asset', [header]).mapping[field]?.from, header, header);
      assert.equal(matchHeader('asset', ['Price (USD)']).mapping.priceUsd!.confidence, 1);
      assert.equal(matchHeader('asset', ['Price (EUR)']).mapping.priceUsd, undefined);
    });
  });

  describe('value evidence', () => {
    it('takes a name column holding tickers for the symbol; the real name column stays the name', () => {
      const [columns, samples] = table('name,price\nBTC,87000\nETH,3000\nUSDT,1\n1INCH,0.3\nstETH,3000');
      assert.equal(matchHeader('asset', columns).mapping.name?.from, 'name', 'by its name alone it is the name');
      const { mapping } = matchHeader('asset', columns, samples);
      assert.deepEqual(mapping.symbol, { from: 'name', confidence: 0.85, how: 'values' });
      assert.equal(mapping.name, undefined);
      const [both, bothSamples] = table(
        'name,coin_name,price\nBTC,Bitcoin,87000\nETH,Ethereum,3000\nUSDT,Tether,1\nBNB,BNB,600',
      );
      assert.deepEqual(from(matchHeader('asset', both, bothSamples).mapping), {
        symbol: 'name',
        name: 'coin_name',
        priceUsd: 'price',
      });
      // a symbol column and a name column of tickers: the name column is left out, and says why
      const [pair, pairSamples] = table('Symbol,Name\nBTC,BTC\nETH,ETH\nXRP,XRP');
      const { mapping: m, unmapped } = matchHeader('asset', pair, pairSamples);
      assert.deepEqual(from(m), { symbol: 'Symbol' });
      assert.deepEqual(unmapped, [
        {
          column: 'Name',
          best: { field: 'symbol', confidence: 0.85, by: 'values' },
          why: 'its values are tickers, not names ("BTC", "ETH")',
        },
      ]);
    });

    it('maps an oddly named column of tickers to the symbol, and dates in a day column to the timestamp, by values alone', () => {
      const [columns, samples] = table(
        'Unnamed: 0,px,day\nBTC,87000,2024-01-01\neth,3000,2024-01-02\nUSDT,1,2024-01-03T00:00:00Z\nBTC.B,87000,2024-01-04',
      );
      const { mapping } = matchHeader('asset', columns, samples);
      assert.deepEqual(mapping.symbol, { from: 'Unnamed: 0', confidence: 0.85, how: 'values' });
      assert.deepEqual(mapping.sourceUpdatedAt, { from: 'day', confidence: 0.85, how: 'values' });
      assert.equal(mapping.priceUsd, undefined, 'numbers alone do not say which amount they are');
      // dates a declared format reads (05-12-2025, Sep 05, 2017) are dates too
      for (const dates of [
        ['05-12-2025 17:43:10', '06-12-2025 05:26:10', '07-12-2025 00:00:00'],
        ['Sep 05, 2017', 'Sep 04, 2017', 'Sep 03, 2017'],
      ]) {
        assert.equal(matchHeader('asset', ['when'], { when: dates }).mapping.sourceUpdatedAt?.how, 'values', dates[0]);
      }
      // epoch seconds raise a time-named column, but a number alone could be any amount
      assert.equal(
        matchHeader('asset', ['unix'], { unix: ['1704067200', '1704070800', '1704074400'] }).mapping.sourceUpdatedAt!
          .confidence,
        0.95,
      );
      assert.equal(
        matchHeader('asset', ['n'], { n: ['1704067200', '1704070800', '1704074400'] }).mapping.sourceUpdatedAt,
        undefined,
      );
    });

    it('does not take a symbol column of product names for the symbol, and reports it with why', () => {
      const [columns, samples] = table(
        'symbol,price\nMechanical Keyboard,99\nUSB-C Hub 7-in-1,29\nLogitech MX Keys,119\nusb hub,9',
      );
      const { mapping, unmapped } = matchHeader('asset', columns, samples);
      assert.equal(mapping.symbol, undefined);
      assert.deepEqual(unmapped, [
        {
          column: 'symbol',
          best: { field: 'symbol', confidence: 0.5, by: 'name' },
          why: 'its values are not tickers ("Mechanical Keyboard", "USB-C Hub 7-in-1")',
        },
      ]);
      assert.deepEqual(
        missingRequired(
          'asset',
          resolveMapping({ kind: 'asset', columns, samples, configured: {}, renames: {} }).mapping,
        ),
        ['sourceKey', 'symbol'],
      );
    });

    it('lets values adjust a name match: fitting values raise it, contradicting ones halve it', () => {
      const [columns, samples] = table(
        'symbol,price,rank,date\nBTC,87000,1,2024-01-01\nETH,$3000,2,2024-01-01\nXRP,2.1,3,2024-01-01',
      );
      const { mapping } = matchHeader('asset', columns, samples);
      assert.deepEqual(
        [
          mapping.symbol!.confidence,
          mapping.priceUsd!.confidence,
          mapping.rank!.confidence,
          mapping.sourceUpdatedAt!.confidence,
        ],
        [1, 1, 1, 0.95],
      );
      // shifted columns: words under price, ticker-less under symbol
      const [shifted, shiftedSamples] = table('sym,price\n1.5,Bitcoin\n2.5,Ethereum\n3.5,Tether');
      const off = matchHeader('asset', shifted, shiftedSamples);
      assert.deepEqual(off.mapping, {});
      assert.deepEqual(
        off.unmapped.map((u) => [u.column, u.best?.confidence, u.why]),
        [
          ['sym', 0.45, 'its values are not tickers ("1.5", "2.5")'],
          ['price', 0.48, 'its values are not numbers ("Bitcoin", "Ethereum")'],
        ],
      );
      // fewer than three values say nothing
      assert.equal(
        matchHeader('asset', ['symbol'], { symbol: ['Mechanical Keyboard', 'USB Hub'] }).mapping.symbol?.from,
        'symbol',
      );
    });

    it('maps nothing by values alone that its name says is something else', () => {
      const [columns, samples] = table(
        'exchange,quote,side,ath_date,is_active,sku\nBINANCE,USD,buy,2021-11-10T14:24:11Z,true,MK-1\nKRAKEN,USD,sell,2021-11-10T14:24:11Z,false,UH-2\nCOINBASE,USD,buy,2021-11-09T00:00:00Z,true,LK-3',
      );
      assert.deepEqual(matchHeader('asset', columns, samples).mapping, {});
      // a column of quote currencies is not a column of coins, whatever it is called
      assert.equal(matchHeader('asset', ['ccy'], { ccy: ['USD', 'EUR', 'USD'] }).mapping.symbol, undefined);
    });

    it("maps an article file's dates to published_at and its URLs to url", () => {
      const [columns, samples] = table(
        'title,where,day,img\nA,https://x.example/a,2024-01-01,https://x.example/a.png\nB,https://x.example/b,2024-01-02,https://x.example/b.png\nC,https://x.example/c,2024-01-03,https://x.example/c.png',
      );
      assert.deepEqual(matchHeader('article', columns, samples).mapping, {
        title: { from: 'title', confidence: 1, how: 'alias' },
        url: { from: 'where', confidence: 0.85, how: 'values' },
        publishedAt: { from: 'day', confidence: 0.85, how: 'values' },
      });
      assert.equal(matchHeader('article', ['date', 'updated']).mapping.publishedAt?.from, 'date');
    });

    it('takes samples through resolveMapping, collected by sampleValues', () => {
      const rows = [
        { name: 'BTC', p: '1' },
        { name: 'ETH', p: '2' },
        { name: 'SOL', p: '3' },
        { name: 'XRP', p: '4' },
      ];
      assert.deepEqual(sampleValues(rows, 3), { name: ['BTC', 'ETH', 'SOL'], p: ['1', '2', '3'] });
      const { mapping } = resolveMapping({
        kind: 'asset',
        columns: ['name', 'p'],
        samples: sampleValues(rows),
        configured: {},
        renames: {},
      });
      assert.deepEqual(
        [mapping.symbol?.how, mapping.sourceKey?.how, mapping.sourceKey?.from],
        ['values', 'symbol', 'name'],
      );
    });

    it('maps the recorded real-world CSVs as their names say, the values only making it surer', function () {
      const dir = recorded('csv');
      if (!dir) return this.skip();
      const files = fs
        .readdirSync(dir)
        .filter((f) => f.startsWith('kasparro__') || f.startsWith('kaggle-') || f.startsWith('coingecko_'));
      assert.ok(files.length >= 10);
      for (const file of files) {
        const rows: Record<string, string>[] = parse(fs.readFileSync(path.join(dir, file), 'utf8'), {
          columns: true,
          bom: true,
          trim: true,
          relax_column_count: true,
        });
        const columns = Object.keys(rows[0]!);
        const byName = matchHeader('asset', columns).mapping;
        const byValues = matchHeader('asset', columns, sampleValues(rows)).mapping;
        assert.deepEqual(from(byValues), from(byName), file);
        for (const [field, source] of Object.entries(byValues))
          assert.ok(source.confidence >= byName[field as UnifiedField]!.confidence, `${file}: ${field}`);
      }
    });

    it('tells the symbol, id and name columns of the recorded CoinGecko and CoinPaprika payloads apart by their values', function () {
      if (!recorded()) return this.skip();
      for (const file of [
        'coingecko/coins_list__ALEXA8596-CoinGecko-Price-Bots.json',
        'coingecko/coins_markets_1y__rciminera-Crypto-Pricing.json',
        'coinpaprika/tickers-default__maikelmclauflin-coinpaprika-api-grpc.json',
      ]) {
        const coins: Record<string, unknown>[] = JSON.parse(fs.readFileSync(path.join(fixtures, file), 'utf8')).slice(
          0,
          1000,
        );
        const column = (key: string) => ({ x: coins.map((c) => c[key]) });
        assert.deepEqual(
          matchHeader('asset', ['x'], column('symbol')).mapping.symbol?.how,
          'values',
          `${file} symbols`,
        );
        assert.equal(matchHeader('asset', ['x'], column('id')).mapping.symbol, undefined, `${file} ids`);
        assert.equal(matchHeader('asset', ['x'], column('name')).mapping.symbol, undefined, `${file} names`);
        assert.equal(
          matchHeader('asset', ['name'], column('name')).mapping.name?.how,
          'alias',
          `${file} names stay names`,
        );
      }
    });
  });

  describe('looksLikeTicker', () => {
    it('accepts tickers as sources write them, and refuses product names, numbers, dates and placeholders', () => {
      for (const t of [
        'BTC',
        'ETH',
        'USDT',
        '1INCH',
        'BTC.B',
        'USDC.E',
        'btc',
        'stETH',
        'cbETH',
        'sUSD',
        'wBTC',
        '0xBTC',
        '币安人生',
        '₿',
        '$WIF',
        'V',
        '1337',
        ' eth ',
      ]) {
        assert.ok(looksLikeTicker(t), t);
      }
      for (const t of [
        'Mechanical Keyboard',
        'usb hub',
        'Logitech MX Keys',
        'USB-C Hub 7-in-1',
        'MechanicalKeyboard',
        '43250.50',
        '-1',
        '2024-01-15',
        'https://x.example',
        '',
        '  ',
        '-',
        'x'.repeat(41),
      ]) {
        assert.ok(!looksLikeTicker(t), t);
      }
    });

    it('accepts every symbol of the recorded CoinGecko and CoinPaprika payloads but the empty ones and the few with spaces', function () {
      if (!recorded()) return this.skip();
      const files = [
        'coingecko/coins_list__ALEXA8596-CoinGecko-Price-Bots.json',
        'coingecko/coins_markets_1y__rciminera-Crypto-Pricing.json',
        'coingecko/coins_markets__gusgoros-API_DOCKER_PGADMIN.json',
        'coinpaprika/coins__maikelmclauflin-coinpaprika-api-grpc.json',
        'coinpaprika/tickers-default__maikelmclauflin-coinpaprika-api-grpc.json',
      ];
      const symbols = files.flatMap((file) =>
        (JSON.parse(fs.readFileSync(path.join(fixtures, file), 'utf8')) as { symbol: string }[]).map((c) => c.symbol),
      );
      const refused = symbols.filter((s) => !looksLikeTicker(s));
      assert.equal(symbols.length, 19_353);
      // CoinGecko lists a few multi-word meme coins ("baby pepe"), spelled like a lower-cased product name ("usb hub"):
      // telling them apart is beyond a value's shape, so spaces stay evidence against a ticker
      assert.deepEqual(
        [refused.filter((s) => s === '').length, refused.filter((s) => /\S\s+\S/.test(s)).length, refused.length],
        [4, 39, 43],
      );
      // and the symbols of the recorded CSVs (an empty one is a missing symbol, refused as such)
      for (const file of fs
        .readdirSync(path.join(fixtures, 'csv'))
        .filter((f) => f.startsWith('kasparro__') || f.startsWith('coingecko_'))) {
        const rows: Record<string, string>[] = parse(fs.readFileSync(path.join(fixtures, 'csv', file), 'utf8'), {
          columns: true,
          bom: true,
          trim: true,
          relax_column_count: true,
        });
        const key = Object.keys(rows[0]!).find((c) => /^(symbol|ticker)$/i.test(c));
        if (key)
          assert.deepEqual(
            rows.map((r) => r[key]!).filter((s) => s !== '' && !looksLikeTicker(s)),
            [],
            file,
          );
      }
    });
  });
});
