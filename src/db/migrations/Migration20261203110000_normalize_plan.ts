import { Migration } from '@mikro-orm/migrations';

// A payload normalized in parts keeps its plan (the parts, the decided mapping) on its run_source row, for the
// parts' activities on any worker and for the merge, which shifts the parts' positions into the payload's.
export class Migration20261203110000_normalize_plan extends Migration {
  override name = 'Migration20261203110000_normalize_plan';

  override up(): void | Promise<void> {
    this.addSql(`alter table "run_source" add column "normalize_plan" jsonb null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "run_source" drop column "normalize_plan";`);
  }
}
