// CoinPaprika /v1/tickers: one JSON array of every ticker, quotes nested under quotes.USD.
import { readJsonArray } from './json.ts';
import { openLocation } from './transport.ts';
import type { SourceAdapter } from './types.ts';

export const coinpaprikaSource: SourceAdapter = {
  recordKind: 'asset',
  fieldMap: {
    sourceKey: 'id',
    symbol: 'symbol',
    name: 'name',
    rank: 'rank',
    priceUsd: 'quotes.USD.price',
    marketCapUsd: 'quotes.USD.market_cap',
    volume24hUsd: 'quotes.USD.volume_24h',
    circulatingSupply: 'circulating_supply',
    totalSupply: 'total_supply',
    maxSupply: 'max_supply',
    percentChange24h: 'quotes.USD.percent_change_24h',
    sourceUpdatedAt: 'last_updated',
  },

  async *fetch(source, context) {
    yield await openLocation(source, context, ['application/json']);
  },

  read: (document) => readJsonArray(document),

  // In /v1/tickers and /v1/coins, 0 is how CoinPaprika says "unknown": inactive coins have rank 0, coins
  // without a cap max_supply 0, coins whose supply it has not verified circulating and total supply 0 and so
  // market cap 0 beside a real price. Read as values, they would claim a rank, cap or market cap of nothing.
  sentinels: { rank: [0], maxSupply: [0], circulatingSupply: [0], totalSupply: [0], marketCapUsd: [0] },
};
