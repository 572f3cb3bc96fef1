// CoinGecko /coins/markets: paged with per_page and page until a page comes back empty. Each page is
// its own document, so a long listing lands page by page and the payload keeps the pages apart.
import { Readable } from 'node:stream';
import { httpGet } from './http.ts';
import { readJsonArray } from './json.ts';
import { PermanentSourceError, type FetchedDocument, type SourceAdapter } from './types.ts';

export const coingeckoSource: SourceAdapter = {
  recordKind: 'asset',
  fieldMap: {
    sourceKey: 'id',
    symbol: 'symbol',
    name: 'name',
    rank: 'market_cap_rank',
    priceUsd: 'current_price',
    marketCapUsd: 'market_cap',
    volume24hUsd: 'total_volume',
    circulatingSupply: 'circulating_supply',
    totalSupply: 'total_supply',
    maxSupply: 'max_supply',
    percentChange24h: 'price_change_percentage_24h',
    sourceUpdatedAt: 'last_updated',
  },

  async *fetch(source, context): AsyncIterable<FetchedDocument> {
    if (source.location.type !== 'http')
      throw new PermanentSourceError(`source '${source.id}': coingecko needs an http(s) URL`);
    // a resumed fetch continues with the first page not landed yet
    for (let page = context.resumeAt.document + 1; page <= source.paging.maxPages; page++) {
      await context.throttle();
      const url = new URL(source.location.url);
      url.searchParams.set('per_page', String(source.paging.perPage));
      url.searchParams.set('page', String(page));
      // pages are small (≤ 250 coins): read one whole to see whether it is the empty one that ends the listing
      const response = await httpGet({
        source,
        url: url.toString(),
        accept: ['application/json'],
        signal: context.signal,
      });
      const chunks: Uint8Array[] = [];
      for await (const chunk of response.body) chunks.push(chunk);
      const body = Buffer.concat(chunks);
      if (/^\s*\[\s*\]\s*$/.test(body.toString('utf8'))) return;
      yield { ...response, body: Readable.from([body]) };
    }
    context.markIncomplete(`stopped at max_pages ${source.paging.maxPages} before an empty page`);
  },

  read: (document) => readJsonArray(document),

  // CoinGecko writes null for what it does not know, except market cap and circulating supply: a coin whose
  // supply it has not verified has market_cap 0 (and market_cap_rank null) beside a real price.
  sentinels: { marketCapUsd: [0], circulatingSupply: [0] },
};
