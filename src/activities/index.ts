// The five stages of an ingest, plus run bookkeeping. Activities pass ids and counts only: the data
// itself moves from the source into raw_page, stage_record and record inside PostgreSQL.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { createHash } from 'node:crypto';
import { SourceState } from '../db/entities.ts';
import { mergeStaged, softDeleteOrphans, type MergeCounts, type OrphanCounts } from '../db/merge.ts';
import type { Database } from '../db/orm.ts';
import { appendPage, beginPayload, finishLanding, readDocuments, storePayload } from '../db/raw.ts';
import { finishRun, startRun, updateRunSource, type RunStatus, type SourceOutcome } from '../db/runs.ts';
import { StageWriter, clearStage, dropStage } from '../db/stage.ts';
import { contentHash, validateRecord } from '../normalize/record.ts';
import { loadSourcesConfig, type SourceConfig } from '../sources/config.ts';
import { adapterFor } from '../sources/index.ts';
import { CHUNK_BYTES } from '../sources/transport.ts';
import { PermanentSourceError } from '../sources/types.ts';

export interface ActivityDeps {
  db: Database;
  sourcesFile: string;
}

export interface SourcePlan {
  id: string;
  deletePolicy: SourceConfig['deletePolicy'];
}
export interface RunPlan {
  runId: number;
  sources: SourcePlan[];
}
export interface SourceStep {
  runId: number;
  sourceId: string;
}
export interface PayloadStep extends SourceStep {
  payloadId: number;
}
export interface FetchOutcome {
  payloadId: number;
  bytes: number;
  pages: number;
  notModified: boolean;
}
export interface RunSummary {
  runId: number;
  status: RunStatus;
  sources: SourceOutcome[];
}
export type { MergeCounts, OrphanCounts, SourceOutcome };

export function createActivities({ db, sourcesFile }: ActivityDeps) {
  const sourceById = (id: string): SourceConfig => {
    const source = loadSourcesConfig(sourcesFile).find((s) => s.id === id);
    if (!source) throw ApplicationFailure.nonRetryable(`source '${id}' is not in ${sourcesFile}`, 'UnknownSource');
    return source;
  };

  return {
    /** Opens the run: one row for the workflow execution, one per source it will ingest. */
    async startRun(input: { sourceIds?: string[] } = {}): Promise<RunPlan> {
      const { workflowExecution } = Context.current().info;
      if (!workflowExecution) throw ApplicationFailure.nonRetryable('startRun runs only inside an ingest workflow', 'NoWorkflow');
      const all = loadSourcesConfig(sourcesFile);
      const unknown = (input.sourceIds ?? []).filter((id) => !all.some((s) => s.id === id));
      if (unknown.length) throw ApplicationFailure.nonRetryable(`unknown source ids: ${unknown.join(', ')}`, 'UnknownSource');
      const sources = input.sourceIds?.length ? all.filter((s) => input.sourceIds!.includes(s.id)) : all;
      const runId = await startRun(db.em(), workflowExecution.workflowId, workflowExecution.runId, sources.map((s) => s.id));
      return { runId, sources: sources.map((s) => ({ id: s.id, deletePolicy: s.deletePolicy })) };
    },

    /** Extract: streams the source into raw_page chunks. A retry discards a half-landed payload and starts over. */
    async fetchSource({ runId, sourceId }: SourceStep): Promise<FetchOutcome> {
      const source = sourceById(sourceId);
      const ctx = Context.current();
      const location = source.location.type === 'file' ? `file://${source.location.path}` : source.location.url;
      const payload = await beginPayload(db.pool, runId, sourceId, location);
      if (payload.status !== 'landing') {
        const done = await db.pool.query<{ size_bytes: string; page_count: number }>('SELECT size_bytes, page_count FROM raw_payload WHERE id = $1', [payload.id]);
        return { payloadId: payload.id, bytes: Number(done.rows[0]!.size_bytes), pages: done.rows[0]!.page_count, notModified: payload.status === 'not_modified' };
      }
      const state = await db.em().findOne(SourceState, { sourceId });
      const validators = { etag: state?.etag ?? null, lastModified: state?.lastModified ?? null };
      const hash = createHash('sha256');
      let pages = 0;
      let bytes = 0;
      let document = 0;
      let last = { url: location, httpStatus: null as number | null, contentType: null as string | null, etag: null as string | null, lastModified: null as string | null, notModified: false };
      try {
        for await (const fetched of adapterFor(source).fetch(source, { validators, signal: ctx.cancellationSignal })) {
          last = fetched;
          if (fetched.notModified) break;
          for await (const chunk of rechunk(fetched.body, CHUNK_BYTES)) {
            await appendPage(db.pool, payload.id, pages++, document, chunk);
            hash.update(chunk);
            bytes += chunk.length;
            ctx.heartbeat({ pages, bytes });
          }
          document++;
        }
      } catch (error) {
        if (error instanceof PermanentSourceError) throw ApplicationFailure.nonRetryable(error.message, error.name);
        throw error;
      }
      await finishLanding(db.pool, payload.id, { ...last, contentHash: last.notModified ? null : hash.digest('hex'), sizeBytes: bytes, pageCount: pages });
      await updateRunSource(db.em(), runId, sourceId, { payloadId: payload.id, bytes, pages });
      return { payloadId: payload.id, bytes, pages, notModified: last.notModified };
    },

    /** Extract: makes the landed payload immutable and says whether it differs from the last merged snapshot. */
    async storeRaw({ sourceId, payloadId }: PayloadStep): Promise<{ unchanged: boolean; contentHash: string | null }> {
      const stored = await storePayload(db.pool, payloadId, sourceId);
      return { unchanged: stored.status !== 'stored', contentHash: stored.contentHash };
    },

    /** Normalize: reads the stored payload back, validates each record, stages the good and quarantines the bad. */
    async normalize({ runId, sourceId, payloadId }: PayloadStep): Promise<{ parsed: number; staged: number; quarantined: number }> {
      const source = sourceById(sourceId);
      const adapter = adapterFor(source);
      const ctx = Context.current();
      await clearStage(db.pool, runId, sourceId);
      let position = 0;
      const writer = await StageWriter.open(db.pool, runId, sourceId, payloadId, async (stage) => {
        for await (const document of readDocuments(db.pool, payloadId)) {
          try {
            for await (const raw of adapter.read(document, source)) {
              const checked = validateRecord(adapter.recordKind, raw.candidate);
              if (checked.ok) await stage.stageRecord(position, checked.record, contentHash(checked.record));
              else await stage.rejectRecord({ position, sourceKey: keyOf(raw.candidate), reason: checked.reason, fields: raw.fields });
              if (++position % 10_000 === 0) ctx.heartbeat({ position });
            }
          } catch (error) {
            // the payload itself cannot be read: retrying the same bytes cannot help
            throw ApplicationFailure.nonRetryable(`source '${sourceId}': payload ${payloadId} is unreadable after record ${position}: ${(error as Error).message}`, 'UnreadablePayload');
          }
        }
      });
      const counts = { parsed: position, staged: writer.staged, quarantined: writer.quarantined };
      await updateRunSource(db.em(), runId, sourceId, counts);
      return counts;
    },

    /** Load: dedupes within the source and merges into record, skipping unchanged rows by content hash. */
    async dedupe({ runId, sourceId, payloadId }: PayloadStep): Promise<MergeCounts> {
      const source = sourceById(sourceId);
      return mergeStaged(db.pool, runId, sourceId, adapterFor(source).recordKind, payloadId);
    },

    /** Load: soft-deletes records gone from a complete snapshot, behind the delete guard. */
    async softDeleteOrphans({ runId, sourceId }: SourceStep): Promise<OrphanCounts> {
      const source = sourceById(sourceId);
      if (source.deletePolicy !== 'snapshot') return { softDeleted: 0, deleteGuard: `delete_policy is ${source.deletePolicy}` };
      const { rows } = await db.pool.query<{ status: string }>('SELECT status FROM raw_payload WHERE run_id = $1 AND source_id = $2', [runId, sourceId]);
      if (rows[0]?.status !== 'stored') {
        throw ApplicationFailure.nonRetryable(`source '${sourceId}': no complete stored snapshot in run ${runId}; nothing may be deleted`, 'IncompleteSnapshot');
      }
      return softDeleteOrphans(db.pool, runId, sourceId, source.maxDeleteRatio);
    },

    /** Closes the run with each source's outcome and frees its staging rows. */
    async finishRun({ runId, outcomes }: { runId: number; outcomes: SourceOutcome[] }): Promise<RunSummary> {
      const status = await finishRun(db.em(), runId, outcomes);
      await dropStage(db.pool, runId);
      return { runId, status, sources: outcomes };
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;

function keyOf(candidate: Record<string, unknown>): string | null {
  const key = candidate.sourceKey;
  return typeof key === 'string' && key.trim() !== '' ? key.trim() : null;
}

/** Regroups a byte stream into chunks of about `size` bytes, so raw_page rows are neither tiny nor huge. */
async function* rechunk(body: AsyncIterable<Uint8Array>, size: number): AsyncIterable<Buffer> {
  let parts: Buffer[] = [];
  let length = 0;
  for await (const piece of body) {
    let buf = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    while (length + buf.length >= size) {
      const take = size - length;
      parts.push(buf.subarray(0, take));
      yield Buffer.concat(parts);
      buf = buf.subarray(take);
      parts = [];
      length = 0;
    }
    if (buf.length) {
      parts.push(buf);
      length += buf.length;
    }
  }
  if (length) yield Buffer.concat(parts);
}
