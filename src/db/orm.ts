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

export function ormConfig(
  databaseUrl: string,
  poolMax = 10,
  sessionSettings: string[] = [],
  acquireTimeoutMs = 30_000,
) {
  return defineConfig({
    clientUrl: databaseUrl,
    driverOptions: {
      // server settings for every session of the pool, sent at connect (libpq's `options`)
      ...(sessionSettings.length ? { options: sessionSettings.map((s) => `-c ${s}`).join(' ') } : {}),
      // pg-pool waits forever for a free connection by default: a leak or a stuck holder would hang attempts
      // that still heartbeat, so they look alive; past this the wait fails and the attempt is retried
      connectionTimeoutMillis: acquireTimeoutMs,
    },
    entities,
    extensions: [Migrator],
    pool: { min: 0, max: poolMax },
    // numeric columns stay strings end to end: money is never a float
    forceUtcTimezone: true,
    migrations: { path: migrationsPath, migrationsList: migrations, snapshot: false, emit: 'ts', silent: true },
  });
}

export interface SessionOptions {
  poolMax?: number;
  /** How long a checkout waits for a free connection before it fails. */
  acquireTimeoutMs?: number;
  /** statement_timeout of every session: the API's, so no request runs long. */
  statementTimeoutMs?: number;
  /**
   * PostgreSQL's JIT compiles a query whose estimated cost is high: tens of milliseconds, every time, for the
   * API's short reads over large tables (a year of quotes across a dozen partitions). Off for the API.
   */
  jit?: boolean;
}

export async function openDatabase(databaseUrl: string, options: SessionOptions = {}): Promise<Database> {
  const settings = [
    ...(options.statementTimeoutMs ? [`statement_timeout=${Math.round(options.statementTimeoutMs)}`] : []),
    ...(options.jit === false ? ['jit=off'] : []),
  ];
  const orm = await MikroORM.init(ormConfig(databaseUrl, options.poolMax, settings, options.acquireTimeoutMs));
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
