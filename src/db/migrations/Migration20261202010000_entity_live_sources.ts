import { Migration } from '@mikro-orm/migrations';

export class Migration20261202010000_entity_live_sources extends Migration {
  override name = 'Migration20261202010000_entity_live_sources';

  override up(): void | Promise<void> {
    this.addSql(`alter table "entity" add "live_sources" int not null default 0;`);
    this.addSql(`update "entity" e set "live_sources" = c.n from (
      select l.entity_id, count(distinct r.source_id)::int as n from entity_link l join record r on r.id = l.record_id
      where r.deleted_at is null group by l.entity_id) c where e.id = c.entity_id;`);
    this.addSql(`create index "entity_live_sources_id_index" on "entity" ("live_sources", "id");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "entity_live_sources_id_index";`);
    this.addSql(`alter table "entity" drop column "live_sources";`);
  }
}
