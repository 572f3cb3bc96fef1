// Sends the Temporal SDK's logs (and Rust core's, forwarded) through pino, so a worker's output is one
// stream of JSON lines. Activity and workflow log calls carry workflow id, run id, activity type and attempt.
import { DefaultLogger, Runtime, makeTelemetryFilterString, type LogLevel } from '@temporalio/worker';
import type { Logger } from '../logger.ts';

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };

export function installSdkLogging(log: Logger): void {
  const sdkLog = log.child({ component: 'temporal-sdk' });
  const logger = new DefaultLogger('INFO', ({ level, message, meta }) => {
    sdkLog[LEVELS[level]](meta ?? {}, message);
  });
  Runtime.install({
    logger,
    telemetryOptions: { logging: { forward: {}, filter: makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' }) } },
  });
}

