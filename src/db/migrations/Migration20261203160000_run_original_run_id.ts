import { Migration } from '@mikro-orm/migrations';

// A run row is one workflow execution: keyed by workflow id and the run id the execution started with (which
// a reset keeps), no longer by workflow id alone, so a second execution under the same id (two schedule
// triggers in one second) no longer takes over the first one's row. A row from before knows only its latest
// run id, which stands in.
export class Migration20261203160000_run_original_run_id extends Migration {
  override name = 'Migration20261203160000_run_original_run_id';

  override up(): void | Promise<void> {
    this.addSql(`alter table "run" add column "original_run_id" text null;`);
    this.addSql(`update "run" set "original_run_id" = "temporal_run_id";`);
    this.addSql(`alter table "run" alter column "original_run_id" set not null;`);
    this.addSql(`alter table "run" drop constraint "run_workflow_id_unique";`);
    this.addSql(
      `alter table "run" add constraint "run_workflow_id_original_run_id_unique" unique ("workflow_id", "original_run_id");`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "run" drop constraint "run_workflow_id_original_run_id_unique";`);
    this.addSql(`alter table "run" add constraint "run_workflow_id_unique" unique ("workflow_id");`);
    this.addSql(`alter table "run" drop column "original_run_id";`);
  }
}
