import { Migration } from '@mikro-orm/migrations';

export class Migration20261122100535_initial extends Migration {
  override name = 'Migration20261122100535_initial';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "record" ("id" bigserial primary key, "kind" text not null, "source_id" text not null, "source_key" text not null, "symbol" text null, "name" text null, "rank" int null, "price_usd" numeric null, "market_cap_usd" numeric null, "volume_24h_usd" numeric null, "circulating_supply" numeric null, "total_supply" numeric null, "max_supply" numeric null, "percent_change_24h" numeric null, "title" text null, "url" text null, "summary" text null, "author" text null, "published_at" timestamptz null, "source_updated_at" timestamptz null, "match_key" text null, "content_hash" text not null, "raw_payload_id" bigint not null, "raw_position" int not null, "run_id" bigint not null, "first_run_id" bigint not null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), "deleted_at" timestamptz null, "deleted_run_id" bigint null);`,
    );
    this.addSql(`create index "record_source_id_id_index" on "record" ("source_id", "id");`);
    this.addSql(`create index "record_symbol_id_index" on "record" ("symbol", "id");`);
    this.addSql(`create index "record_match_key_index" on "record" ("match_key");`);
    this.addSql(`create index "record_updated_at_id_index" on "record" ("updated_at", "id");`);
    this.addSql(
      `alter table "record" add constraint "record_source_id_source_key_unique" unique ("source_id", "source_key");`,
    );
    this.addSql(`alter table "record" add constraint "record_kind_check" check ("kind" in ('asset', 'article'));`);

    this.addSql(
      `create table "drift_event" ("id" bigserial primary key, "run_id" bigint not null, "source_id" text not null, "change" text not null, "field" text not null, "previous_field" text null, "previous_type" text null, "current_type" text null, "confidence" double precision null, "action" text not null, "created_at" timestamptz not null default now());`,
    );
    this.addSql(`create index "drift_event_source_id_id_index" on "drift_event" ("source_id", "id");`);
    this.addSql(`create index "drift_event_run_id_index" on "drift_event" ("run_id");`);
    this.addSql(
      `alter table "drift_event" add constraint "drift_event_change_check" check ("change" in ('added', 'removed', 'type_changed', 'renamed'));`,
    );
    this.addSql(
      `alter table "drift_event" add constraint "drift_event_action_check" check ("action" in ('applied', 'reported', 'quarantined'));`,
    );

    this.addSql(
      `create table "entity" ("id" bigserial primary key, "kind" text not null, "seed_record_id" bigint not null, "symbol" text null, "name" text null, "title" text null, "url" text null, "created_at" timestamptz not null default now());`,
    );
    this.addSql(`create index "entity_kind_id_index" on "entity" ("kind", "id");`);
    this.addSql(`create index "entity_symbol_index" on "entity" ("symbol");`);
    this.addSql(`alter table "entity" add constraint "entity_kind_check" check ("kind" in ('asset', 'article'));`);

    this.addSql(
      `create table "entity_link" ("record_id" bigint not null, "entity_id" bigint not null, "rule" text not null, "confidence" double precision not null, "evidence" jsonb not null, "run_id" bigint not null, "linked_at" timestamptz not null default now(), primary key ("record_id"));`,
    );
    this.addSql(`create index "entity_link_entity_id_index" on "entity_link" ("entity_id");`);

    this.addSql(
      `create table "entity_override" ("id" bigserial primary key, "kind" text not null, "action" text not null, "left_source_id" text not null, "left_source_key" text not null, "right_source_id" text not null, "right_source_key" text not null, "reason" text null, "created_at" timestamptz not null default now());`,
    );
    this.addSql(
      `alter table "entity_override" add constraint "entity_override_kind_left_source_id_left_source_k_25856_unique" unique ("kind", "left_source_id", "left_source_key", "right_source_id", "right_source_key");`,
    );
    this.addSql(
      `alter table "entity_override" add constraint "entity_override_kind_check" check ("kind" in ('asset', 'article'));`,
    );
    this.addSql(
      `alter table "entity_override" add constraint "entity_override_action_check" check ("action" in ('force', 'forbid'));`,
    );

    this.addSql(
      `create table "quarantine" ("id" bigserial primary key, "run_id" bigint not null, "source_id" text not null, "raw_payload_id" bigint not null, "raw_position" int not null, "source_key" text null, "reason" text not null, "fields" jsonb not null, "created_at" timestamptz not null default now());`,
    );
    this.addSql(
      `create index "quarantine_source_id_source_key_id_index" on "quarantine" ("source_id", "source_key", "id");`,
    );
    this.addSql(
      `alter table "quarantine" add constraint "quarantine_run_id_source_id_raw_position_unique" unique ("run_id", "source_id", "raw_position");`,
    );

    this.addSql(
      `create table "rate_limit_bucket" ("key" text not null, "tokens" double precision not null, "refilled_at" timestamptz not null default clock_timestamp(), primary key ("key"));`,
    );

    this.addSql(
      `create table "raw_payload" ("id" bigserial primary key, "run_id" bigint not null, "source_id" text not null, "status" text not null default 'landing', "url" text not null, "fetched_at" timestamptz not null default now(), "http_status" int null, "content_type" text null, "etag" text null, "last_modified" text null, "content_hash" text null, "size_bytes" bigint not null default '0', "page_count" int not null default 0, "same_as_payload_id" bigint null, "landed_documents" int not null default 0, "incomplete_reason" text null, "stored_at" timestamptz null);`,
    );
    this.addSql(`create index "raw_payload_source_id_id_index" on "raw_payload" ("source_id", "id");`);
    this.addSql(
      `alter table "raw_payload" add constraint "raw_payload_run_id_source_id_unique" unique ("run_id", "source_id");`,
    );
    this.addSql(
      `alter table "raw_payload" add constraint "raw_payload_status_check" check ("status" in ('landing', 'stored', 'unchanged', 'not_modified'));`,
    );

    this.addSql(
      `create table "raw_page" ("payload_id" bigint not null, "seq" int not null, "document" int not null, "hash" text not null, "body" bytea not null, primary key ("payload_id", "seq"));`,
    );

    this.addSql(
      `create table "run" ("id" bigserial primary key, "workflow_id" text not null, "temporal_run_id" text not null, "status" text not null default 'running', "started_at" timestamptz not null default now(), "finished_at" timestamptz null, "error" text null);`,
    );
    this.addSql(`alter table "run" add constraint "run_workflow_id_unique" unique ("workflow_id");`);
    this.addSql(
      `alter table "run" add constraint "run_status_check" check ("status" in ('running', 'succeeded', 'partial', 'failed'));`,
    );

    this.addSql(
      `create table "run_anomaly" ("id" bigserial primary key, "run_id" bigint not null, "source_id" text null, "rule" text not null, "message" text not null, "current" double precision null, "reference" double precision null, "created_at" timestamptz not null default now());`,
    );
    this.addSql(`create index "run_anomaly_run_id_index" on "run_anomaly" ("run_id");`);
    this.addSql(`create index "run_anomaly_rule_id_index" on "run_anomaly" ("rule", "id");`);
    this.addSql(
      `alter table "run_anomaly" add constraint "run_anomaly_rule_check" check ("rule" in ('run_failed', 'source_failed', 'record_count_change', 'duration_spike', 'quarantine_spike'));`,
    );

    this.addSql(
      `create table "run_source" ("run_id" bigint not null, "source_id" text not null, "status" text not null default 'running', "started_at" timestamptz not null default now(), "finished_at" timestamptz null, "payload_id" bigint null, "bytes" bigint not null default '0', "pages" int not null default 0, "parsed" int not null default 0, "staged" int not null default 0, "quarantined" int not null default 0, "duplicates" int not null default 0, "inserted" int not null default 0, "updated" int not null default 0, "unchanged" int not null default 0, "restored" int not null default 0, "soft_deleted" int not null default 0, "delete_guard" text null, "drift_events" int not null default 0, "entities_linked" int not null default 0, "entities_created" int not null default 0, "observed_schema" jsonb null, "field_mapping" jsonb null, "error" text null, "merged_in_run" text null, "orphans_checked_in_run" text null, "attempts" jsonb not null default '{}', "errors" jsonb not null default '[]', primary key ("run_id", "source_id"));`,
    );
    this.addSql(`create index "run_source_source_id_run_id_index" on "run_source" ("source_id", "run_id");`);
    this.addSql(
      `alter table "run_source" add constraint "run_source_status_check" check ("status" in ('running', 'succeeded', 'unchanged', 'failed'));`,
    );

    this.addSql(
      `create table "source_state" ("source_id" text not null, "kind" text not null, "last_payload_id" bigint null, "content_hash" text null, "etag" text null, "last_modified" text null, "last_run_id" bigint null, "field_renames" jsonb not null default '{}', "updated_at" timestamptz not null default now(), primary key ("source_id"));`,
    );

    this.addSql(
      `create table "stage_record" ("run_id" bigint not null, "source_id" text not null, "position" int not null, "kind" text not null, "source_key" text not null, "symbol" text null, "name" text null, "rank" int null, "price_usd" numeric null, "market_cap_usd" numeric null, "volume_24h_usd" numeric null, "circulating_supply" numeric null, "total_supply" numeric null, "max_supply" numeric null, "percent_change_24h" numeric null, "title" text null, "url" text null, "summary" text null, "author" text null, "published_at" timestamptz null, "source_updated_at" timestamptz null, "match_key" text null, "content_hash" text not null, "raw_payload_id" bigint not null, "raw_position" int not null, primary key ("run_id", "source_id", "position"));`,
    );
    this.addSql(
      `alter table "stage_record" add constraint "stage_record_kind_check" check ("kind" in ('asset', 'article'));`,
    );

    this.addSql(
      `alter table "entity_link" add constraint "entity_link_record_id_foreign" foreign key ("record_id") references "record" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "entity_link" add constraint "entity_link_entity_id_foreign" foreign key ("entity_id") references "entity" ("id") on delete cascade;`,
    );

    this.addSql(
      `alter table "raw_page" add constraint "raw_page_payload_id_foreign" foreign key ("payload_id") references "raw_payload" ("id") on delete cascade;`,
    );

    this.addSql(
      `alter table "run_anomaly" add constraint "run_anomaly_run_id_foreign" foreign key ("run_id") references "run" ("id") on delete cascade;`,
    );

    this.addSql(
      `alter table "run_source" add constraint "run_source_run_id_foreign" foreign key ("run_id") references "run" ("id") on delete cascade;`,
    );
  }
}
