// Normalize's algorithm: read a stored payload back, decide where each unified field comes from (declared,
// matched from the header, renamed under drift policy evolve, or configured), then put every record through
// the per-record pipeline (src/normalize/pipeline.ts): good ones are COPYed into stage_record, bad ones into
// quarantine with the reason. Schema drift is detected, and the source's drift policy applied, here. Plain inputs only (a database, the source, a checkpoint callback, a resume
// position, a log), so it runs without Temporal.
import pg from 'pg';
import { acceptRenames, acceptedRenames, previousObservedSchema, recordDrift, type DriftAction } from '../db/drift.ts';
import { payloadStanding } from '../db/merge.ts';
import type { Database } from '../db/orm.ts';
import { payloadInfo, readDocuments } from '../db/raw.ts';
import { updateRunSource } from '../db/runs.ts';
import { StageWriter, analyzeStage, clearStage, rowsBefore, stagedCounts } from '../db/stage.ts';
import { type Queryable, explainAcquireTimeout, withConnections } from '../db/sql.ts';
import { matchKeyOf } from '../identity/rules.ts';
import { RENAME_THRESHOLD, SchemaObserver, detectDrift, type DriftChange } from '../normalize/drift.ts';
import { missingRequired, resolveMapping, sampleValues } from '../normalize/mapping.ts';
import { normalizeRecord, recordRules } from '../normalize/pipeline.ts';
import { contentHash, snakeToField, toSnake } from '../normalize/record.ts';
import { inferSeries } from '../normalize/series.ts';
import { excerpt } from '../normalize/values.ts';
import type { SourceConfig } from '../sources/config.ts';
import { adapterFor } from '../sources/index.ts';
import { UnreadablePayloadError, isUnparsed, type SourceFields, type Unparsed } from '../sources/types.ts';
import { atRecord } from './faults.ts';
import { Refusal } from './refusal.ts';

/** Schema and mapping are decided from this many leading records. */
const SAMPLE_SIZE = 1000;
/** Staged rows are committed, and the position reported, every this many records. */
const CHECKPOINT_RECORDS = 50_000;

export interface NormalizeOutcome {
  parsed: number;
  staged: number;
  quarantined: number;
  fieldIssues: number;
  driftEvents: number;
}

/** Where the stage says what it noticed (Temporal's activity log fits). */
export interface StageLog {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
}

export interface NormalizeOptions {
  /** Which attempt this is (1 for the first): the sources file's fault injection misbehaves only on the first. */
  attempt: number;
  /** The position an earlier attempt committed up to (0: from the start); checked against what staging holds. */
  resumeFrom: number;
  /** Called after each commit of staged rows with the position committed up to: the next resume point. */
  onCheckpoint: (committed: { position: number }) => void;
  log: StageLog;
  /** Aborted when the attempt is cancelled: a wait for connections ends with it. */
  signal?: AbortSignal;
}

/**
 * Stages the payload's records, committing every CHECKPOINT_RECORDS: resumed from a committed position, it
 * keeps what was committed, drops anything after it, and continues from there.
 */
export async function normalizePayload(
  db: Database,
  { runId, payloadId }: { runId: number; payloadId: number },
  source: SourceConfig,
  { attempt, resumeFrom: committed, onCheckpoint, log, signal }: NormalizeOptions,
): Promise<NormalizeOutcome> {
  const sourceId = source.id;
  const adapter = adapterFor(source);
  const info = await payloadInfo(db.pool, payloadId);
  let resumeFrom = committed;
  if (resumeFrom > 0 && (await rowsBefore(db.pool, runId, sourceId, resumeFrom)) !== resumeFrom) {
    log.warn(
      'normalize starts over: the rows an earlier attempt committed are gone (a PostgreSQL crash empties staging)',
      { sourceId, position: resumeFrom },
    );
    resumeFrom = 0;
  }
  if (resumeFrom > 0) log.info('normalize resumes after an interrupted attempt', { sourceId, position: resumeFrom });
  await clearStage(db.pool, runId, sourceId, resumeFrom);

  let position = 0;
  // zone-less times read as UTC, per field: how many, and the first as an example
  const zoneless = new Map<string, { count: number; example: string }>();
  // the first records decide schema, drift and mapping: read page by page with no connection held, since
  // deciding writes through the pool (a unit holding connections must not wait for another)
  const sample: (SourceFields | Unparsed)[] = [];
  const observer = new SchemaObserver();
  for await (const record of readRecords(db.pool)) {
    if (!isUnparsed(record)) observer.observe(record);
    if (sample.push(record) >= SAMPLE_SIZE) break;
  }
  const observed = observer.schema();
  const { drift, rules, keyedBySymbol } = await decide();
  const fetchedAt = info.fetchedAt.toISOString();

  // then the whole payload again, from its first record, on a reader and the two COPY streams held together
  // from the first page to the last commit
  await withConnections(
    db.pool,
    3,
    async ([reader, ...writers]) => {
      await StageWriter.open([writers[0]!, writers[1]!], runId, sourceId, payloadId, async (stage) => {
        for await (const fields of readRecords(reader!)) {
          if (position < resumeFrom) {
            position++; // staged by an earlier attempt
            continue;
          }
          atRecord(source, attempt, position);
          if (position > resumeFrom && position % CHECKPOINT_RECORDS === 0) {
            await stage.commit();
            onCheckpoint({ position });
          }
          if (isUnparsed(fields)) {
            await stage.rejectRecord({
              position: position++,
              sourceKey: null,
              reason: fields.reason,
              fields: { line: fields.unparsed },
            });
            continue;
          }
          const result = normalizeRecord(fields, rules);
          if (result.ok) {
            const { record } = result;
            await stage.stageRecord(
              position,
              record,
              record.sourceUpdatedAt ?? fetchedAt,
              matchKeyOf(adapter.recordKind, record, keyedBySymbol, source.kind),
              contentHash(record),
            );
            if (result.issues.length) await stage.noteIssues(position, record.sourceKey, result.issues);
            for (const field of result.zoneAssumed) {
              const seen =
                zoneless.get(field) ??
                zoneless.set(field, { count: 0, example: excerpt(result.candidate[snakeToField(field)!]) }).get(field)!;
              seen.count++;
            }
          } else await stage.rejectRecord({ position, sourceKey: result.sourceKey, reason: result.reason, fields });
          position++;
        }
      });
    },
    signal,
  );
  await analyzeStage(db.pool);
  // counted from the table: a resumed attempt wrote only part of them
  const counts = {
    parsed: position,
    ...(await stagedCounts(db.pool, runId, sourceId)),
    driftEvents: drift.events.length,
  };
  // an empty payload succeeds (and never deletes: the orphan check refuses an empty snapshot), but says so
  const warnings =
    position === 0
      ? [
          `the payload has no records (${adapter.recordKind === 'article' ? 'a feed without items' : 'a file with a header only, or an empty list'})`,
        ]
      : [];
  for (const [field, { count, example }] of zoneless) {
    // a resumed attempt saw only the records after its checkpoint
    warnings.push(
      `${field}: read as UTC in ${resumeFrom > 0 ? 'at least ' : ''}${count} record${count === 1 ? '' : 's'}, written without a time zone (e.g. ${example}); set timezone in the sources file`,
    );
  }
  if (warnings.length) log.warn('source payload read with warnings', { sourceId, payloadId, warnings });
  await updateRunSource(db.em(), runId, sourceId, {
    parsed: counts.parsed,
    staged: counts.staged,
    quarantined: counts.quarantined,
    fieldIssues: counts.fieldIssues,
    warnings,
  });
  return counts;

  /** Drift against the previous run, the renames it accepts, the mapping and the rules every record passes. */
  async function decide() {
    // drift against the previous run; an empty payload has no schema to compare
    const previous = sample.length ? await previousObservedSchema(db.em(), sourceId, runId, payloadId) : null;
    const drift = driftPolicy(source.driftPolicy, previous ? detectDrift(previous, observed) : []);
    const renames = await acceptedRenames(db.em(), sourceId);
    for (const c of drift.renamed) renames[c.previousField!] = c.field;
    // the source keeps a rename only from a payload that can become its checkpoint: not from a dry run,
    // nor from one fetched before the payload it merged last (that one's fields are the current ones)
    const standing = drift.renamed.length ? await payloadStanding(db.pool, runId, sourceId, payloadId) : null;
    if (standing && !standing.dryRun && !standing.newer)
      await acceptRenames(db.em(), sourceId, adapter.recordKind, renames);
    for (const e of drift.events) log.warn('schema drift', { sourceId, ...e });
    await recordDrift(db.em(), runId, sourceId, drift.events);

    const { mapping, unmapped } = resolveMapping({
      kind: adapter.recordKind,
      declared: adapter.fieldMap,
      columns: Object.keys(observed),
      configured: source.mapping,
      constants: source.constants,
      renames,
      // a column is judged by its values as well as its name (a `name` column of tickers is the symbol)
      samples: sampleValues(sample.filter((r): r is SourceFields => !isUnparsed(r))),
    });
    const missing = missingRequired(adapter.recordKind, mapping);
    if (sample.length && missing.length) {
      // near misses help an operator write the mapping; a 0.2 "match" would only be noise
      const guesses = unmapped
        .filter((u) => u.best && (u.best.confidence >= 0.5 || u.why))
        .map((u) => `${u.column} → ${toSnake(u.best!.field)} (${u.best!.confidence}${u.why ? `: ${u.why}` : ''})`);
      throw new Refusal(
        'UnmappableSource',
        `source '${sourceId}': nothing maps to ${missing.map(toSnake).join(', ')}; fields: ${Object.keys(observed).join(', ')}` +
          `${guesses.length ? `; closest below the threshold: ${guesses.join(', ')}` : ''}; set 'mapping' in the sources file`,
      );
    }
    const series = adapter.recordKind === 'asset' ? inferSeries(source.series, sample, mapping) : null;
    await updateRunSource(db.em(), runId, sourceId, {
      observedSchema: observed,
      fieldMapping: { mapping, unmapped },
      driftEvents: drift.events.length,
      series,
    });
    const rules = recordRules(source, adapter, { mapping, series, fetchedAt: info.fetchedAt, frozen: drift.frozen });
    const keyedBySymbol = mapping.sourceKey?.how === 'symbol';
    return { drift, rules, keyedBySymbol };
  }

  async function* readRecords(reader: Queryable): AsyncGenerator<SourceFields | Unparsed> {
    try {
      for await (const document of readDocuments(reader, payloadId)) yield* adapter.read(document, source, info);
    } catch (error) {
      // the database failing is worth a retry; bytes that do not parse will not parse next time either
      if (
        error instanceof pg.DatabaseError ||
        error instanceof UnreadablePayloadError ||
        explainAcquireTimeout(error) !== error ||
        /ECONN|ETIMEDOUT|EPIPE|Connection terminated/i.test(String(error))
      )
        throw error;
      throw new UnreadablePayloadError(
        `source '${sourceId}': payload ${payloadId} is not readable as ${source.kind}: ${(error as Error).message}`,
      );
    }
  }
}

/**
 * What the source's drift policy does with the changes against the previous run: evolve applies the confident
 * renames, freeze quarantines the records that carry a new or renamed field, warn (and evolve, for the rest)
 * only reports.
 */
export function driftPolicy(
  policy: SourceConfig['driftPolicy'],
  changes: DriftChange[],
): { renamed: DriftChange[]; frozen: DriftChange[]; events: (DriftChange & { action: DriftAction })[] } {
  const renamed =
    policy === 'evolve' ? changes.filter((c) => c.change === 'renamed' && c.confidence! >= RENAME_THRESHOLD) : [];
  const action = (c: DriftChange): DriftAction =>
    renamed.includes(c) ? 'applied' : policy === 'freeze' ? 'quarantined' : 'reported';
  return {
    renamed,
    frozen: policy === 'freeze' ? changes : [],
    events: changes.map((c) => ({ ...c, action: action(c) })),
  };
}
