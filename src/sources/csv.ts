// CSV files of asset quotes: streamed through csv-parse, header names mapped onto the unified schema.
import { parse } from 'csv-parse';
import type { Readable } from 'node:stream';
import type { SourceConfig } from './config.ts';
import { openLocation } from './transport.ts';
import type { FetchContext, FetchedDocument, RawRecord, SourceAdapter } from './types.ts';

// Header spellings seen in real exports (CoinGecko, CoinPaprika, CoinMarketCap, pandas), compared after
// lower-casing and dropping everything but letters and digits.
const HEADER_ALIASES: Record<string, string[]> = {
  sourceKey: ['id', 'coinid', 'assetid', 'slug'],
  symbol: ['symbol', 'ticker'],
  name: ['name', 'coin', 'coinname', 'asset', 'assetname'],
  rank: ['rank', 'marketcaprank', 'cmcrank'],
  priceUsd: ['priceusd', 'usdprice', 'price', 'currentprice', 'lastprice'],
  marketCapUsd: ['marketcapusd', 'marketcap', 'mcap'],
  volume24hUsd: ['volume24husd', 'volume24h', 'totalvolume', 'volume'],
  circulatingSupply: ['circulatingsupply'],
  totalSupply: ['totalsupply'],
  maxSupply: ['maxsupply'],
  percentChange24h: ['percentchange24h', 'pricechangepercentage24h', 'change24h'],
  sourceUpdatedAt: ['lastupdated', 'updatedat', 'timestamp'],
};

const fieldByAlias = new Map(Object.entries(HEADER_ALIASES).flatMap(([field, aliases]) => aliases.map((a) => [a, field] as const)));

export const csvSource: SourceAdapter = {
  recordKind: 'asset',

  async *fetch(source: SourceConfig, context: FetchContext): AsyncIterable<FetchedDocument> {
    yield await openLocation(source, context, 'text/csv');
  },

  async *read(document: Readable, source: SourceConfig): AsyncIterable<RawRecord> {
    const parser = document.pipe(
      parse({
        bom: true,
        delimiter: source.csv.delimiter ?? [',', ';', '\t'],
        comment: '#',
        comment_no_infix: true,
        skip_empty_lines: true,
        relax_column_count: true,
        trim: true,
      }),
    );
    let header: string[] | undefined;
    let mapping: (string | undefined)[] = [];
    for await (const row of parser as AsyncIterable<string[]>) {
      if (!header) {
        header = row.map((name, i) => name || `column_${i + 1}`);
        mapping = header.map((name) => fieldByAlias.get(name.toLowerCase().replace(/[^a-z0-9]/g, '')));
        continue;
      }
      const fields: Record<string, unknown> = {};
      const candidate: Record<string, unknown> = {};
      row.forEach((value, i) => {
        fields[header![i] ?? `column_${i + 1}`] = value;
        const field = mapping[i];
        if (field && !(field in candidate)) candidate[field] = value;
      });
      // a file without an id column is keyed by its symbols
      if (candidate.sourceKey === undefined && typeof candidate.symbol === 'string') {
        candidate.sourceKey = candidate.symbol.trim().toUpperCase();
      }
      yield { fields, candidate };
    }
  },
};
