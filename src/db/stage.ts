// Staging: normalized rows of one (run, source) are COPYed into stage_record, bad ones into quarantine.
// COPY streams with backpressure, so memory stays flat however large the source is.
import { once } from 'node:events';
import type { PoolClient } from 'pg';
import { markUnfit, storable, storableJson, type Queryable } from './sql.ts';
import { from as copyFrom } from 'pg-copy-streams';
import { RECORD_FIELDS, toSnake, type NormalizedRecord } from '../normalize/record.ts';

/** stage_record's record columns, in RECORD_FIELDS order. */
export const RECORD_COLUMNS = RECORD_FIELDS.map(toSnake);
export const STAGE_COLUMNS = [
  'run_id',
  'source_id',
  'position',
  ...RECORD_COLUMNS,
  'observed_at',
  'match_key',
  'content_hash',
  'raw_payload_id',
  'raw_position',
];
const QUARANTINE_COLUMNS = ['run_id', 'source_id', 'raw_payload_id', 'raw_position', 'source_key', 'reason', 'fields'];
const FIELD_ISSUE_COLUMNS = [
  'run_id',
  'source_id',
  'raw_payload_id',
  'raw_position',
  'source_key',
  'field',
  'value',
  'reason',
];

/** Past the last position any part of a payload can have (positions are int). */
const END = 2 ** 31 - 1;

/**
 * Forgets what an earlier attempt wrote at positions [from, to) (all of it by default), so a retry continues
 * cleanly; a part of a payload clears only its own range.
 */
export async function clearStage(db: Queryable, runId: number, sourceId: string, from = 0, to = END): Promise<void> {
  await db.query('DELETE FROM stage_record WHERE run_id = $1 AND source_id = $2 AND position >= $3 AND position < $4', [
    runId,
    sourceId,
    from,
    to,
  ]);
  for (const table of ['quarantine', 'field_issue'])
    await db.query(
      `DELETE FROM ${table} WHERE run_id = $1 AND source_id = $2 AND raw_position >= $3 AND raw_position < $4`,
      [runId, sourceId, from, to],
    );
}

/**
 * Fresh planner statistics for staging. Rows that arrived by COPY a moment ago are invisible to the planner
 * until analyzed: it then expects one row and picks nested loops, and the orphan anti-join goes quadratic
 * (53 s for 20,000 rows instead of milliseconds).
 */
export async function analyzeStage(db: Queryable): Promise<void> {
  await db.query('ANALYZE stage_record, quarantine');
}

export async function stagedCounts(
  db: Queryable,
  runId: number,
  sourceId: string,
): Promise<{ staged: number; quarantined: number; fieldIssues: number }> {
  const { rows } = await db.query<{ staged: number; quarantined: number; fieldIssues: number }>(
    `SELECT (SELECT count(*) FROM stage_record WHERE run_id = $1 AND source_id = $2)::int AS staged,
            (SELECT count(*) FROM quarantine WHERE run_id = $1 AND source_id = $2)::int AS quarantined,
            (SELECT count(*) FROM field_issue WHERE run_id = $1 AND source_id = $2)::int AS "fieldIssues"`,
    [runId, sourceId],
  );
  return rows[0]!;
}

/**
 * stage_record is unlogged (its rows live only until the run's merge): a crash of PostgreSQL empties it. Each
 * record of a payload leaves exactly one row, staged or quarantined, so their count tells whether what an
 * earlier attempt committed is still there.
 */
export async function rowsBefore(
  db: Queryable,
  runId: number,
  sourceId: string,
  position: number,
  from = 0,
): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM stage_record WHERE run_id = $1 AND source_id = $2 AND position >= $4 AND position < $3)::int
          + (SELECT count(*) FROM quarantine WHERE run_id = $1 AND source_id = $2 AND raw_position >= $4 AND raw_position < $3)::int AS n`,
    [runId, sourceId, position, from],
  );
  return rows[0]!.n;
}

/** The records (staged or quarantined) at each part's positions, k × stride on, before the parts are joined. */
export async function rowsByPart(
  db: Queryable,
  runId: number,
  sourceId: string,
  stride: number,
): Promise<Map<number, number>> {
  const { rows } = await db.query<{ part: number; n: string }>(
    `SELECT part, sum(n) AS n FROM (
       SELECT position / $3 AS part, count(*) AS n FROM stage_record WHERE run_id = $1 AND source_id = $2 GROUP BY 1
       UNION ALL
       SELECT raw_position / $3, count(*) FROM quarantine WHERE run_id = $1 AND source_id = $2 GROUP BY 1
     ) t GROUP BY part`,
    [runId, sourceId, stride],
  );
  return new Map(rows.map((r) => [r.part, Number(r.n)]));
}

/**
 * Where the parts of a payload normalized in parts put their records: part k from k × stride on (the stride
 * exceeds any part's record count), so parts write side by side without knowing how many records the parts
 * before them hold. Once all are done, `shifts[k]` takes part k's positions to the payload's own (k × stride
 * minus the records before part k): quarantined records and field issues are moved here, once (the plan
 * keeps the shifts, which marks it done); staged rows keep theirs, and the merge applies the shift as it
 * reads them (moving a million staged rows costs more than the merge reading them).
 */
export async function placeParts(
  db: Queryable,
  runId: number,
  sourceId: string,
  stride: number,
  shifts: number[],
): Promise<void> {
  const args = [runId, sourceId, stride, shifts];
  // every position moves down, and a row may move onto one not moved yet: the constraint is deferrable, which
  // PostgreSQL checks at the end of the statement rather than row by row
  await db.query(
    `UPDATE quarantine SET raw_position = raw_position - ($4::int[])[raw_position / $3 + 1]
     WHERE run_id = $1 AND source_id = $2 AND raw_position >= $3`,
    args,
  );
  await db.query(
    `UPDATE field_issue SET raw_position = raw_position - ($4::int[])[raw_position / $3 + 1]
     WHERE run_id = $1 AND source_id = $2 AND raw_position >= $3`,
    args,
  );
}

/** The staged rows a merge or an orphan check would read are not all there: PostgreSQL lost them in a crash. */
export class StagingLostError extends Error {
  override name = 'StagingLostError';
}

/** Fails when the (run, source)'s staged rows are fewer than normalize staged (a crash emptied the unlogged table). */
export async function assertStagingIntact(db: Queryable, runId: number, sourceId: string): Promise<void> {
  const { rows } = await db.query<{ staged: number; present: number }>(
    `SELECT s.staged, (SELECT count(*)::int FROM stage_record WHERE run_id = $1 AND source_id = $2) AS present
     FROM run_source s WHERE s.run_id = $1 AND s.source_id = $2`,
    [runId, sourceId],
  );
  const row = rows[0];
  if (row && row.present !== row.staged) {
    throw new StagingLostError(
      `source '${sourceId}': ${row.staged - row.present} of ${row.staged} staged records are gone (PostgreSQL restarted after a crash, which empties the unlogged staging table); ` +
        'nothing was merged or deleted, and the next run ingests the payload again',
    );
  }
}

/** Staged rows are only needed until the run ends. */
export async function dropStage(db: Queryable, runId: number): Promise<void> {
  await db.query('DELETE FROM stage_record WHERE run_id = $1', [runId]);
}

/** Field issues kept in memory until a commit writes them. */
const MAX_PENDING_ISSUES = 10_000;

/** Rows are sent to COPY in chunks of about this many characters: one socket write per row would dominate. */
const COPY_CHUNK = 64 * 1024;

/** A COPY stream into one table; rows are tab-separated text with \N for null. */
class CopyWriter {
  private stream: NodeJS.WritableStream | undefined;
  private pending: string[] = [];
  private pendingLength = 0;
  private readonly client: PoolClient;
  private readonly sql: string;

  constructor(client: PoolClient, table: string, columns: string[]) {
    this.client = client;
    this.sql = `COPY ${table} (${columns.join(', ')}) FROM STDIN`;
  }

  /** The COPY stream's error, kept for the next write: an unheard 'error' event would end the process. */
  private failure: Error | undefined;

  async write(values: unknown[]): Promise<void> {
    if (this.failure) throw this.failure;
    const row = `${values.map(copyText).join('\t')}\n`;
    this.pending.push(row);
    this.pendingLength += row.length;
    if (this.pendingLength >= COPY_CHUNK) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.pending.length) return;
    if (!this.stream) {
      markUnfit(this.client, true);
      this.stream = this.client.query(copyFrom(this.sql));
      this.stream.on('error', (error: Error) => (this.failure ??= error));
    }
    const chunk = this.pending.join('');
    this.pending = [];
    this.pendingLength = 0;
    if (!this.stream.write(chunk)) await once(this.stream, 'drain');
  }

  /** Ends the COPY (committing its rows); the next write starts a new one. */
  async end(): Promise<void> {
    await this.flush();
    if (!this.stream) return;
    if (this.failure) throw this.failure;
    const done = once(this.stream, 'finish');
    this.stream.end();
    await done;
    this.stream = undefined;
    markUnfit(this.client, false);
  }
}

function copyText(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  // PostgreSQL text and jsonb cannot hold NUL; a visible replacement character keeps the row instead of failing the COPY
  const text =
    typeof value === 'string'
      ? storable(value, Number.MAX_SAFE_INTEGER)
      : typeof value === 'object'
        ? JSON.stringify(storableJson(value))
        : String(value);
  return text.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

export interface Rejected {
  position: number;
  sourceKey: string | null;
  reason: string;
  fields: Record<string, unknown>;
}

/**
 * Writes one (run, source)'s staged, quarantined and field-issue rows. Uses two connections because a
 * connection carries one COPY at a time; field issues are kept until the next commit and then COPYed on the
 * quarantine connection, after its own COPY. Rows are committed at each commit() and at the end.
 */
export class StageWriter {
  staged = 0;
  quarantined = 0;
  private readonly stage: CopyWriter;
  private readonly quarantine: CopyWriter;
  private readonly issues: CopyWriter;
  private pendingIssues: unknown[][] = [];
  private readonly runId: number;
  private readonly sourceId: string;
  private readonly payloadId: number;

  private constructor(
    stageClient: PoolClient,
    quarantineClient: PoolClient,
    runId: number,
    sourceId: string,
    payloadId: number,
  ) {
    this.stage = new CopyWriter(stageClient, 'stage_record', STAGE_COLUMNS);
    this.quarantine = new CopyWriter(quarantineClient, 'quarantine', QUARANTINE_COLUMNS);
    this.issues = new CopyWriter(quarantineClient, 'field_issue', FIELD_ISSUE_COLUMNS);
    this.runId = runId;
    this.sourceId = sourceId;
    this.payloadId = payloadId;
  }

  /** `clients`: two connections the caller holds (see withConnections); a failure leaves them mid-COPY. */
  static async open(
    [stageClient, quarantineClient]: [PoolClient, PoolClient],
    runId: number,
    sourceId: string,
    payloadId: number,
    work: (writer: StageWriter) => Promise<void>,
  ): Promise<StageWriter> {
    const writer = new StageWriter(stageClient, quarantineClient, runId, sourceId, payloadId);
    await work(writer);
    await writer.commit();
    return writer;
  }

  /** Commits everything written so far, so an interrupted attempt can continue from here. */
  async commit(): Promise<void> {
    await this.stage.end();
    await this.quarantine.end();
    if (!this.pendingIssues.length) return;
    for (const row of this.pendingIssues) await this.issues.write(row);
    this.pendingIssues = [];
    await this.issues.end();
  }

  /** `observedAt`: when the source said this (its own timestamp, else the fetch time). */
  async stageRecord(
    position: number,
    record: NormalizedRecord,
    observedAt: string,
    matchKey: string | null,
    contentHash: string,
  ): Promise<void> {
    this.staged++;
    await this.stage.write([
      this.runId,
      this.sourceId,
      position,
      ...RECORD_FIELDS.map((f) => record[f]),
      observedAt,
      matchKey,
      contentHash,
      this.payloadId,
      position,
    ]);
  }

  /**
   * The optional fields a staged record could not keep, with the values sent: written at the next commit, or
   * by one now when many are waiting (each is up to a few hundred bytes). Committing early is safe: a resumed
   * attempt clears what lies after its checkpoint.
   */
  async noteIssues(
    position: number,
    sourceKey: string,
    issues: readonly { field: string; value: string; reason: string }[],
  ): Promise<void> {
    for (const issue of issues)
      this.pendingIssues.push([
        this.runId,
        this.sourceId,
        this.payloadId,
        position,
        sourceKey,
        issue.field,
        issue.value,
        issue.reason,
      ]);
    if (this.pendingIssues.length >= MAX_PENDING_ISSUES) await this.commit();
  }

  async rejectRecord(rejected: Rejected): Promise<void> {
    this.quarantined++;
    await this.quarantine.write([
      this.runId,
      this.sourceId,
      this.payloadId,
      rejected.position,
      rejected.sourceKey,
      rejected.reason,
      rejected.fields,
    ]);
  }
}
