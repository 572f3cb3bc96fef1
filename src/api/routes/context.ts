// What every route module gets.
import type { Database } from '../../db/orm.ts';
import type { Settings } from '../../settings.ts';
import type { ApiMetrics } from '../metrics.ts';
import type { Links } from '../serialize.ts';
import type { TemporalGateway } from '../temporal.ts';

export interface Context {
  db: Database;
  temporal: TemporalGateway;
  settings: Settings;
  links: Links;
  metrics: ApiMetrics;
}
