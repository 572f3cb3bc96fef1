// Schema drift: the fields and value types each run observes, compared with the previous run's.
// A field that disappeared while a similar one appeared, holding the same type of value, is a probable
// rename, scored from name similarity (60 %) and value-type agreement (40 %).
import { nameSimilarity } from './mapping.ts';
import { parseDecimal } from './values.ts';

export type FieldType = 'number' | 'string' | 'boolean' | 'object' | 'array' | 'null';
/** Field name → the type most of its non-null values have ('null' when all were null). */
export type ObservedSchema = Record<string, FieldType>;

export interface DriftChange {
  change: 'added' | 'removed' | 'type_changed' | 'renamed';
  field: string;
  /** For a rename: the field it replaces. */
  previousField?: string;
  previousType?: FieldType;
  currentType?: FieldType;
  /** For a rename: how sure, 0..1. */
  confidence?: number;
}

/** A probable rename at or above this confidence is applied under drift policy `evolve`. */
export const RENAME_THRESHOLD = 0.8;
/** Below this a removed/added pair is reported as two unrelated changes. */
const RENAME_FLOOR = 0.5;

export function typeOf(value: unknown): FieldType {
  if (value === null || value === undefined || value === '') return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') return 'object';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number' || typeof value === 'bigint') return 'number';
  // CSV cells and exact JSON numbers both arrive as text
  try {
    return parseDecimal(value) === null ? 'null' : 'number';
  } catch {
    return 'string';
  }
}

/** Collects the fields and value types of the records it is shown. */
export class SchemaObserver {
  private readonly counts = new Map<string, Map<FieldType, number>>();

  observe(fields: Record<string, unknown>): void {
    for (const [name, value] of Object.entries(fields)) {
      const types = this.counts.get(name) ?? this.counts.set(name, new Map()).get(name)!;
      const type = typeOf(value);
      types.set(type, (types.get(type) ?? 0) + 1);
    }
  }

  schema(): ObservedSchema {
    const schema: ObservedSchema = {};
    for (const [name, types] of [...this.counts].sort(([a], [b]) => a.localeCompare(b))) {
      const ranked = [...types].filter(([t]) => t !== 'null').sort((a, b) => b[1] - a[1]);
      schema[name] = ranked[0]?.[0] ?? 'null';
    }
    return schema;
  }
}

const compatible = (a: FieldType, b: FieldType) => a === b || a === 'null' || b === 'null';

export function detectDrift(previous: ObservedSchema, current: ObservedSchema): DriftChange[] {
  const removed = Object.keys(previous).filter((f) => !(f in current));
  const added = Object.keys(current).filter((f) => !(f in previous));
  const changes: DriftChange[] = [];

  const pairs = removed
    .flatMap((old) =>
      added.map((fresh) => {
        const typeAgreement =
          previous[old] === current[fresh] ? 1 : compatible(previous[old]!, current[fresh]!) ? 0.5 : 0;
        return {
          old,
          fresh,
          confidence: Math.round((0.6 * nameSimilarity(old, fresh) + 0.4 * typeAgreement) * 100) / 100,
        };
      }),
    )
    .filter((p) => p.confidence >= RENAME_FLOOR)
    .sort((a, b) => b.confidence - a.confidence);
  const paired = new Set<string>();
  for (const p of pairs) {
    if (paired.has(p.old) || paired.has(p.fresh)) continue;
    paired.add(p.old).add(p.fresh);
    changes.push({
      change: 'renamed',
      field: p.fresh,
      previousField: p.old,
      previousType: previous[p.old],
      currentType: current[p.fresh],
      confidence: p.confidence,
    });
  }
  for (const f of removed) if (!paired.has(f)) changes.push({ change: 'removed', field: f, previousType: previous[f] });
  for (const f of added) if (!paired.has(f)) changes.push({ change: 'added', field: f, currentType: current[f] });
  for (const f of Object.keys(current)) {
    if (f in previous && !compatible(previous[f]!, current[f]!)) {
      changes.push({ change: 'type_changed', field: f, previousType: previous[f], currentType: current[f] });
    }
  }
  return changes;
}

/** Why a record is held back under drift policy `freeze`, or null when the changes do not touch it. */
export function frozenReason(changes: DriftChange[], fields: Record<string, unknown>): string | null {
  for (const c of changes) {
    const value = fields[c.field];
    if ((c.change === 'added' || c.change === 'renamed') && typeOf(value) !== 'null') {
      return c.change === 'renamed'
        ? `schema drift (freeze): field '${c.field}' looks like a rename of '${c.previousField}' (confidence ${c.confidence})`
        : `schema drift (freeze): field '${c.field}' was not in the previous schema`;
    }
    if (c.change === 'removed' && typeOf(value) === 'null') return `schema drift (freeze): field '${c.field}' is gone`;
    if (c.change === 'type_changed' && typeOf(value) === c.currentType) {
      return `schema drift (freeze): field '${c.field}' changed type from ${c.previousType} to ${c.currentType}`;
    }
  }
  return null;
}
