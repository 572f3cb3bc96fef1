import { Migration } from '@mikro-orm/migrations';

export class Migration20261202123807_operator extends Migration {
  override name = 'Migration20261202123807_operator';

  override up(): void | Promise<void> {
    this.addSql(`alter table "entity_override" add "removed_at" timestamptz null;`);

    this.addSql(`alter table "run" add "reprocess_of" bigint null, add "dry_run" boolean not null default false;`);

    this.addSql(`alter table "run_source" drop constraint "run_source_status_check";`);
    this.addSql(
      `alter table "run_source" add constraint "run_source_status_check" check ("status" in ('running', 'succeeded', 'unchanged', 'superseded', 'failed'));`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "entity_override" drop column "removed_at";`);

    this.addSql(`alter table "run" drop column "reprocess_of", drop column "dry_run";`);

    this.addSql(`alter table "run_source" drop constraint "run_source_status_check";`);
    this.addSql(
      `alter table "run_source" add constraint "run_source_status_check" check ("status" in ('running', 'succeeded', 'unchanged', 'failed'));`,
    );
  }
}
