// Normalize's algorithm: read a stored payload back, decide where each unified field comes from (declared,
// matched from the header, renamed under drift policy evolve, or configured), then put every record through
// the per-record pipeline (src/normalize/pipeline.ts): good ones are COPYed into stage_record, bad ones into
// quarantine with the reason. Schema drift is detected, and the source's drift policy applied, here. A large
// payload is decided once and then staged in parts (src/stages/parts.ts) by normalizePart, joined by
// finishParts. Plain inputs only (a database, the source, a checkpoint callback, a resume position, a log),
// so it runs without Temporal.
import pg from 'pg';
import { acceptRenames, acceptedRenames, previousObservedSchema, recordDrift, type DriftAction } from '../db/drift.ts';
import { payloadStanding } from '../db/merge.ts';
import type { Database } from '../db/orm.ts';
import { payloadInfo, readDocuments } from '../db/raw.ts';
import type { Readable } from 'node:stream';
import { updateRunSource } from '../db/runs.ts';
import {
  StageWriter,
  StagingLostError,
  analyzeStage,
  clearStage,
  placeParts,
  rowsBefore,
  rowsByPart,
  stagedCounts,
} from '../db/stage.ts';
import { type Queryable, explainAcquireTimeout, transaction, withConnections } from '../db/sql.ts';
import { matchKeyOf } from '../identity/rules.ts';
import {
  RENAME_THRESHOLD,
  SchemaObserver,
  detectDrift,
  type DriftChange,
  type ObservedSchema,
} from '../normalize/drift.ts';
import { missingRequired, resolveMapping, sampleValues } from '../normalize/mapping.ts';
import { normalizeRecord, recordRules } from '../normalize/pipeline.ts';
import { contentHash, snakeToField, toSnake } from '../normalize/record.ts';
import { inferSeries } from '../normalize/series.ts';
import { excerpt } from '../normalize/values.ts';
import type { SourceConfig } from '../sources/config.ts';
import { adapterFor } from '../sources/index.ts';
import {
  UnreadablePayloadError,
  isUnparsed,
  type DocumentInfo,
  type SourceFields,
  type Unparsed,
} from '../sources/types.ts';
import { atRecord } from './faults.ts';
import { type PartsPlan, partDocuments, planParts, shiftsOf } from './parts.ts';
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

/** A payload too large for one activity: planned as `parts` parts (normalizePart each, then finishParts). */
export interface PlannedParts {
  parts: number;
}

/** What one part read: its records, and the times it read as UTC for want of a zone (per field). */
export interface PartOutcome {
  parsed: number;
  /** It resumed after an interrupted attempt, so `zoneless` counts only what came after the checkpoint. */
  resumed: boolean;
  zoneless: [field: string, seen: { count: number; example: string }][];
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

type Step = { runId: number; payloadId: number };

/**
 * Stages the payload's records, committing every CHECKPOINT_RECORDS: resumed from a committed position, it
 * keeps what was committed, drops anything after it, and continues from there. With `partBytes`, a larger
 * payload that can be cut is only planned: its parts are then normalized by normalizePart, on any worker.
 */
export async function normalizePayload(
  db: Database,
  step: Step,
  source: SourceConfig,
  options: NormalizeOptions & { partBytes?: number },
): Promise<NormalizeOutcome | PlannedParts> {
  const { runId, payloadId } = step;
  const sourceId = source.id;
  const adapter = adapterFor(source);
  const info = await payloadInfo(db.pool, payloadId);
  const planned = options.partBytes ? await planParts(db, payloadId, adapter, source, info, options.partBytes) : null;
  // the first records decide schema, drift and mapping: read page by page with no connection held, since
  // deciding writes through the pool (a unit holding connections must not wait for another)
  const sample: (SourceFields | Unparsed)[] = [];
  const observer = new SchemaObserver();
  for await (const record of readRecords(source, payloadId, info, wholeDocuments(db.pool, payloadId, source))) {
    if (!isUnparsed(record)) observer.observe(record);
    if (sample.push(record) >= SAMPLE_SIZE) break;
  }
  const decision = await decide(db, step, source, sample, observer.schema(), options.log);
  // jsonb cannot hold a NUL: a plan naming such a column could not be kept as it was decided
  if (planned && !JSON.stringify(decision).includes('\\u0000')) {
    await clearStage(db.pool, runId, sourceId);
    const plan: PartsPlan = { ...planned, decision };
    await updateRunSource(db.em(), runId, sourceId, { normalizePlan: plan as unknown as Record<string, unknown> });
    options.log.info('normalize planned in parts', { sourceId, parts: planned.parts.length });
    return { parts: planned.parts.length };
  }
  await updateRunSource(db.em(), runId, sourceId, { normalizePlan: null });
  const outcome = await stageRange(db, step, source, decision, options, {
    part: 0,
    base: 0,
    end: undefined,
    documents: (reader) => wholeDocuments(reader, payloadId, source),
  });
  return finishStaging(db, step, source, decision.driftEvents, [outcome], options.log);
}

/** Stages one part of a payload planned in parts, resumable like a whole payload. */
export async function normalizePart(
  db: Database,
  step: Step,
  source: SourceConfig,
  part: number,
  options: NormalizeOptions,
): Promise<PartOutcome> {
  const plan = await partsPlan(db, step.runId, source.id);
  const pieces = plan.parts[part];
  if (!pieces) throw new Error(`source '${source.id}': run ${step.runId} has no part ${part}`);
  // once joined, the positions are the payload's: a part staged again now would clear other parts' rows
  if (plan.shifts)
    throw new Refusal(
      'PartsJoined',
      `source '${source.id}': the parts of run ${step.runId} were joined already; to normalize again, reset the workflow to before its normalize`,
    );
  return stageRange(db, step, source, plan.decision, options, {
    part,
    base: part * plan.stride,
    end: (part + 1) * plan.stride,
    documents: (reader) => partDocuments(reader, step.payloadId, pieces, source),
  });
}

/**
 * Once every part is staged: checks that every part's records are still there (staging is unlogged), places
 * their positions into the payload's, and writes the counts, all in one transaction, so that a later loss of
 * staged rows is caught by the merge as it is for a whole payload.
 */
export async function finishParts(
  db: Database,
  step: Step,
  source: SourceConfig,
  outcomes: PartOutcome[],
  log: StageLog,
): Promise<NormalizeOutcome> {
  const { runId } = step;
  const sourceId = source.id;
  const { plan, counts } = await transaction(db.pool, async (client) => {
    const { rows } = await client.query<{ plan: PartsPlan; staged: number; quarantined: number; fieldIssues: number }>(
      `SELECT normalize_plan AS plan, staged, quarantined, field_issues AS "fieldIssues"
       FROM run_source WHERE run_id = $1 AND source_id = $2 FOR UPDATE`,
      [runId, sourceId],
    );
    const { plan, ...recorded } = rows[0] ?? {};
    if (!plan || plan.parts.length !== outcomes.length)
      throw new Error(`source '${sourceId}': run ${runId} was not planned in ${outcomes.length} parts`);
    if (plan.shifts) return { plan, counts: recorded as Omit<NormalizeOutcome, 'parsed' | 'driftEvents'> }; // a retry: done already
    const present = await rowsByPart(client, runId, sourceId, plan.stride);
    const lost = outcomes.reduce((sum, o, k) => sum + o.parsed - (present.get(k) ?? 0), 0);
    if (lost !== 0)
      throw new StagingLostError(
        `source '${sourceId}': ${lost} of ${outcomes.reduce((sum, o) => sum + o.parsed, 0)} records of its parts are gone from staging (PostgreSQL restarted after a crash, which empties the unlogged staging table); ` +
          'nothing was merged or deleted, and the next run ingests the payload again',
      );
    const shifts = shiftsOf(
      plan.stride,
      outcomes.map((o) => o.parsed),
    );
    await placeParts(client, runId, sourceId, plan.stride, shifts);
    const counts = await stagedCounts(client, runId, sourceId);
    await client.query(
      `UPDATE run_source SET normalize_plan = $3, staged = $4, quarantined = $5, field_issues = $6
       WHERE run_id = $1 AND source_id = $2`,
      [runId, sourceId, JSON.stringify({ ...plan, shifts }), counts.staged, counts.quarantined, counts.fieldIssues],
    );
    return { plan, counts };
  });
  return finishStaging(db, step, source, plan.decision.driftEvents, outcomes, log, counts);
}

async function partsPlan(db: Database, runId: number, sourceId: string): Promise<PartsPlan> {
  const { rows } = await db.pool.query<{ plan: PartsPlan | null }>(
    'SELECT normalize_plan AS plan FROM run_source WHERE run_id = $1 AND source_id = $2',
    [runId, sourceId],
  );
  const plan = rows[0]?.plan;
  if (!plan) throw new Error(`source '${sourceId}': run ${runId} was not planned in parts`);
  return plan;
}

/** Every stored document of the payload, whole, read as the source says. */
async function* wholeDocuments(reader: Queryable, payloadId: number, source: SourceConfig) {
  for await (const document of readDocuments(reader, payloadId)) yield { document, source };
}

type Documents =
  | AsyncIterable<{ document: Readable; source: SourceConfig }>
  | Iterable<{ document: Readable; source: SourceConfig }>;

/** The records of the documents, in order; bytes that do not parse fail as an unreadable payload. */
async function* readRecords(
  source: SourceConfig,
  payloadId: number,
  info: DocumentInfo,
  documents: Documents,
): AsyncGenerator<SourceFields | Unparsed> {
  const adapter = adapterFor(source);
  try {
    for await (const { document, source: readAs } of documents) yield* adapter.read(document, readAs, info);
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
      `source '${source.id}': payload ${payloadId} is not readable as ${source.kind}: ${(error as Error).message}`,
    );
  }
}
/** Drift against the previous run, the renames it accepts, the mapping and the series kind. */
async function decide(
  db: Database,
  { runId, payloadId }: Step,
  source: SourceConfig,
  sample: (SourceFields | Unparsed)[],
  observed: ObservedSchema,
  log: StageLog,
): Promise<PartsPlan['decision']> {
  const sourceId = source.id;
  const adapter = adapterFor(source);
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
  return { mapping, series, frozen: drift.frozen, driftEvents: drift.events.length };
}

/** Which records to stage: part `part`'s documents, at positions from `base` up to (not including) `end`. */
interface Range {
  part: number;
  base: number;
  end: number | undefined;
  documents: (reader: Queryable) => Documents;
}

/**
 * Puts every record of the range through the per-record pipeline, on a reader and the two COPY streams held
 * together from the first page to the last commit. Resumes from `options.resumeFrom` (counted in the range).
 */
async function stageRange(
  db: Database,
  { runId, payloadId }: Step,
  source: SourceConfig,
  decision: PartsPlan['decision'],
  { attempt, resumeFrom: committed, onCheckpoint, log, signal }: NormalizeOptions,
  { part, base, end, documents }: Range,
): Promise<PartOutcome> {
  const sourceId = source.id;
  const adapter = adapterFor(source);
  const info = await payloadInfo(db.pool, payloadId);
  const fetchedAt = info.fetchedAt.toISOString();
  const { mapping, series, frozen } = decision;
  const rules = recordRules(source, adapter, { mapping, series, fetchedAt: info.fetchedAt, frozen });
  const keyedBySymbol = mapping.sourceKey?.how === 'symbol';
  let resumeFrom = committed;
  if (resumeFrom > 0 && (await rowsBefore(db.pool, runId, sourceId, base + resumeFrom, base)) !== resumeFrom) {
    log.warn(
      'normalize starts over: the rows an earlier attempt committed are gone (a PostgreSQL crash empties staging)',
      { sourceId, part, position: resumeFrom },
    );
    resumeFrom = 0;
  }
  if (resumeFrom > 0)
    log.info('normalize resumes after an interrupted attempt', { sourceId, part, position: resumeFrom });
  await clearStage(db.pool, runId, sourceId, base + resumeFrom, end);

  let position = 0; // within the range
  // zone-less times read as UTC, per field: how many, and the first as an example
  const zoneless = new Map<string, { count: number; example: string }>();
  await withConnections(
    db.pool,
    3,
    async ([reader, ...writers]) => {
      await StageWriter.open([writers[0]!, writers[1]!], runId, sourceId, payloadId, async (stage) => {
        for await (const fields of readRecords(source, payloadId, info, documents(reader!))) {
          if (position < resumeFrom) {
            position++; // staged by an earlier attempt
            continue;
          }
          atRecord(source, attempt, position, part);
          if (position > resumeFrom && position % CHECKPOINT_RECORDS === 0) {
            await stage.commit();
            onCheckpoint({ position });
          }
          const at = base + position;
          if (isUnparsed(fields)) {
            await stage.rejectRecord({
              position: at,
              sourceKey: null,
              reason: fields.reason,
              fields: { line: fields.unparsed },
            });
            position++;
            continue;
          }
          const result = normalizeRecord(fields, rules);
          if (result.ok) {
            const { record } = result;
            await stage.stageRecord(
              at,
              record,
              record.sourceUpdatedAt ?? fetchedAt,
              matchKeyOf(adapter.recordKind, record, keyedBySymbol, source.kind),
              contentHash(record),
            );
            if (result.issues.length) await stage.noteIssues(at, record.sourceKey, result.issues);
            for (const field of result.zoneAssumed) {
              const seen =
                zoneless.get(field) ??
                zoneless.set(field, { count: 0, example: excerpt(result.candidate[snakeToField(field)!]) }).get(field)!;
              seen.count++;
            }
          } else await stage.rejectRecord({ position: at, sourceKey: result.sourceKey, reason: result.reason, fields });
          position++;
        }
      });
    },
    signal,
  );
  return { parsed: position, resumed: resumeFrom > 0, zoneless: [...zoneless] };
}

/** The counts from the table (a resumed attempt wrote only part of them), and the warnings, on run_source. */
async function finishStaging(
  db: Database,
  { runId, payloadId }: Step,
  source: SourceConfig,
  driftEvents: number,
  outcomes: PartOutcome[],
  log: StageLog,
  /** Counted already, together with checking that nothing is missing (a payload in parts). */
  staged?: { staged: number; quarantined: number; fieldIssues: number },
): Promise<NormalizeOutcome> {
  const sourceId = source.id;
  const adapter = adapterFor(source);
  await analyzeStage(db.pool);
  const parsed = outcomes.reduce((sum, o) => sum + o.parsed, 0);
  const counts = { parsed, ...(staged ?? (await stagedCounts(db.pool, runId, sourceId))), driftEvents };
  // an empty payload succeeds (and never deletes: the orphan check refuses an empty snapshot), but says so
  const warnings =
    parsed === 0
      ? [
          `the payload has no records (${adapter.recordKind === 'article' ? 'a feed without items' : 'a file with a header only, or an empty list'})`,
        ]
      : [];
  const zoneless = new Map<string, { count: number; example: string }>();
  for (const [field, seen] of outcomes.flatMap((o) => o.zoneless)) {
    const total = zoneless.get(field);
    if (total) total.count += seen.count;
    else zoneless.set(field, { ...seen });
  }
  for (const [field, { count, example }] of zoneless) {
    // a resumed attempt saw only the records after its checkpoint
    warnings.push(
      `${field}: read as UTC in ${outcomes.some((o) => o.resumed) ? 'at least ' : ''}${count} record${count === 1 ? '' : 's'}, written without a time zone (e.g. ${example}); set timezone in the sources file`,
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
