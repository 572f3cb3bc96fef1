// Local source server process: serves the demo payloads on http://HOST:ETL_SOURCE_SERVER_PORT until SIGINT/SIGTERM.
// SOURCE_SERVER_FAULTS (a JSON array of fault rules) starts it misbehaving; PUT /_control/faults changes that later.
import path from 'node:path';
import { createLogger } from '../logger.ts';
import { loadSettings, projectRoot } from '../settings.ts';
import { createSourceServer, parseFaultRules, type FaultRule } from './server.ts';

const settings = loadSettings();
const log = createLogger('source-server', settings.LOG_LEVEL);

let faults: FaultRule[] = [];
if (process.env.SOURCE_SERVER_FAULTS) {
  try {
    faults = parseFaultRules(process.env.SOURCE_SERVER_FAULTS);
  } catch (error) {
    log.fatal(`SOURCE_SERVER_FAULTS: ${(error as Error).message}`);
    process.exit(2);
  }
}

const server = createSourceServer({
  // a relative root (e.g. from .env) means relative to the project, wherever the process starts
  root: path.resolve(projectRoot, settings.ETL_SOURCE_SERVER_ROOT),
  log,
  faults,
  coingeckoApiKey: process.env.SOURCE_SERVER_COINGECKO_KEY || undefined,
});
const url = await server.listen(settings.ETL_SOURCE_SERVER_PORT, settings.HOST);
log.info({ url, faults: faults.length }, 'source server listening');

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log.info({ signal }, 'source server stopping');
    void server.close().then(() => process.exit(0));
  });
}
