// Opens PostgreSQL through MikroORM (entities, migrations, ordinary queries) and hands out the
// underlying pg.Pool for the bulk paths (COPY, merge) that MikroORM's unit of work would make ~5x slower.
import { MikroORM, defineConfig, type EntityManager } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import type { Pool } from 'pg';
import path from 'node:path';
import { entities } from './entities.ts';
import { migrations } from './migrations/index.ts';
import { projectRoot } from '../settings.ts';

export const migrationsPath = path.join(projectRoot, 'src', 'db', 'migrations');

export interface Database {
  orm: MikroORM;
  pool: Pool;
  /** A fresh EntityManager for one unit of work (activity, request). */
  em(): EntityManager;
  close(): Promise<void>;
}

export function ormConfig(databaseUrl: string, poolMax = 10) {
  return defineConfig({
    clientUrl: databaseUrl,
    entities,
    extensions: [Migrator],
    pool: { min: 0, max: poolMax },
    // numeric columns stay strings end to end: money is never a float
    forceUtcTimezone: true,
    migrations: { path: migrationsPath, migrationsList: migrations, snapshot: false, emit: 'ts', silent: true },
  });
}

export async function openDatabase(databaseUrl: string, options: { poolMax?: number } = {}): Promise<Database> {
  const orm = await MikroORM.init(ormConfig(databaseUrl, options.poolMax));
  const pool = await orm.em.getConnection().getNativeClient();
  return {
    orm,
    pool,
    em: () => orm.em.fork(),
    close: () => orm.close(true),
  };
}

/** Applies every committed migration that has not run yet; returns their names. */
export async function migrate(db: Database): Promise<string[]> {
  const applied = await db.orm.migrator.up();
  return applied.map((m) => m.name);
}
