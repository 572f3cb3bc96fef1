import { Migration } from '@mikro-orm/migrations';

// The join of a payload normalized in parts moves its quarantined records down to the payload's positions.
// PostgreSQL checks a deferrable unique constraint at the end of each statement instead of row by row, so
// that takes one UPDATE, where the row-by-row check needed two (through negative positions, so that no row
// met one not moved yet).
export class Migration20261203150000_quarantine_position_deferrable extends Migration {
  override name = 'Migration20261203150000_quarantine_position_deferrable';

  override up(): void | Promise<void> {
    this.addSql(
      `alter table "quarantine" drop constraint "quarantine_run_id_source_id_raw_position_unique", add constraint "quarantine_run_id_source_id_raw_position_unique" unique ("run_id", "source_id", "raw_position") deferrable initially immediate;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(
      `alter table "quarantine" drop constraint "quarantine_run_id_source_id_raw_position_unique", add constraint "quarantine_run_id_source_id_raw_position_unique" unique ("run_id", "source_id", "raw_position");`,
    );
  }
}
