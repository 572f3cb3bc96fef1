// Normalize: read the stored payload back, decide where each unified field comes from (declared, matched
// from the header, renamed under drift policy evolve, or configured), then validate every record: good ones
// are COPYed into stage_record, bad ones into quarantine with the reason. Schema drift is detected here.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { acceptRenames, acceptedRenames, previousObservedSchema, recordDrift, type DriftAction } from '../db/drift.ts';
import { payloadStanding } from '../db/merge.ts';
import { payloadInfo, readDocuments } from '../db/raw.ts';
import { updateRunSource } from '../db/runs.ts';
import { StageWriter, analyzeStage, clearStage, rowsBefore, stagedCounts } from '../db/stage.ts';
import { RENAME_THRESHOLD, SchemaObserver, detectDrift, frozenReason, type DriftChange } from '../normalize/drift.ts';
import { matchKeyOf } from '../normalize/identity.ts';
import { historyRowProblem, inferSeries } from '../normalize/series.ts';
import { applyMapping, missingRequired, resolveMapping, sampleValues } from '../normalize/mapping.ts';
import { clearSentinels, contentHash, snakeToField, toSnake, validateRecord } from '../normalize/record.ts';
import { excerpt } from '../normalize/values.ts';
import { adapterFor } from '../sources/index.ts';
import pg from 'pg';
import { UnreadablePayloadError, isUnparsed, type SourceFields, type Unparsed } from '../sources/types.ts';
import { runStage, sourceById, type ActivityDeps, type PayloadStep } from './common.ts';
import { atRecord } from './faults.ts';

/** Schema and mapping are decided from this many leading records. */
const SAMPLE_SIZE = 1000;
/** Staged rows are committed, and the position heartbeated, every this many records. */
const CHECKPOINT_RECORDS = 50_000;

export interface NormalizeOutcome {
  parsed: number;
  staged: number;
  quarantined: number;
  fieldIssues: number;
  driftEvents: number;
}

export function normalizeActivities({ db, sourcesFile }: ActivityDeps) {
  return {
    /**
     * Stages the payload's records, committing every 50,000 and heartbeating the position: a retry after a
     * crash keeps what was committed, drops anything after it, and continues from there.
     */
    async normalize(step: PayloadStep): Promise<NormalizeOutcome> {
      return runStage<NormalizeOutcome, { position: number }>(db, step, async (progress) => {
        const { runId, sourceId, payloadId } = step;
        const source = sourceById(sourcesFile, sourceId);
        const adapter = adapterFor(source);
        const ctx = Context.current();
        const info = await payloadInfo(db.pool, payloadId);
        let resumeFrom = progress.resumeFrom?.position ?? 0;
        if (resumeFrom > 0 && (await rowsBefore(db.pool, runId, sourceId, resumeFrom)) !== resumeFrom) {
          ctx.log.warn(
            'normalize starts over: the rows an earlier attempt committed are gone (a PostgreSQL crash empties staging)',
            { sourceId, position: resumeFrom },
          );
          resumeFrom = 0;
        }
        if (resumeFrom > 0)
          ctx.log.info('normalize resumes after an interrupted attempt', { sourceId, position: resumeFrom });
        await clearStage(db.pool, runId, sourceId, resumeFrom);

        const records = readRecords(payloadId);
        const sample: (SourceFields | Unparsed)[] = [];
        const observer = new SchemaObserver();
        for (let next = await records.next(); !next.done; next = await records.next()) {
          if (!isUnparsed(next.value)) observer.observe(next.value);
          if (sample.push(next.value) >= SAMPLE_SIZE) break;
        }
        const observed = observer.schema();

        // drift against the previous run; an empty payload has no schema to compare
        const previous = sample.length ? await previousObservedSchema(db.em(), sourceId, runId, payloadId) : null;
        const changes = previous ? detectDrift(previous, observed) : [];
        const renames = await acceptedRenames(db.em(), sourceId);
        const evolve =
          source.driftPolicy === 'evolve'
            ? changes.filter((c) => c.change === 'renamed' && c.confidence! >= RENAME_THRESHOLD)
            : [];
        for (const c of evolve) renames[c.previousField!] = c.field;
        // the source keeps a rename only from a payload that can become its checkpoint: not from a dry run,
        // nor from one fetched before the payload it merged last (that one's fields are the current ones)
        const standing = evolve.length ? await payloadStanding(db.pool, runId, sourceId, payloadId) : null;
        if (standing && !standing.dryRun && !standing.newer)
          await acceptRenames(db.em(), sourceId, adapter.recordKind, renames);
        const events = changes.map((c) => ({ ...c, action: actionFor(source.driftPolicy, c, evolve) }));
        for (const e of events) ctx.log.warn('schema drift', { sourceId, ...e });
        await recordDrift(db.em(), runId, sourceId, events);

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
          throw ApplicationFailure.nonRetryable(
            `source '${sourceId}': nothing maps to ${missing.map(toSnake).join(', ')}; fields: ${Object.keys(observed).join(', ')}` +
              `${guesses.length ? `; closest below the threshold: ${guesses.join(', ')}` : ''}; set 'mapping' in the sources file`,
            'UnmappableSource',
          );
        }
        // the operator mapping the symbol column by hand, or fixing the symbol, says these are symbols whatever they look like
        const trustSymbol = Boolean(source.mapping.symbol || source.constants.symbol);
        const series = adapter.recordKind === 'asset' ? inferSeries(source.series, sample, mapping) : null;
        await updateRunSource(db.em(), runId, sourceId, {
          observedSchema: observed,
          fieldMapping: { mapping, unmapped },
          driftEvents: events.length,
          series,
        });
        const fetchedAt = info.fetchedAt.toISOString();

        const frozen = source.driftPolicy === 'freeze' ? changes : [];
        const keyedBySymbol = mapping.sourceKey?.how === 'symbol';
        let position = 0;
        // zone-less times read as UTC, per field: how many, and the first as an example
        const zoneless = new Map<string, { count: number; example: string }>();
        await StageWriter.open(db.pool, runId, sourceId, payloadId, async (stage) => {
          const all = (async function* () {
            yield* sample;
            yield* records;
          })();
          for await (const fields of all) {
            if (position < resumeFrom) {
              position++; // staged by an earlier attempt
              continue;
            }
            atRecord(source, ctx.info.attempt, position);
            if (position > resumeFrom && position % CHECKPOINT_RECORDS === 0) {
              await stage.commit();
              progress.beat({ position });
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
            const candidate = applyMapping(fields, mapping);
            clearSentinels(candidate, adapter.sentinels);
            const key =
              typeof candidate.sourceKey === 'string' && candidate.sourceKey.trim() ? candidate.sourceKey.trim() : null;
            const held = frozen.length ? frozenReason(frozen, fields) : null;
            const validated = held
              ? ({ ok: false, reason: held } as const)
              : validateRecord(adapter.recordKind, candidate, {
                  dateFormat: source.csv.dateFormat,
                  timeZone: source.timeZone,
                  fetchedAt: info.fetchedAt,
                  trustSymbol,
                });
            const undated =
              series === 'history' && validated.ok ? historyRowProblem(validated.record.sourceUpdatedAt) : null;
            const checked = undated ? ({ ok: false, reason: undated } as const) : validated;
            if (checked.ok) {
              const { record } = checked;
              await stage.stageRecord(
                position,
                record,
                record.sourceUpdatedAt ?? fetchedAt,
                matchKeyOf(adapter.recordKind, record, keyedBySymbol, source.kind),
                contentHash(record),
              );
              if (checked.issues.length) await stage.noteIssues(position, record.sourceKey, checked.issues);
              for (const field of checked.zoneAssumed) {
                const seen =
                  zoneless.get(field) ??
                  zoneless.set(field, { count: 0, example: excerpt(candidate[snakeToField(field)!]) }).get(field)!;
                seen.count++;
              }
            } else await stage.rejectRecord({ position, sourceKey: key, reason: checked.reason, fields });
            position++;
          }
        });
        await analyzeStage(db.pool);
        // counted from the table: a resumed attempt wrote only part of them
        const counts = {
          parsed: position,
          ...(await stagedCounts(db.pool, runId, sourceId)),
          driftEvents: events.length,
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
        if (warnings.length) ctx.log.warn('source payload read with warnings', { sourceId, payloadId, warnings });
        await updateRunSource(db.em(), runId, sourceId, {
          parsed: counts.parsed,
          staged: counts.staged,
          quarantined: counts.quarantined,
          fieldIssues: counts.fieldIssues,
          warnings,
        });
        return counts;

        async function* readRecords(id: number): AsyncGenerator<SourceFields | Unparsed> {
          try {
            for await (const document of readDocuments(db.pool, id)) yield* adapter.read(document, source, info);
          } catch (error) {
            // the database failing is worth a retry; bytes that do not parse will not parse next time either
            if (
              error instanceof pg.DatabaseError ||
              error instanceof UnreadablePayloadError ||
              /ECONN|ETIMEDOUT|EPIPE|Connection terminated/i.test(String(error))
            )
              throw error;
            throw new UnreadablePayloadError(
              `source '${sourceId}': payload ${id} is not readable as ${source.kind}: ${(error as Error).message}`,
            );
          }
        }
      });
    },
  };
}

function actionFor(policy: 'evolve' | 'warn' | 'freeze', change: DriftChange, applied: DriftChange[]): DriftAction {
  if (applied.includes(change)) return 'applied';
  return policy === 'freeze' ? 'quarantined' : 'reported';
}
