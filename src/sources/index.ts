import type { SourceConfig, SourceKind } from './config.ts';
import { csvSource } from './csv.ts';
import type { SourceAdapter } from './types.ts';

const adapters: Record<SourceKind, SourceAdapter> = {
  csv: csvSource,
};

export function adapterFor(source: SourceConfig): SourceAdapter {
  return adapters[source.kind];
}
