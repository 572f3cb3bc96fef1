// Retention: records soft-deleted long enough ago are removed for good, in batches so one run never holds
// long locks; their entity links go with them, their time series (raw and daily) with them, then
// entities nothing describes any more.
import type { Pool } from 'pg';

const BATCH = 10_000;

export async function purgeSoftDeleted(
  pool: Pool,
  olderThanDays: number,
  onBatch: (purged: number) => void = () => {},
): Promise<{ records: number; entities: number }> {
  let records = 0;
  for (;;) {
    const { rowCount } = await pool.query(
      `WITH gone AS (SELECT id FROM record WHERE deleted_at < now() - make_interval(days => $1) ORDER BY id LIMIT $2),
         raw AS (DELETE FROM quote WHERE record_id IN (SELECT id FROM gone)),
         daily AS (DELETE FROM quote_daily WHERE record_id IN (SELECT id FROM gone)),
         links AS (DELETE FROM entity_link WHERE record_id IN (SELECT id FROM gone))
       DELETE FROM record WHERE id IN (SELECT id FROM gone)`,
      [olderThanDays, BATCH],
    );
    records += rowCount ?? 0;
    onBatch(records);
    if ((rowCount ?? 0) < BATCH) break;
  }
  const entities = await pool.query(
    `DELETE FROM entity e WHERE NOT EXISTS (SELECT 1 FROM entity_link l WHERE l.entity_id = e.id)`,
  );
  return { records, entities: entities.rowCount ?? 0 };
}
