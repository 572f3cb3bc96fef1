// One pino logger per process: JSON lines for machines, pretty lines only when a human watches a terminal.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  const pretty = process.stdout.isTTY && process.env.NODE_ENV !== 'production';
  return pino({
    name,
    level,
    base: { service: name },
    // the Temporal SDK reports failures under `error`: serialize it like `err` so the message is kept
    serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
    // Never log credentials even if a caller passes a whole headers object or settings map.
    redact: {
      paths: [
        '*.authorization',
        '*.Authorization',
        '*["x-api-key"]',
        '*["x-cg-demo-api-key"]',
        '*.password',
        '*.apiKey',
      ],
      censor: '[redacted]',
    },
    // an activity's task token lets whoever reads the log complete or fail that activity: it never leaves the process
    formatters: { log: ({ taskToken: _token, ...fields }) => fields },
    ...(pretty
      ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } }
      : {}),
  });
}
