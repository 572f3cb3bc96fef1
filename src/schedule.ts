// Registers the run's search attributes, applies the `etl-ingest` and `etl-retention` schedules (create or
// update, keeping their pause state) and exits. Used by docker compose (the schedule job); make dev calls the
// same code.
//   --trigger         also starts a first run now, unless the schedule has started one already: a second
//                     `docker compose up` does not start another run each time
//   --trigger=always  starts one now whatever the schedule did before
import { createLogger } from './logger.ts';
import { loadSettings } from './settings.ts';
import { connectClient } from './temporal/connection.ts';
import { applySchedules } from './temporal/schedule.ts';
import { ensureSearchAttributes } from './temporal/search-attributes.ts';

const settings = loadSettings();
const log = createLogger('schedule', settings.LOG_LEVEL);
const trigger = process.argv.find((a) => a === '--trigger' || a.startsWith('--trigger='));
if (trigger && trigger !== '--trigger' && trigger !== '--trigger=always') {
  log.fatal(`unknown option ${trigger}: --trigger or --trigger=always`);
  process.exit(2);
}
const client = await connectClient();
try {
  await ensureSearchAttributes(client, client.options.namespace, log);
  await applySchedules(client, settings, log);
  if (trigger) {
    const handle = client.schedule.getHandle(settings.ETL_SCHEDULE_ID);
    const { info } = await handle.describe();
    if (trigger === '--trigger=always' || info.numActionsTaken === 0) {
      await handle.trigger();
      log.info({ scheduleId: settings.ETL_SCHEDULE_ID }, 'run triggered');
    } else {
      log.info(
        { scheduleId: settings.ETL_SCHEDULE_ID, runsStarted: info.numActionsTaken },
        'the schedule has started runs already; no run triggered (--trigger=always starts one)',
      );
    }
  }
} finally {
  await client.connection.close();
}
