// Generates the next migration from the difference between src/db/entities.ts and the committed
// migrations, using a throwaway embedded PostgreSQL, then rewrites src/db/migrations/index.ts.
//   npm run migration:create [-- name]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../src/logger.ts';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.ts';
import { migrate, migrationsPath, openDatabase } from '../src/db/orm.ts';

const log = createLogger('migration-create', 'warn');
const name = process.argv[2];
const pg = await startEmbeddedPostgres({
  dataDir: path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'etl-migrate-')), 'pg'),
  port: 40000 + Math.floor(Math.random() * 20000),
  persistent: false,
  log,
});
try {
  const db = await openDatabase(pg.url);
  try {
    const first = (await migrate(db)).length === 0 && listMigrations().length === 0;
    const result = await db.orm.migrator.create(migrationsPath, false, first, name);
    console.log(
      result.fileName ? `created ${result.fileName}` : 'entities and migrations already agree: nothing to create',
    );
  } finally {
    await db.close();
  }
} finally {
  await pg.stop();
}
writeIndex();

function listMigrations(): string[] {
  return fs
    .readdirSync(migrationsPath)
    .filter((f) => /^Migration\d+.*\.ts$/.test(f))
    .sort();
}

function writeIndex(): void {
  const files = listMigrations();
  const classes = files.map((f) => path.basename(f, '.ts'));
  const lines = [
    '// Every committed migration, in order. `npm run migration:create` regenerates this list.',
    "import type { Migration } from '@mikro-orm/migrations';",
    ...files.map((f, i) => `import { ${classes[i]} } from './${f}';`),
    '',
    'type MigrationClass = new (...args: any[]) => Migration;',
    'export const migrations: { name: string; class: MigrationClass }[] = [',
    ...classes.map((c) => `  { name: '${c}', class: ${c} },`),
    '];',
    '',
  ];
  fs.writeFileSync(path.join(migrationsPath, 'index.ts'), lines.join('\n'));
}
