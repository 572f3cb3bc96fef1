// Identity resolution in the database: find the records of a source that have no entity yet, gather
// candidate entities through other sources' records (same match key or symbol; same URL or publication
// window for articles), let the rules in src/identity/rules.ts decide, then write links and new
// entities set-based. One resolution per kind at a time, so two sources never create the same entity twice.
//
// The candidate pairs stay in the database (ids only) and are judged a block at a time, so the worker's
// memory does not grow with the source. A block is whole components: records joined through a candidate
// entity they share (directly or along a chain). The rules' one cross-record step (an entity takes at most
// one record of a source, and a near miss gives way to an entity another record took) only ever compares
// records that share an entity, so judging whole components apart decides exactly what judging all at once does.
import type { Pool, PoolClient } from 'pg';
import { decide, type Candidate, type IdentitySide } from '../identity/rules.ts';
import type { RecordKind } from '../normalize/record.ts';
import { ANALYZE_AFTER_ROWS } from './merge.ts';
import { transaction } from './sql.ts';

/** Records judged at once, at least: a component larger than this is judged whole. */
export const IDENTITY_BLOCK = 1000;

export interface IdentityOptions {
  /** Records a block holds (tests lower it); a component is never split. */
  blockSize?: number;
  /** After each judged block: its records and their candidate pairs. */
  onBlock?: (block: { records: number; pairs: number }) => void;
}

export interface IdentityCounts {
  /** Records linked to an entity another source already described. */
  linked: number;
  /** Records that became a new entity. */
  created: number;
}

const SIDE = `r.id AS "recordId", r.source_id AS "sourceId", r.source_key AS "sourceKey", r.symbol, r.name, r.rank,
  r.market_cap_usd AS "marketCapUsd", r.title, to_char(r.published_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS "publishedAt", r.match_key AS "matchKey"`;

/** When an override last changed: its removal, else its creation (a re-added one is created again). */
const OVERRIDE_CHANGED_AT = 'coalesce(o.removed_at, o.created_at)';

export async function resolveEntities(
  pool: Pool,
  runId: number,
  sourceId: string,
  kind: RecordKind,
  options: IdentityOptions = {},
): Promise<IdentityCounts> {
  const counts = await transaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`identity:${kind}`]);
    const state = await resolutionState(client, sourceId, kind);
    if (state.settled) return { linked: 0, created: 0 };
    // the existing entities that gained or lost one of this source's records: their live sources are counted again
    await client.query('CREATE TEMP TABLE changed_entity (id bigint) ON COMMIT DROP');
    await forgetOverriddenLinks(client, sourceId, kind);
    const total: IdentityCounts = { linked: 0, created: 0 };
    // a forced link may displace another record of this source from its entity: that one is resolved again
    for (let round = 0; round < 3; round++) {
      const { counts, displaced } = await resolveUnlinked(client, runId, sourceId, kind, options);
      total.linked += counts.linked;
      total.created += counts.created;
      if (!displaced) break;
    }
    await countLiveSources(client, sourceId, state.resolvedAt);
    // counted in the same transaction as the links, so a retried resolution never counts twice
    await client.query(
      'UPDATE run_source SET entities_linked = entities_linked + $3, entities_created = entities_created + $4 WHERE run_id = $1 AND source_id = $2',
      [runId, sourceId, total.linked, total.created],
    );
    await client.query('UPDATE source_state SET resolved_payload_id = $2, resolved_at = now() WHERE source_id = $1', [
      sourceId,
      state.lastPayloadId,
    ]);
    return total;
  });
  if (counts.linked + counts.created >= ANALYZE_AFTER_ROWS) await pool.query('ANALYZE entity, entity_link');
  return counts;
}

/**
 * Whether every record of the source's last merged payload is linked already and no override about the source
 * was made or removed since: then there is nothing to resolve, and an unchanged re-run skips the anti-join
 * over all its records (half a second per million). Records lose their links only by an override or within resolution.
 * Read before resolving, so a merge committing meanwhile leaves the watermark behind, never ahead.
 */
async function resolutionState(
  client: PoolClient,
  sourceId: string,
  kind: RecordKind,
): Promise<{ settled: boolean; lastPayloadId: number | null; resolvedAt: Date | null }> {
  const { rows } = await client.query<{ last_payload_id: string | null; settled: boolean; resolved_at: Date | null }>(
    `SELECT s.last_payload_id, s.resolved_at,
       s.resolved_at IS NOT NULL AND s.resolved_payload_id IS NOT DISTINCT FROM s.last_payload_id AND NOT EXISTS (
         SELECT 1 FROM entity_override o WHERE o.kind = $2 AND ${OVERRIDE_CHANGED_AT} > s.resolved_at AND $1 IN (o.left_source_id, o.right_source_id)) AS settled
     FROM source_state s WHERE s.source_id = $1`,
    [sourceId, kind],
  );
  const row = rows[0];
  return {
    settled: row?.settled ?? false,
    lastPayloadId: row?.last_payload_id == null ? null : Number(row.last_payload_id),
    resolvedAt: row?.resolved_at ?? null,
  };
}

/**
 * Counts again the live sources of the entities this resolution linked records into or took them from
 * (`changed_entity`; the entities it created start at 1), and of those whose records of this source were written
 * since its previous resolution: a merge's restore or a soft delete (both move updated_at) changes whether
 * a record counts. Every change to a count is some source's merge, soft-delete or resolution, and that
 * source's next resolution comes here under the same lock, so the counts end up true however sources
 * interleave. A source never resolved before has no links older than this transaction.
 */
async function countLiveSources(client: PoolClient, sourceId: string, since: Date | null): Promise<void> {
  await client.query(
    `WITH touched AS (
       SELECT l.entity_id AS id FROM record r JOIN entity_link l ON l.record_id = r.id
       WHERE $2::timestamptz IS NOT NULL AND r.updated_at >= $2 AND r.source_id = $1 AND l.linked_at < now()
       UNION SELECT id FROM changed_entity),
     counted AS (
       SELECT t.id, count(DISTINCT r.source_id)::int AS n
       FROM touched t LEFT JOIN entity_link l ON l.entity_id = t.id LEFT JOIN record r ON r.id = l.record_id AND r.deleted_at IS NULL
       GROUP BY t.id)
     UPDATE entity e SET live_sources = c.n FROM counted c WHERE e.id = c.id AND e.live_sources <> c.n`,
    [sourceId, since],
  );
}

/** Links this source's unlinked records; `displaced`: other records of the source a forced link took an entity from. */
async function resolveUnlinked(
  client: PoolClient,
  runId: number,
  sourceId: string,
  kind: RecordKind,
  { blockSize = IDENTITY_BLOCK, onBlock }: IdentityOptions,
): Promise<{ counts: IdentityCounts; displaced: number }> {
  await client.query('DROP TABLE IF EXISTS unresolved, decision, pair, judged');
  await client.query(
    `CREATE TEMP TABLE unresolved ON COMMIT DROP AS
     SELECT r.id, r.source_id, r.source_key, r.kind, r.symbol, r.name, r.rank, r.market_cap_usd, r.title, r.url, r.published_at, r.match_key
     FROM record r
     WHERE r.source_id = $1 AND r.kind = $2 AND r.deleted_at IS NULL
       AND NOT EXISTS (SELECT 1 FROM entity_link l WHERE l.record_id = r.id)`,
    [sourceId, kind],
  );
  const { rowCount } = await client.query('SELECT 1 FROM unresolved LIMIT 1');
  if (!rowCount) return { counts: { linked: 0, created: 0 }, displaced: 0 };
  // a temp table has no statistics until analyzed; without them the candidate joins run as nested loops
  await client.query('ANALYZE unresolved');

  // other sources' linked records that may describe the same thing, unless their entity has one of ours already
  // (the source and kind are filtered inside each join: a record always matches its own match key)
  const other = `c.kind = $2 AND c.source_id <> $1`;
  const nearby =
    kind === 'asset'
      ? `SELECT u.id AS u_id, c.id FROM unresolved u JOIN record c ON c.match_key = u.match_key AND ${other}
         UNION SELECT u.id, c.id FROM unresolved u JOIN record c ON c.symbol = u.symbol AND ${other}`
      : `SELECT u.id AS u_id, c.id FROM unresolved u JOIN record c ON c.match_key = u.match_key AND ${other}
         UNION SELECT u.id, c.id FROM unresolved u JOIN record c ON c.published_at BETWEEN u.published_at - interval '2 days' AND u.published_at + interval '2 days' AND ${other}`;
  await client.query(
    `CREATE TEMP TABLE pair ON COMMIT DROP AS
     SELECT c.u_id, c.id AS c_id, l.entity_id
     FROM (${nearby}) c JOIN entity_link l ON l.record_id = c.id
     WHERE NOT EXISTS (SELECT 1 FROM entity_link l2 JOIN record r2 ON r2.id = l2.record_id WHERE l2.entity_id = l.entity_id AND r2.source_id = $1)`,
    [sourceId, kind],
  );
  const overrides = await overridesFor(client, sourceId, kind);
  // only records with somewhere to go are judged here; every other one becomes a new entity in SQL
  const forced = [...overrides.forced.entries()];
  await client.query(
    `CREATE TEMP TABLE judged ON COMMIT DROP AS
     SELECT id, id AS component, NULL::bigint AS block FROM (
       SELECT u_id AS id FROM pair UNION SELECT unnest($1::bigint[]) UNION SELECT unnest($2::bigint[])) j`,
    [forced.map(([u]) => u), [...overrides.forbidden.keys()]],
  );
  const { rowCount: judged } = await client.query('SELECT 1 FROM judged LIMIT 1');
  if (judged)
    await groupComponents(
      client,
      forced.map(([u]) => u),
      forced.map(([, c]) => c.entityId),
      blockSize,
    );
  await client.query(
    `CREATE TEMP TABLE decision (record_id bigint, entity_id bigint, rule text, confidence float8, evidence jsonb) ON COMMIT DROP`,
  );
  for (let block = -1; ; ) {
    const next = await client.query<{ block: string | null }>(
      'SELECT min(block) AS block FROM judged WHERE block > $1',
      [block],
    );
    if (next.rows[0]!.block === null) break;
    block = Number(next.rows[0]!.block);
    const sides = (
      await client.query<IdentitySide>(
        `SELECT ${SIDE} FROM unresolved r JOIN judged j ON j.id = r.id WHERE j.block = $1 ORDER BY r.id`,
        [block],
      )
    ).rows.map(numeric);
    const { rows: pairs } = await client.query<Candidate & { uId: string }>(
      `SELECT p.u_id AS "uId", p.entity_id AS "entityId", ${SIDE}
       FROM pair p JOIN judged j ON j.id = p.u_id JOIN record r ON r.id = p.c_id WHERE j.block = $1`,
      [block],
    );
    const candidates = new Map<number, Candidate[]>();
    for (const pair of pairs) {
      const list = candidates.get(Number(pair.uId)) ?? candidates.set(Number(pair.uId), []).get(Number(pair.uId))!;
      list.push(numeric(pair));
    }
    const decisions = await decide(kind, sides, candidates, overrides);
    await client.query(
      `INSERT INTO decision SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::float8[], $5::jsonb[])`,
      [
        decisions.map((d) => d.recordId),
        decisions.map((d) => d.entityId),
        decisions.map((d) => d.rule),
        decisions.map((d) => d.confidence),
        decisions.map((d) => JSON.stringify(d.evidence)),
      ],
    );
    onBlock?.({ records: sides.length, pairs: pairs.length });
  }
  // an operator's force wins over the within-source rule: another record of this source leaves that entity
  const displaced =
    (
      await client.query(
        `DELETE FROM entity_link l USING record r
         WHERE l.record_id = r.id AND r.source_id = $1 AND l.entity_id IN (SELECT entity_id FROM decision WHERE rule = 'override')`,
        [sourceId],
      )
    ).rowCount ?? 0;
  await client.query('INSERT INTO changed_entity SELECT DISTINCT entity_id FROM decision WHERE entity_id IS NOT NULL');
  return { counts: await writeDecisions(client, runId, kind), displaced };
}

/**
 * Numbers the judged records' components (records sharing a candidate entity, or a forced one, directly or
 * along a chain: each takes the least record id of its component) and packs whole components into blocks of
 * about blockSize records, in component order.
 */
async function groupComponents(client: PoolClient, forced: number[], forcedInto: number[], blockSize: number) {
  await client.query(
    `CREATE TEMP TABLE edge ON COMMIT DROP AS
     SELECT u_id, entity_id FROM pair UNION SELECT * FROM unnest($1::bigint[], $2::bigint[])`,
    [forced, forcedInto],
  );
  await client.query('CREATE INDEX ON judged (id)');
  await client.query('ANALYZE judged, edge');
  // each pass carries the least id one step along (record to entity to record), then lets every record take
  // the component of the record its component names (pointer jumping): a chain of n records, which articles
  // form through their publication windows, settles in about log n passes instead of n. It ends when nothing moves.
  for (;;) {
    const moved = await client.query(
      `WITH by_entity AS (SELECT e.entity_id, min(j.component) AS component FROM edge e JOIN judged j ON j.id = e.u_id GROUP BY e.entity_id),
            by_record AS (SELECT e.u_id, min(b.component) AS component FROM edge e JOIN by_entity b ON b.entity_id = e.entity_id GROUP BY e.u_id)
       UPDATE judged j SET component = b.component FROM by_record b WHERE j.id = b.u_id AND b.component < j.component`,
    );
    const jumped = await client.query(
      `UPDATE judged j SET component = c.component FROM judged c WHERE c.id = j.component AND c.component < j.component`,
    );
    if (!moved.rowCount && !jumped.rowCount) break;
  }
  await client.query(
    `UPDATE judged j SET block = c.block
     FROM (SELECT component, ((sum(n) OVER (ORDER BY component))::bigint - n) / $1::bigint AS block
           FROM (SELECT component, count(*) AS n FROM judged GROUP BY component) s) c
     WHERE j.component = c.component`,
    [blockSize],
  );
  await client.query('CREATE INDEX ON judged (block)');
  await client.query('DROP TABLE edge');
  // each block reads its records and their pairs by id
  await client.query('CREATE INDEX ON unresolved (id)');
  await client.query('CREATE INDEX ON pair (u_id)');
  await client.query('ANALYZE judged, pair');
}

/**
 * An override written (or removed) after a record was linked sends that record back through resolution, so a
 * removed force or forbid gives way to the rules again. The entities left are changed entities.
 */
async function forgetOverriddenLinks(client: PoolClient, sourceId: string, kind: RecordKind): Promise<void> {
  const { rows } = await client.query<{ entity_id: string }>(
    `DELETE FROM entity_link l USING record r, entity_override o
     WHERE l.record_id = r.id AND r.source_id = $1 AND o.kind = $2 AND ${OVERRIDE_CHANGED_AT} > l.linked_at
       AND ((o.left_source_id = r.source_id AND o.left_source_key = r.source_key) OR (o.right_source_id = r.source_id AND o.right_source_key = r.source_key))
     RETURNING l.entity_id`,
    [sourceId, kind],
  );
  const left = rows.map((r) => Number(r.entity_id));
  if (left.length) {
    await client.query(
      'DELETE FROM entity e WHERE e.id = ANY($1::bigint[]) AND NOT EXISTS (SELECT 1 FROM entity_link l WHERE l.entity_id = e.id)',
      [left],
    );
    await client.query('INSERT INTO changed_entity SELECT unnest($1::bigint[])', [left]);
  }
}

/** Forced partners (with their entity) and forbidden entities, for this source's unresolved records; removed overrides no longer count. */
async function overridesFor(client: PoolClient, sourceId: string, kind: RecordKind) {
  const { rows } = await client.query<Candidate & { uId: string; action: 'force' | 'forbid' }>(
    `WITH o AS (
       SELECT action, left_source_id AS us, left_source_key AS uk, right_source_id AS ps, right_source_key AS pk FROM entity_override WHERE kind = $2 AND removed_at IS NULL
       UNION ALL SELECT action, right_source_id, right_source_key, left_source_id, left_source_key FROM entity_override WHERE kind = $2 AND removed_at IS NULL)
     SELECT o.action, u.id AS "uId", l.entity_id AS "entityId", ${SIDE}
     FROM o JOIN unresolved u ON u.source_id = o.us AND u.source_key = o.uk
       JOIN record r ON r.source_id = o.ps AND r.source_key = o.pk JOIN entity_link l ON l.record_id = r.id
     WHERE o.us = $1`,
    [sourceId, kind],
  );
  const forced = new Map<number, Candidate>();
  const forbidden = new Map<number, Set<number>>();
  for (const row of rows) {
    const u = Number(row.uId);
    if (row.action === 'force') forced.set(u, numeric(row));
    else (forbidden.get(u) ?? forbidden.set(u, new Set()).get(u)!).add(Number(row.entityId));
  }
  return { forced, forbidden };
}

/**
 * Writes the judged decisions as links, and every other unresolved record (no decision, or one for a new
 * entity) as a new entity with its link: one INSERT of entities feeding one INSERT of links. In record order,
 * so the same records get the same ids however they were judged.
 */
async function writeDecisions(client: PoolClient, runId: number, kind: RecordKind): Promise<IdentityCounts> {
  await client.query('ANALYZE decision');
  const created = await client.query(
    `WITH created AS (
       INSERT INTO entity (kind, seed_record_id, symbol, name, title, url, live_sources)
       SELECT $1, u.id, u.symbol, u.name, u.title, u.url, 1 FROM unresolved u LEFT JOIN decision d ON d.record_id = u.id WHERE d.entity_id IS NULL
       ORDER BY u.id
       RETURNING id, seed_record_id)
     INSERT INTO entity_link (record_id, entity_id, rule, confidence, evidence, run_id)
     SELECT c.seed_record_id, c.id, coalesce(d.rule, 'new'), coalesce(d.confidence, 1), coalesce(d.evidence, '{}'), $2
     FROM created c LEFT JOIN decision d ON d.record_id = c.seed_record_id`,
    [kind, runId],
  );
  const linked = await client.query(
    `INSERT INTO entity_link (record_id, entity_id, rule, confidence, evidence, run_id)
     SELECT record_id, entity_id, rule, confidence, evidence, $1 FROM decision WHERE entity_id IS NOT NULL ORDER BY record_id`,
    [runId],
  );
  return { linked: linked.rowCount ?? 0, created: created.rowCount ?? 0 };
}

// pg returns bigint as text; the rules compare numbers
function numeric<T extends IdentitySide>(row: T): T {
  return {
    ...row,
    recordId: Number(row.recordId),
    rank: row.rank === null ? null : Number(row.rank),
    ...('entityId' in row ? { entityId: Number((row as unknown as Candidate).entityId) } : {}),
  };
}
