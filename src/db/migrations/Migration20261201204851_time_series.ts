import { Migration } from '@mikro-orm/migrations';

export class Migration20261201204851_time_series extends Migration {
  override name = 'Migration20261201204851_time_series';

  // quote is partitioned by month on observed_at: MikroORM owns its columns and keys, the partitioning is
  // declared here by hand, and the partitions are created by the pipeline as data needs them (src/db/quotes.ts)
  override up(): void | Promise<void> {
    this.addSql(
      `create table "quote" ("record_id" bigint not null, "observed_at" timestamptz not null, "rank" int null, "price_usd" numeric null, "market_cap_usd" numeric null, "volume_24h_usd" numeric null, "circulating_supply" numeric null, "total_supply" numeric null, "max_supply" numeric null, "percent_change_24h" numeric null, "open_usd" numeric null, "high_usd" numeric null, "low_usd" numeric null, "run_id" bigint not null, "raw_payload_id" bigint not null, "raw_position" int not null, primary key ("record_id", "observed_at")) partition by range ("observed_at");`,
    );

    this.addSql(
      `create table "quote_daily" ("record_id" bigint not null, "day" date not null, "open_usd" numeric null, "high_usd" numeric null, "low_usd" numeric null, "close_usd" numeric null, "mean_usd" numeric null, "volume_24h_usd" numeric null, "market_cap_usd" numeric null, "observations" int not null, "first_at" timestamptz not null, "last_at" timestamptz not null, primary key ("record_id", "day"));`,
    );

    this.addSql(
      `create table "quote_horizon" ("id" int not null, "raw_from" timestamptz not null, primary key ("id"));`,
    );

    // a record written before observations existed shows its source timestamp, else when it was written
    this.addSql(
      `alter table "record" add "open_usd" numeric null, add "high_usd" numeric null, add "low_usd" numeric null, add "observed_at" timestamptz null;`,
    );
    this.addSql(`update "record" set "observed_at" = coalesce("source_updated_at", "updated_at");`);
    this.addSql(`alter table "record" alter column "observed_at" set not null;`);

    this.addSql(`alter table "run_anomaly" drop constraint "run_anomaly_rule_check";`);
    this.addSql(`alter table "run_anomaly" add "entity_id" bigint null, add "details" jsonb null;`);
    this.addSql(`create index "run_anomaly_entity_id_id_index" on "run_anomaly" ("entity_id", "id");`);
    this.addSql(
      `alter table "run_anomaly" add constraint "run_anomaly_rule_check" check ("rule" in ('run_failed', 'source_failed', 'record_count_change', 'duration_spike', 'quarantine_spike', 'price_divergence'));`,
    );

    this.addSql(
      `alter table "run_source" add "series" text null, add "quotes_appended" int not null default 0, add "quotes_revised" int not null default 0, add "quotes_rolled_up" int not null default 0;`,
    );
    this.addSql(
      `alter table "run_source" add constraint "run_source_series_check" check ("series" in ('snapshot', 'history'));`,
    );

    this.addSql(
      `alter table "stage_record" add "open_usd" numeric null, add "high_usd" numeric null, add "low_usd" numeric null, add "observed_at" timestamptz null;`,
    );
    this.addSql(`update "stage_record" set "observed_at" = coalesce("source_updated_at", now());`);
    this.addSql(`alter table "stage_record" alter column "observed_at" set not null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "quote" cascade;`);
    this.addSql(`drop table if exists "quote_daily" cascade;`);
    this.addSql(`drop table if exists "quote_horizon" cascade;`);

    this.addSql(
      `alter table "record" drop column "open_usd", drop column "high_usd", drop column "low_usd", drop column "observed_at";`,
    );

    this.addSql(`drop index "run_anomaly_entity_id_id_index";`);
    this.addSql(`alter table "run_anomaly" drop constraint "run_anomaly_rule_check";`);
    this.addSql(`alter table "run_anomaly" drop column "entity_id", drop column "details";`);
    this.addSql(
      `alter table "run_anomaly" add constraint "run_anomaly_rule_check" check ("rule" in ('run_failed', 'source_failed', 'record_count_change', 'duration_spike', 'quarantine_spike'));`,
    );

    this.addSql(`alter table "run_source" drop constraint "run_source_series_check";`);
    this.addSql(
      `alter table "run_source" drop column "series", drop column "quotes_appended", drop column "quotes_revised", drop column "quotes_rolled_up";`,
    );

    this.addSql(
      `alter table "stage_record" drop column "open_usd", drop column "high_usd", drop column "low_usd", drop column "observed_at";`,
    );
  }
}
