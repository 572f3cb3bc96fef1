import assert from 'node:assert/strict';
import type { Database } from '../../src/db/orm.ts';
import { migrations } from '../../src/db/migrations/index.ts';
import { testDatabase } from '../helpers.ts';

describe('database migrations (real PostgreSQL)', () => {
  let db: Database;
  before(async () => (db = await testDatabase()));
  after(() => db.close());

  it('are all applied by the test setup, in order', async () => {
    const { rows } = await db.pool.query<{ name: string }>('SELECT name FROM mikro_orm_migrations ORDER BY id');
    assert.deepEqual(
      rows.map((r) => r.name),
      migrations.map((m) => m.name),
    );
  });

  it('produce exactly the schema the entities describe (no migration is missing)', async () => {
    const drift = await db.orm.migrator.checkSchema();
    assert.equal(drift, false, 'entities changed without a migration: run npm run migration:create');
  });
});
