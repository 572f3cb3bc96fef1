// Staging: normalized rows of one (run, source) are COPYed into stage_record, bad ones into quarantine.
// COPY streams with backpressure, so memory stays flat however large the source is.
import { once } from 'node:events';
import type { Pool, PoolClient } from 'pg';
import type { Queryable } from './sql.ts';
import { from as copyFrom } from 'pg-copy-streams';
import { RECORD_FIELDS, toSnake, type NormalizedRecord } from '../normalize/record.ts';

/** stage_record's record columns, in RECORD_FIELDS order. */
export const RECORD_COLUMNS = RECORD_FIELDS.map(toSnake);
const STAGE_COLUMNS = ['run_id', 'source_id', 'position', ...RECORD_COLUMNS, 'match_key', 'content_hash', 'raw_payload_id', 'raw_position'];
const QUARANTINE_COLUMNS = ['run_id', 'source_id', 'raw_payload_id', 'raw_position', 'source_key', 'reason', 'fields'];

/** Forget what an earlier attempt of this stage wrote, so a retry starts clean. */
export async function clearStage(db: Queryable, runId: number, sourceId: string): Promise<void> {
  await db.query('DELETE FROM stage_record WHERE run_id = $1 AND source_id = $2', [runId, sourceId]);
  await db.query('DELETE FROM quarantine WHERE run_id = $1 AND source_id = $2', [runId, sourceId]);
}

/** Staged rows are only needed until the run ends. */
export async function dropStage(db: Queryable, runId: number): Promise<void> {
  await db.query('DELETE FROM stage_record WHERE run_id = $1', [runId]);
}

export async function countStaged(db: Queryable, runId: number, sourceId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM stage_record WHERE run_id = $1 AND source_id = $2', [runId, sourceId]);
  return rows[0]!.n;
}

/** A COPY stream into one table; rows are tab-separated text with \N for null. */
class CopyWriter {
  private stream: NodeJS.WritableStream | undefined;
  private readonly client: PoolClient;
  private readonly sql: string;

  constructor(client: PoolClient, table: string, columns: string[]) {
    this.client = client;
    this.sql = `COPY ${table} (${columns.join(', ')}) FROM STDIN`;
  }

  async write(values: unknown[]): Promise<void> {
    this.stream ??= this.client.query(copyFrom(this.sql));
    if (!this.stream.write(values.map(copyText).join('\t') + '\n')) await once(this.stream, 'drain');
  }

  async end(): Promise<void> {
    if (!this.stream) return;
    const done = once(this.stream, 'finish');
    this.stream.end();
    await done;
  }
}

function copyText(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  // PostgreSQL text and jsonb cannot hold NUL; a visible replacement character keeps the row instead of failing the COPY
  const text =
    typeof value === 'string' ? value.replaceAll('\u0000', '\uFFFD')
    : typeof value === 'object' ? JSON.stringify(value).replaceAll('\\u0000', '\\ufffd')
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
 * Writes one (run, source)'s staged and quarantined rows. Uses two pooled connections because a
 * connection carries one COPY at a time; both commit on end().
 */
export class StageWriter {
  staged = 0;
  quarantined = 0;
  private readonly stage: CopyWriter;
  private readonly quarantine: CopyWriter;
  private readonly runId: number;
  private readonly sourceId: string;
  private readonly payloadId: number;

  private constructor(stageClient: PoolClient, quarantineClient: PoolClient, runId: number, sourceId: string, payloadId: number) {
    this.stage = new CopyWriter(stageClient, 'stage_record', STAGE_COLUMNS);
    this.quarantine = new CopyWriter(quarantineClient, 'quarantine', QUARANTINE_COLUMNS);
    this.runId = runId;
    this.sourceId = sourceId;
    this.payloadId = payloadId;
  }

  static async open(pool: Pool, runId: number, sourceId: string, payloadId: number, work: (writer: StageWriter) => Promise<void>): Promise<StageWriter> {
    const [a, b] = [await pool.connect(), await pool.connect()];
    let failed = false;
    try {
      const writer = new StageWriter(a, b, runId, sourceId, payloadId);
      await work(writer);
      await writer.stage.end();
      await writer.quarantine.end();
      return writer;
    } catch (error) {
      failed = true; // a connection left mid-COPY is unusable: destroy it instead of returning it to the pool
      throw error;
    } finally {
      a.release(failed);
      b.release(failed);
    }
  }

  async stageRecord(position: number, record: NormalizedRecord, matchKey: string | null, contentHash: string): Promise<void> {
    this.staged++;
    await this.stage.write([this.runId, this.sourceId, position, ...RECORD_FIELDS.map((f) => record[f]), matchKey, contentHash, this.payloadId, position]);
  }

  async rejectRecord(rejected: Rejected): Promise<void> {
    this.quarantined++;
    await this.quarantine.write([this.runId, this.sourceId, this.payloadId, rejected.position, rejected.sourceKey, rejected.reason, rejected.fields]);
  }
}
