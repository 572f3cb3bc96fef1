// The worker's Temporal runtime: the SDK's logs (and Rust core's, forwarded) go through pino, so a worker's
// output is one stream of JSON lines; the SDK's own metrics are served in Prometheus format.
import { DefaultLogger, Runtime, makeTelemetryFilterString, type LogLevel } from '@temporalio/worker';
import type { Logger } from '../logger.ts';

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

export function installSdkRuntime(log: Logger, metricsAddress: string): void {
  const sdkLog = log.child({ component: 'temporal-sdk' });
  const logger = new DefaultLogger('INFO', ({ level, message, meta }) => {
    sdkLog[LEVELS[level]](meta ?? {}, message);
  });
  Runtime.install({
    logger,
    telemetryOptions: {
      logging: { forward: {}, filter: makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' }) },
      metrics: { prometheus: { bindAddress: metricsAddress } },
    },
  });
}
