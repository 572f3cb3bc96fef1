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

  it('store raw pages with lz4 where the server has it, and the pages read back byte for byte', async () => {
    const { rows: supported } = await db.pool.query<{ lz4: boolean }>(
      "SELECT 'lz4' = ANY(enumvals) AS lz4 FROM pg_settings WHERE name = 'default_toast_compression'",
    );
    const { rows } = await db.pool.query<{ method: string }>(
      "SELECT attcompression AS method FROM pg_attribute WHERE attrelid = 'raw_page'::regclass AND attname = 'body'",
    );
    assert.equal(rows[0]!.method, supported[0]!.lz4 ? 'l' : '');
    if (!supported[0]!.lz4) return;
    // a page TOAST compresses: what is stored is lz4, and what is read is what was written
    const body = Buffer.from('id,symbol,price\n'.repeat(20_000));
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      const { rows: payload } = await client.query<{ id: string }>(
        "INSERT INTO raw_payload (run_id, source_id, url) VALUES (0, 'lz4-check', 'file:///lz4') RETURNING id",
      );
      await client.query("INSERT INTO raw_page (payload_id, seq, document, hash, body) VALUES ($1, 0, 0, 'x', $2)", [
        payload[0]!.id,
        body,
      ]);
      const { rows: stored } = await client.query<{ method: string; body: Buffer }>(
        'SELECT pg_column_compression(body) AS method, body FROM raw_page WHERE payload_id = $1',
        [payload[0]!.id],
      );
      assert.equal(stored[0]!.method, 'lz4');
      assert.ok(stored[0]!.body.equals(body));
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });

  it('produce exactly the schema the entities describe (no migration is missing)', async () => {
    const drift = await db.orm.migrator.checkSchema();
    assert.equal(drift, false, 'entities changed without a migration: run npm run migration:create');
  });
});
