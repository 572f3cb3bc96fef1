import { Migration } from '@mikro-orm/migrations';

export class Migration20261202044144_field_issues extends Migration {
  override name = 'Migration20261202044144_field_issues';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "field_issue" ("id" bigserial primary key, "run_id" bigint not null, "source_id" text not null, "raw_payload_id" bigint not null, "raw_position" int not null, "source_key" text not null, "field" text not null, "value" text not null, "reason" text not null, "created_at" timestamptz not null default now());`,
    );
    this.addSql(
      `create index "field_issue_run_id_source_id_raw_position_index" on "field_issue" ("run_id", "source_id", "raw_position");`,
    );
    this.addSql(
      `create index "field_issue_source_id_source_key_id_index" on "field_issue" ("source_id", "source_key", "id");`,
    );

    this.addSql(
      `alter table "run_source" add "field_issues" int not null default 0, add "warnings" jsonb not null default '[]';`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "field_issue" cascade;`);

    this.addSql(`alter table "run_source" drop column "field_issues", drop column "warnings";`);
  }
}
