import { Migration } from '@mikro-orm/migrations';

export class Migration20261122105755_identity_watermark extends Migration {
  override name = 'Migration20261122105755_identity_watermark';

  override up(): void | Promise<void> {
    this.addSql(
      `alter table "source_state" add "resolved_payload_id" bigint null, add "resolved_at" timestamptz null;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "source_state" drop column "resolved_payload_id", drop column "resolved_at";`);
  }
}
