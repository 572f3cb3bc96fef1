// Reads behind the web console that no other endpoint answers: each source's recent runs in one query (the
// overview's sparklines) and entities found by symbol or name (the entity page's search box).
import type { Pool } from 'pg';

export interface SourceTrendRow {
  source_id: string;
  run_id: string;
  status: 'running' | 'succeeded' | 'unchanged' | 'superseded' | 'failed';
  started_at: string;
  duration_ms: number | null;
  parsed: number;
  quarantined: number;
  live_after: number | null;
}

/**
 * The latest `runs` runs of each source, newest first, dry runs left out: one index probe per source on
 * run_source (source_id, run_id), however many runs there are.
 */
export async function sourceTrends(pool: Pool, sourceIds: string[], runs: number): Promise<SourceTrendRow[]> {
  const { rows } = await pool.query<SourceTrendRow>(
    `SELECT src.id AS source_id, x.* FROM unnest($1::text[]) WITH ORDINALITY AS src(id, position) CROSS JOIN LATERAL (
       SELECT s.run_id, s.status,
              to_char(s.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS started_at,
              round(EXTRACT(EPOCH FROM s.finished_at - s.started_at) * 1000)::float8 AS duration_ms,
              s.parsed, s.quarantined, s.live_after
       FROM run_source s JOIN run r ON r.id = s.run_id
       WHERE s.source_id = src.id AND NOT r.dry_run ORDER BY s.run_id DESC LIMIT $2) x
     ORDER BY src.position, x.run_id DESC`,
    [sourceIds, runs],
  );
  return rows;
}

export interface EntityMatchRow {
  id: string;
  kind: 'asset' | 'article';
  symbol: string | null;
  name: string | null;
  title: string | null;
  live_sources: number;
}

/** `%`, `_` and `\` taken literally in a LIKE pattern. */
const likeLiteral = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * Entities whose symbol is `q` (any case) or whose name or title contains it: exact symbols first, then those
 * described by the most sources. The symbol is an index probe; names are matched row by row, so the caller
 * runs it in the costly lane.
 */
export async function searchEntities(pool: Pool, q: string, limit: number): Promise<EntityMatchRow[]> {
  const { rows } = await pool.query<EntityMatchRow>(
    `SELECT id, kind, symbol, name, title, live_sources FROM entity
     WHERE symbol = upper($1) OR name ILIKE $2 OR title ILIKE $2
     ORDER BY (symbol = upper($1)) IS TRUE DESC, live_sources DESC, id
     LIMIT $3`,
    [q, `%${likeLiteral(q)}%`, limit],
  );
  return rows;
}
