import { coingeckoSource } from './coingecko.ts';
import { coinpaprikaSource } from './coinpaprika.ts';
import type { SourceConfig, SourceKind } from './config.ts';
import { csvSource } from './csv.ts';
import { rssSource } from './rss.ts';
import type { SourceAdapter } from './types.ts';

const adapters: Record<SourceKind, SourceAdapter> = {
  coinpaprika: coinpaprikaSource,
  coingecko: coingeckoSource,
  csv: csvSource,
  rss: rssSource,
};

export function adapterFor(source: SourceConfig): SourceAdapter {
  return adapters[source.kind];
}
