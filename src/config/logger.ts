import pino, { type DestinationStream, type Logger } from 'pino';
import { createSecretRedactor, type SecretRedactor } from './secret-redactor.js';

export type { Logger };

/** Always redacted: credentials in headers and anything named like a secret. */
const SECRET_PATHS = ['headers.authorization', 'headers.cookie', 'secrets', '*.secrets', 'password', '*.password', 'token', '*.token'];

export interface LoggerOptions {
  /** pino level; default `LOG_LEVEL` or info. */
  level?: string;
  /** Field names treated as PII, redacted at any depth of a log line; default `CRMFLOW_PII_FIELDS`. */
  piiFields?: string[];
  /** Where lines go; default stdout (pretty in a terminal). */
  destination?: DestinationStream;
}

/** The secret values each logger made by {@link createLogger} hides from every line it writes. */
const lineRedactors = new WeakMap<Logger, { current: SecretRedactor }>();

/**
 * Hides `values` (configured secrets, known once workflows.yaml is loaded) from every later line of `logger` and its
 * children, whatever field or message they appear in. A logger not made by {@link createLogger} is left as it is.
 */
export function hideInLogs(logger: Logger, values: readonly string[]): void {
  const holder = lineRedactors.get(logger);
  if (holder) holder.current = createSecretRedactor(values);
}

/** JSON logs (one object a line) for machines; pretty, coloured lines when stdout is a terminal. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const holder = { current: createSecretRedactor([]) };
  const logger = buildLogger(options, (line) => holder.current.text(line));
  lineRedactors.set(logger, holder);
  return logger;
}

function buildLogger(options: LoggerOptions, streamWrite: (line: string) => string): Logger {
  const extra = (options.piiFields ?? piiFields(process.env.CRMFLOW_PII_FIELDS)).flatMap((field) => [field, `*.${field}`, `*.*.${field}`]);
  const settings: pino.LoggerOptions = {
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    base: { pid: process.pid },
    redact: { paths: [...SECRET_PATHS, ...extra], censor: '[redacted]' },
    hooks: { streamWrite },
  };
  if (options.destination) return pino(settings, options.destination);
  const pretty = process.stdout.isTTY && process.env.CI !== 'true';
  return pino({ ...settings, ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}) });
}

/** `CRMFLOW_PII_FIELDS` as a list of field names. */
export function piiFields(setting: string | undefined): string[] {
  return (setting ?? '').split(',').map((field) => field.trim()).filter((field) => /^[A-Za-z_][A-Za-z0-9_-]*$/.test(field));
}
