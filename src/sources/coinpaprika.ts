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

  adjust(candidate) {
    // CoinPaprika writes max_supply 0 for coins without a maximum; 0 would claim a supply cap of nothing
    if (candidate.maxSupply === '0' || candidate.maxSupply === 0) candidate.maxSupply = null;
  },
};
