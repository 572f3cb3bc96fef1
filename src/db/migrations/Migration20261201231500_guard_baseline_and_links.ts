import { Migration } from '@mikro-orm/migrations';

export class Migration20261201231500_guard_baseline_and_links extends Migration {
  override name = 'Migration20261201231500_guard_baseline_and_links';

  override up(): void | Promise<void> {
    this.addSql(`alter table "run_source" add "live_after" int null;`);
    this.addSql(
      `alter table "source_state" add "shrink_approved_at" timestamptz null, add "baseline_since" timestamptz null;`,
    );
    // links without foreign-key checks (src/db/entities.ts says why)
    this.addSql(`alter table "entity_link" drop constraint "entity_link_record_id_foreign";`);
    this.addSql(`alter table "entity_link" drop constraint "entity_link_entity_id_foreign";`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "run_source" drop column "live_after";`);
    this.addSql(`alter table "source_state" drop column "shrink_approved_at", drop column "baseline_since";`);
    this.addSql(
      `alter table "entity_link" add constraint "entity_link_record_id_foreign" foreign key ("record_id") references "record" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "entity_link" add constraint "entity_link_entity_id_foreign" foreign key ("entity_id") references "entity" ("id") on delete cascade;`,
    );
  }
}
