// The per-record pipeline of normalize: one source record to a unified record, or to the reason it is
// quarantined. Pure, so the normalize stage (src/stages/normalize.ts) and a source check that previews it
// judge every record alike.
import type { SourceConfig } from '../sources/config.ts';
import type { SourceAdapter, SourceFields } from '../sources/types.ts';
import { frozenReason, type DriftChange } from './drift.ts';
import { applyMapping, type FieldMapping } from './mapping.ts';
import {
  clearSentinels,
  validateRecord,
  type FieldIssue,
  type NormalizedRecord,
  type RecordKind,
  type ValidationContext,
} from './record.ts';
import { historyRowProblem, type Series } from './series.ts';

/** What the pipeline needs to know of the payload, decided once from its sample. */
export interface RecordRules {
  kind: RecordKind;
  mapping: FieldMapping;
  sentinels: SourceAdapter['sentinels'];
  /** The changes drift policy freeze holds records for. */
  frozen: DriftChange[];
  validation: ValidationContext;
  series: Series | null;
}

/** The rules for a payload of the source, fetched at `fetchedAt`, once its mapping and series are decided. */
export function recordRules(
  source: SourceConfig,
  adapter: SourceAdapter,
  {
    mapping,
    series,
    fetchedAt,
    frozen = [],
  }: { mapping: FieldMapping; series: Series | null; fetchedAt: Date; frozen?: DriftChange[] },
): RecordRules {
  return {
    kind: adapter.recordKind,
    mapping,
    sentinels: adapter.sentinels,
    frozen,
    validation: {
      dateFormat: source.csv.dateFormat,
      timeZone: source.timeZone,
      fetchedAt,
      // the operator mapping the symbol column by hand, or fixing the symbol, says these are symbols whatever they look like
      trustSymbol: Boolean(source.mapping.symbol || source.constants.symbol),
    },
    series,
  };
}

export type RecordOutcome =
  | {
      ok: true;
      record: NormalizedRecord;
      issues: FieldIssue[];
      /** The fields whose zone-less time of day was read as UTC. */
      zoneAssumed: string[];
      /** The mapped fields before validation: the values as the source wrote them. */
      candidate: Record<string, unknown>;
    }
  | { ok: false; sourceKey: string | null; reason: string };

/**
 * One record through the pipeline: mapped to unified fields, the source's "no value" spellings cleared, held
 * under drift policy freeze, validated, and refused as a row of a history without a time.
 */
export function normalizeRecord(fields: SourceFields, rules: RecordRules): RecordOutcome {
  const candidate = applyMapping(fields, rules.mapping);
  clearSentinels(candidate, rules.sentinels);
  const sourceKey =
    typeof candidate.sourceKey === 'string' && candidate.sourceKey.trim() ? candidate.sourceKey.trim() : null;
  const held = rules.frozen.length ? frozenReason(rules.frozen, fields) : null;
  if (held) return { ok: false, sourceKey, reason: held };
  const validated = validateRecord(rules.kind, candidate, rules.validation);
  if (!validated.ok) return { ok: false, sourceKey, reason: validated.reason };
  const undated = rules.series === 'history' ? historyRowProblem(validated.record.sourceUpdatedAt) : null;
  if (undated) return { ok: false, sourceKey, reason: undated };
  return {
    ok: true,
    record: validated.record,
    issues: validated.issues,
    zoneAssumed: validated.zoneAssumed,
    candidate,
  };
}
