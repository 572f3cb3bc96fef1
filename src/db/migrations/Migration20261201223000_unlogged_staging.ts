import { Migration } from '@mikro-orm/migrations';

// stage_record holds a run's normalized rows until its merge: writing them to the WAL too doubled their cost.
// A crash of PostgreSQL empties an unlogged table; normalize and the merge check their staged counts and
// start over, or fail the source so the next run ingests the payload again (src/db/stage.ts).
export class Migration20261201223000_unlogged_staging extends Migration {
  override name = 'Migration20261201223000_unlogged_staging';

  override up(): void | Promise<void> {
    this.addSql(`alter table "stage_record" set unlogged;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "stage_record" set logged;`);
  }
}
