// Reads and writes behind the operator endpoints: each source's last outcome, quarantined records, drift
// events, the identity review queue and operator overrides. Plain SQL on the pool: a few joins each, keyset
// paged newest first. Rows of reprocess dry runs are left out everywhere: such a run changed nothing.
import type { Pool } from 'pg';
import { transaction } from '../sql.ts';

/** A page of rows, newest first, and whether there are more after it. */
export interface KeysetPage<T> {
  rows: T[];
  hasMore: boolean;
}

/** Builds a WHERE clause with $n placeholders from the conditions that apply. */
function conditions() {
  const where: string[] = [];
  const params: unknown[] = [];
  return {
    where,
    params,
    add(sql: (p: string) => string, value: unknown) {
      params.push(value);
      where.push(sql(`$${params.length}`));
    },
    param(value: unknown) {
      params.push(value);
      return `$${params.length}`;
    },
    sql: () => (where.length ? `WHERE ${where.join(' AND ')}` : ''),
  };
}

/** Timestamps as ISO 8601 UTC text, formatted by PostgreSQL (the pool hands timestamptz back as its own text). */
const iso = (column: string, as = column.replace(/^\w+\./, '')) =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ${as}`;

const NOT_DRY_RUN = (alias: string) => `NOT EXISTS (SELECT 1 FROM run dr WHERE dr.id = ${alias}.run_id AND dr.dry_run)`;

// --------------------------------------------------------------------------------------------- sources

export interface SourceRunRow {
  run_id: string;
  source_id: string;
  status: 'running' | 'succeeded' | 'unchanged' | 'superseded' | 'failed';
  started_at: string;
  finished_at: string | null;
  parsed: number;
  staged: number;
  quarantined: number;
  inserted: number;
  updated: number;
  unchanged: number;
  soft_deleted: number;
  error: string | null;
}

/** Each source's outcome in the latest run that included it, dry runs left out (one index probe per source). */
export async function lastSourceRuns(pool: Pool, sourceIds: string[]): Promise<Map<string, SourceRunRow>> {
  const { rows } = await pool.query<SourceRunRow>(
    `SELECT x.* FROM unnest($1::text[]) AS src(id) CROSS JOIN LATERAL (
       SELECT s.run_id, s.source_id, s.status, ${iso('s.started_at')}, ${iso('s.finished_at')}, s.parsed, s.staged, s.quarantined, s.inserted, s.updated,
              s.unchanged, s.soft_deleted, s.error
       FROM run_source s JOIN run r ON r.id = s.run_id
       WHERE s.source_id = src.id AND NOT r.dry_run ORDER BY s.run_id DESC LIMIT 1) x`,
    [sourceIds],
  );
  return new Map(rows.map((r) => [r.source_id, r]));
}

// ------------------------------------------------------------------------------------------ quarantine

export interface QuarantineRow {
  id: string;
  run_id: string;
  source_id: string;
  source_key: string | null;
  raw_payload_id: string;
  raw_position: number;
  reason: string;
  fields: unknown;
  created_at: string;
}

export interface QuarantineFilter {
  source?: string;
  runId?: number;
  /** Matched as a case-insensitive substring of the reason. */
  reason?: string;
}

/** Bytes of quarantined fields a page may carry: a page of records kept with 10,000-character lines is cut short, its cursor continues it. */
export const QUARANTINE_PAGE_BYTES = 4 * 2 ** 20;

const QUARANTINE_COLUMNS = `q.id, q.run_id, q.source_id, q.source_key, q.raw_payload_id, q.raw_position, q.reason, q.fields, ${iso('q.created_at')}`;

export async function listQuarantine(
  pool: Pool,
  filter: QuarantineFilter,
  page: { limit: number; after?: number },
): Promise<KeysetPage<QuarantineRow>> {
  const c = conditions();
  c.where.push(NOT_DRY_RUN('q'));
  if (filter.source) c.add((p) => `q.source_id = ${p}`, filter.source);
  if (filter.runId !== undefined) c.add((p) => `q.run_id = ${p}`, filter.runId);
  // strpos, not ILIKE: the operator's text is matched literally, % and _ included
  if (filter.reason) c.add((p) => `strpos(lower(q.reason), lower(${p})) > 0`, filter.reason);
  if (page.after !== undefined) c.add((p) => `q.id < ${p}`, page.after);
  const { rows } = await pool.query<QuarantineRow & { size: number }>(
    `SELECT ${QUARANTINE_COLUMNS}, pg_column_size(q.fields) AS size FROM quarantine q ${c.sql()} ORDER BY q.id DESC LIMIT ${c.param(page.limit + 1)}`,
    c.params,
  );
  let bytes = 0;
  for (let i = 0; i < Math.min(rows.length, page.limit); i++) {
    bytes += rows[i]!.size + rows[i]!.reason.length;
    if (i > 0 && bytes > QUARANTINE_PAGE_BYTES) return { rows: rows.slice(0, i).map(withoutSize), hasMore: true };
  }
  return { rows: rows.slice(0, page.limit).map(withoutSize), hasMore: rows.length > page.limit };
}

function withoutSize({ size: _size, ...row }: QuarantineRow & { size: number }): QuarantineRow {
  return row;
}

export async function getQuarantined(pool: Pool, id: number): Promise<QuarantineRow | null> {
  const { rows } = await pool.query<QuarantineRow>(
    `SELECT ${QUARANTINE_COLUMNS} FROM quarantine q WHERE q.id = $1 AND ${NOT_DRY_RUN('q')}`,
    [id],
  );
  return rows[0] ?? null;
}

// -------------------------------------------------------------------------------------------- drift

export interface DriftEventRow {
  id: string;
  run_id: string;
  source_id: string;
  change: 'added' | 'removed' | 'type_changed' | 'renamed';
  field: string;
  previous_field: string | null;
  previous_type: string | null;
  current_type: string | null;
  confidence: number | null;
  action: 'applied' | 'reported' | 'quarantined';
  created_at: string;
}

export async function listDriftEvents(
  pool: Pool,
  filter: { source?: string; runId?: number },
  page: { limit: number; after?: number },
): Promise<KeysetPage<DriftEventRow>> {
  const c = conditions();
  c.where.push(NOT_DRY_RUN('d'));
  if (filter.source) c.add((p) => `d.source_id = ${p}`, filter.source);
  if (filter.runId !== undefined) c.add((p) => `d.run_id = ${p}`, filter.runId);
  if (page.after !== undefined) c.add((p) => `d.id < ${p}`, page.after);
  const { rows } = await pool.query<DriftEventRow>(
    `SELECT d.id, d.run_id, d.source_id, d.change, d.field, d.previous_field, d.previous_type, d.current_type, d.confidence, d.action, ${iso('d.created_at')}
     FROM drift_event d ${c.sql()} ORDER BY d.id DESC LIMIT ${c.param(page.limit + 1)}`,
    c.params,
  );
  return { rows: rows.slice(0, page.limit), hasMore: rows.length > page.limit };
}

// ------------------------------------------------------------------------------------- identity review

export interface ReviewSide {
  id: string;
  source_id: string;
  source_key: string;
  symbol: string | null;
  name: string | null;
  title: string | null;
}
export interface ReviewRow {
  record: ReviewSide;
  candidate: ReviewSide & { entity_id: string };
  /** What identity resolution stored (src/identity/rules.ts, decide): reason, confidence, evidence... */
  review: {
    reason: 'near_miss' | 'ambiguous' | 'lost_to';
    confidence: number;
    rule?: string;
    evidence?: Record<string, unknown>;
    [key: string]: unknown;
  };
  /** The whole evidence of the record's link (the tied entities of an ambiguous record, the record a lost one lost to). */
  evidence: Record<string, unknown>;
}

const side = (
  alias: string,
) => `json_build_object('id', ${alias}.id::text, 'source_id', ${alias}.source_id, 'source_key', ${alias}.source_key,
  'symbol', ${alias}.symbol, 'name', ${alias}.name, 'title', ${alias}.title)`;

/**
 * Records identity resolution left on their own (rule `new`) with a candidate it kept for review, newest
 * record first, unless an operator has decided the pair since (a live override either way) or the two have
 * come together meanwhile. The candidate's entity is the one it has now.
 */
export async function listReview(
  pool: Pool,
  filter: { kind?: 'asset' | 'article' },
  page: { limit: number; after?: number },
): Promise<KeysetPage<ReviewRow>> {
  const c = conditions();
  c.where.push(`l.rule = 'new'`, `l.evidence ? 'review'`);
  if (filter.kind) c.add((p) => `r.kind = ${p}`, filter.kind);
  if (page.after !== undefined) c.add((p) => `l.record_id < ${p}`, page.after);
  const { rows } = await pool.query<ReviewRow>(
    `SELECT ${side('r')} AS record, ${side('c')}::jsonb || jsonb_build_object('entity_id', coalesce(cl.entity_id, (l.evidence->'review'->>'entity_id')::bigint)::text) AS candidate,
            l.evidence->'review' AS review, l.evidence - 'review' AS evidence
     FROM entity_link l
     JOIN record r ON r.id = l.record_id AND r.deleted_at IS NULL
     JOIN record c ON c.id = (l.evidence->'review'->>'record_id')::bigint AND c.deleted_at IS NULL
     LEFT JOIN entity_link cl ON cl.record_id = c.id
     ${c.sql()}
       AND cl.entity_id IS DISTINCT FROM l.entity_id
       AND NOT EXISTS (
         SELECT 1 FROM entity_override o WHERE o.kind = r.kind AND o.removed_at IS NULL AND (
           (o.left_source_id = r.source_id AND o.left_source_key = r.source_key AND o.right_source_id = c.source_id AND o.right_source_key = c.source_key)
           OR (o.left_source_id = c.source_id AND o.left_source_key = c.source_key AND o.right_source_id = r.source_id AND o.right_source_key = r.source_key)))
     ORDER BY l.record_id DESC LIMIT ${c.param(page.limit + 1)}`,
    c.params,
  );
  return { rows: rows.slice(0, page.limit), hasMore: rows.length > page.limit };
}

// ------------------------------------------------------------------------------------------ overrides

export interface OverrideRow {
  id: string;
  kind: 'asset' | 'article';
  action: 'force' | 'forbid';
  left_source_id: string;
  left_source_key: string;
  right_source_id: string;
  right_source_key: string;
  reason: string | null;
  created_at: string;
  removed_at: string | null;
}

const OVERRIDE_COLUMNS = `o.id, o.kind, o.action, o.left_source_id, o.left_source_key, o.right_source_id, o.right_source_key, o.reason,
  ${iso('o.created_at')}, ${iso('o.removed_at')}`;

export interface RecordRef {
  source: string;
  key: string;
}

export async function listOverrides(
  pool: Pool,
  filter: { kind?: 'asset' | 'article'; includeRemoved: boolean },
  page: { limit: number; after?: number },
): Promise<KeysetPage<OverrideRow>> {
  const c = conditions();
  if (filter.kind) c.add((p) => `o.kind = ${p}`, filter.kind);
  if (!filter.includeRemoved) c.where.push('o.removed_at IS NULL');
  if (page.after !== undefined) c.add((p) => `o.id < ${p}`, page.after);
  const { rows } = await pool.query<OverrideRow>(
    `SELECT ${OVERRIDE_COLUMNS} FROM entity_override o ${c.sql()} ORDER BY o.id DESC LIMIT ${c.param(page.limit + 1)}`,
    c.params,
  );
  return { rows: rows.slice(0, page.limit), hasMore: rows.length > page.limit };
}

export type CreateOverrideOutcome =
  | { outcome: 'created'; override: OverrideRow }
  /** The same decision about the same pair is in force already (either way round): nothing changed. */
  | { outcome: 'exists'; override: OverrideRow }
  | { outcome: 'missing'; side: 'left' | 'right' }
  | { outcome: 'wrong_kind'; side: 'left' | 'right'; kind: string }
  /** Left and right are one record. */
  | { outcome: 'same_record' }
  /** A force of two records of one source: an entity takes one record per source. */
  | { outcome: 'same_source' }
  /** A live override says otherwise: the opposite decision about the pair, or a force of one record with another of the same source. */
  | { outcome: 'contradicts'; override: OverrideRow };

/**
 * Records an operator's decision about two records, after checking they exist, are of `kind`, are two (of
 * two sources, for a force), and that no live override says otherwise. A removed override of the same pair (the same way round) is made again in its
 * row, with a new created_at, so identity resolution applies it at its next run. One decision at a time: the
 * checks and the write are one transaction under a lock.
 */
export async function createOverride(
  pool: Pool,
  input: { kind: 'asset' | 'article'; action: 'force' | 'forbid'; left: RecordRef; right: RecordRef; reason?: string },
): Promise<CreateOverrideOutcome> {
  return transaction(pool, async (client) => {
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('entity_override'))`);
    const { rows: records } = await client.query<{ source_id: string; source_key: string; kind: string }>(
      'SELECT source_id, source_key, kind FROM record WHERE (source_id, source_key) IN (($1, $2), ($3, $4))',
      [input.left.source, input.left.key, input.right.source, input.right.key],
    );
    for (const which of ['left', 'right'] as const) {
      const record = records.find((r) => r.source_id === input[which].source && r.source_key === input[which].key);
      if (!record) return { outcome: 'missing', side: which };
      if (record.kind !== input.kind) return { outcome: 'wrong_kind', side: which, kind: record.kind };
    }
    if (input.left.source === input.right.source && input.left.key === input.right.key)
      return { outcome: 'same_record' };
    if (input.action === 'force' && input.left.source === input.right.source) return { outcome: 'same_source' };
    const pair = `(o.left_source_id = $2 AND o.left_source_key = $3 AND o.right_source_id = $4 AND o.right_source_key = $5)
      OR (o.left_source_id = $4 AND o.left_source_key = $5 AND o.right_source_id = $2 AND o.right_source_key = $3)`;
    const params = [input.kind, input.left.source, input.left.key, input.right.source, input.right.key];
    const { rows: live } = await client.query<OverrideRow>(
      `SELECT ${OVERRIDE_COLUMNS} FROM entity_override o WHERE o.kind = $1 AND o.removed_at IS NULL AND (${pair}) ORDER BY o.id`,
      params,
    );
    const same = live.find((o) => o.action === input.action);
    if (same) return { outcome: 'exists', override: same };
    if (live[0]) return { outcome: 'contradicts', override: live[0] };
    if (input.action === 'force') {
      // an entity takes one record per source: forcing a record together with two records of one source cannot hold
      const { rows: rival } = await client.query<OverrideRow>(
        `SELECT ${OVERRIDE_COLUMNS} FROM entity_override o WHERE o.kind = $1 AND o.removed_at IS NULL AND o.action = 'force' AND (
           (o.left_source_id = $2 AND o.left_source_key = $3 AND o.right_source_id = $4) OR (o.right_source_id = $2 AND o.right_source_key = $3 AND o.left_source_id = $4)
           OR (o.left_source_id = $4 AND o.left_source_key = $5 AND o.right_source_id = $2) OR (o.right_source_id = $4 AND o.right_source_key = $5 AND o.left_source_id = $2))
         ORDER BY o.id LIMIT 1`,
        params,
      );
      if (rival[0]) return { outcome: 'contradicts', override: rival[0] };
    }
    // no live row of this pair exists, so a conflict on the unique key is a removed one: it is revived
    const { rows } = await client.query<OverrideRow>(
      `INSERT INTO entity_override AS o (kind, action, left_source_id, left_source_key, right_source_id, right_source_key, reason)
       VALUES ($1, $6, $2, $3, $4, $5, $7)
       ON CONFLICT (kind, left_source_id, left_source_key, right_source_id, right_source_key)
       DO UPDATE SET action = excluded.action, reason = excluded.reason, created_at = now(), removed_at = NULL
       RETURNING ${OVERRIDE_COLUMNS}`,
      [...params, input.action, input.reason ?? null],
    );
    return { outcome: 'created', override: rows[0]! };
  });
}

/** Marks a live override removed (kept as history); null when there is none with this id, or it is removed already. */
export async function removeOverride(pool: Pool, id: number): Promise<OverrideRow | null> {
  const { rows } = await pool.query<OverrideRow>(
    `UPDATE entity_override o SET removed_at = now() WHERE o.id = $1 AND o.removed_at IS NULL RETURNING ${OVERRIDE_COLUMNS}`,
    [id],
  );
  return rows[0] ?? null;
}

// ------------------------------------------------------------------------------------------ reprocess

/** The sources a run ingested, or null when there is no such run. */
export async function runSourceIds(pool: Pool, runId: number): Promise<string[] | null> {
  const { rows } = await pool.query<{ source_id: string | null }>(
    'SELECT s.source_id FROM run r LEFT JOIN run_source s ON s.run_id = r.id WHERE r.id = $1 ORDER BY s.source_id',
    [runId],
  );
  return rows.length ? rows.flatMap((r) => (r.source_id === null ? [] : [r.source_id])) : null;
}
