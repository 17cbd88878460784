import pino, { type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs on stdout (or fd given); never the secret parts of anything. */
export function createLogger(level = 'info', destination: number | NodeJS.WritableStream = 1): Logger {
  const dest = typeof destination === 'number' ? pino.destination({ fd: destination, sync: false }) : destination;
  return pino(
    {
      name: 'gatehouse',
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['*.token', '*.password', '*.secret', '*.authBytes'], censor: '[redacted]' },
    },
    dest,
  );
}
