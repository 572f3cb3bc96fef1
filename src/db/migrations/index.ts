// Every committed migration, in order. `npm run migration:create` regenerates this list.
import type { Migration } from '@mikro-orm/migrations';
import { Migration20261122100535_initial } from './Migration20261122100535_initial.ts';
import { Migration20261122105755_identity_watermark } from './Migration20261122105755_identity_watermark.ts';
import { Migration20261201204851_time_series } from './Migration20261201204851_time_series.ts';
import { Migration20261201223000_unlogged_staging } from './Migration20261201223000_unlogged_staging.ts';
import { Migration20261201231500_guard_baseline_and_links } from './Migration20261201231500_guard_baseline_and_links.ts';
import { Migration20261202010000_entity_live_sources } from './Migration20261202010000_entity_live_sources.ts';
import { Migration20261202044144_field_issues } from './Migration20261202044144_field_issues.ts';
import { Migration20261202123807_operator } from './Migration20261202123807_operator.ts';
import { Migration20261203071000_raw_page_lz4 } from './Migration20261203071000_raw_page_lz4.ts';
import { Migration20261203110000_normalize_plan } from './Migration20261203110000_normalize_plan.ts';
import { Migration20261203150000_quarantine_position_deferrable } from './Migration20261203150000_quarantine_position_deferrable.ts';
import { Migration20261203160000_run_original_run_id } from './Migration20261203160000_run_original_run_id.ts';

type MigrationClass = new (...args: ConstructorParameters<typeof Migration>) => Migration;
export const migrations: { name: string; class: MigrationClass }[] = [
  { name: 'Migration20261122100535_initial', class: Migration20261122100535_initial },
  { name: 'Migration20261122105755_identity_watermark', class: Migration20261122105755_identity_watermark },
  { name: 'Migration20261201204851_time_series', class: Migration20261201204851_time_series },
  { name: 'Migration20261201223000_unlogged_staging', class: Migration20261201223000_unlogged_staging },
  { name: 'Migration20261201231500_guard_baseline_and_links', class: Migration20261201231500_guard_baseline_and_links },
  { name: 'Migration20261202010000_entity_live_sources', class: Migration20261202010000_entity_live_sources },
  { name: 'Migration20261202044144_field_issues', class: Migration20261202044144_field_issues },
  { name: 'Migration20261202123807_operator', class: Migration20261202123807_operator },
  { name: 'Migration20261203071000_raw_page_lz4', class: Migration20261203071000_raw_page_lz4 },
  { name: 'Migration20261203110000_normalize_plan', class: Migration20261203110000_normalize_plan },
  {
    name: 'Migration20261203150000_quarantine_position_deferrable',
    class: Migration20261203150000_quarantine_position_deferrable,
  },
  { name: 'Migration20261203160000_run_original_run_id', class: Migration20261203160000_run_original_run_id },
];
