import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * JSON logs (one object a line) for machines; pretty, coloured lines when stdout is a terminal.
 * Secret-bearing request headers are redacted wherever they are logged.
 */
export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  const pretty = process.stdout.isTTY && process.env.CI !== 'true';
  return pino({
    level,
    base: { pid: process.pid },
    redact: {
      paths: ['headers.authorization', 'headers.cookie', 'secrets', '*.secrets', 'password', '*.password'],
      censor: '[redacted]',
    },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  });
}
