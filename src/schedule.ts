// Registers the run's search attributes, applies the `etl-ingest` and `etl-retention` schedules (create or
// update, keeping their pause state) and exits.
// `node src/schedule.ts --trigger` also starts one run now. Used by docker compose; make dev calls the same code.
import { createLogger } from './logger.ts';
import { loadSettings } from './settings.ts';
import { connectClient } from './temporal/connection.ts';
import { applySchedules } from './temporal/schedule.ts';
import { ensureSearchAttributes } from './temporal/search-attributes.ts';

const settings = loadSettings();
const log = createLogger('schedule', settings.LOG_LEVEL);
const client = await connectClient();
try {
  await ensureSearchAttributes(client, client.options.namespace, log);
  await applySchedules(client, settings, log);
  if (process.argv.includes('--trigger')) {
    await client.schedule.getHandle(settings.ETL_SCHEDULE_ID).trigger();
    log.info({ scheduleId: settings.ETL_SCHEDULE_ID }, 'run triggered');
  }
} finally {
  await client.connection.close();
}
