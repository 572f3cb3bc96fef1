// Snapshot or history: how an asset payload's rows relate to time. A snapshot is the source's current quotes,
// one per key; a history holds many observations per key, each at its own timestamp. The sources file may say
// which (`series:`); otherwise the first records decide: they are a history when their keys repeat, at other
// timestamps, at least twice on average (a snapshot with one key sent twice is still a snapshot).
import type { FieldMapping } from './mapping.ts';
import { isUnparsed, type SourceFields, type Unparsed } from '../sources/types.ts';
import { applyMapping } from './mapping.ts';

export type Series = 'snapshot' | 'history';

export function inferSeries(
  declared: 'auto' | Series,
  sample: readonly (SourceFields | Unparsed)[],
  mapping: FieldMapping,
): Series {
  if (declared !== 'auto') return declared;
  if (!mapping.sourceUpdatedAt) return 'snapshot';
  const times = new Map<string, Set<string>>();
  let observations = 0;
  for (const fields of sample) {
    if (isUnparsed(fields)) continue;
    const { sourceKey, sourceUpdatedAt } = applyMapping(fields, mapping);
    if (
      typeof sourceKey !== 'string' ||
      !sourceKey.trim() ||
      sourceUpdatedAt === undefined ||
      sourceUpdatedAt === null ||
      sourceUpdatedAt === ''
    )
      continue;
    const seen = times.get(sourceKey.trim()) ?? times.set(sourceKey.trim(), new Set()).get(sourceKey.trim())!;
    if (!seen.has(String(sourceUpdatedAt))) {
      seen.add(String(sourceUpdatedAt));
      observations++;
    }
  }
  return times.size > 0 && observations >= 2 * times.size ? 'history' : 'snapshot';
}

/** Why a row of a history cannot be an observation, or null: it has to say when. */
export function historyRowProblem(sourceUpdatedAt: string | null): string | null {
  return sourceUpdatedAt === null
    ? 'source_updated_at is required: each row of a history is an observation at its own time'
    : null;
}
