import pino, { type DestinationStream, type Logger } from 'pino';
import { createSecretRedactor, type SecretRedactor } from './secret-redactor.js';

export type { Logger };

/** Always redacted: credentials in headers and anything named like a secret. */
const SECRET_PATHS = [
  'headers.authorization',
  'headers.cookie',
  'secrets',
  '*.secrets',
  'password',
  '*.password',
  'token',
  '*.token',
];

const REDACTED = '[redacted]';

/** Nesting beyond this is replaced whole: a log line never walks an unbounded (or cyclic) structure. */
const MAX_DEPTH = 64;

export interface LoggerOptions {
  /** pino level; default `LOG_LEVEL` or info. */
  level?: string;
  /** Field names treated as PII, redacted at any depth of a log line (arrays included); default `CRMFLOW_PII_FIELDS`. */
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
  const pii = new Set(options.piiFields ?? piiFields(process.env.CRMFLOW_PII_FIELDS));
  // pino's redact paths take one `*` per level, so they cannot say "any depth": PII keys are removed by walking the
  // line and the child bindings instead (pino's own bindings formatter skips children), which also reaches into arrays.
  const redactPii = (object: Record<string, unknown>): Record<string, unknown> =>
    pii.size === 0 ? object : (redactKeys(object, pii, 0) as Record<string, unknown>);
  const settings: pino.LoggerOptions = {
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    base: { pid: process.pid },
    redact: { paths: SECRET_PATHS, censor: REDACTED },
    formatters: { log: redactPii },
    hooks: { streamWrite },
  };
  const pretty = !options.destination && process.stdout.isTTY && process.env.CI !== 'true';
  const transport = pretty
    ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } }
    : {};
  const logger = options.destination ? pino(settings, options.destination) : pino({ ...settings, ...transport });
  // Children are created from their parent's prototype, so this one override covers grandchildren too.
  const child = logger.child;
  logger.child = function (this: Logger, bindings, childOptions) {
    return child.call(this, redactPii(bindings), childOptions);
  } as Logger['child'];
  return logger;
}

/** A copy of plain objects and arrays with the values of `keys` replaced; other values (errors, dates…) are kept as they are. */
function redactKeys(value: unknown, keys: Set<string>, depth: number): unknown {
  if (Array.isArray(value))
    return depth >= MAX_DEPTH ? REDACTED : value.map((item) => redactKeys(item, keys, depth + 1));
  if (
    value === null ||
    typeof value !== 'object' ||
    (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null)
  )
    return value;
  if (depth >= MAX_DEPTH) return REDACTED;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [key, keys.has(key) ? REDACTED : redactKeys(item, keys, depth + 1)]),
  );
}

/** `CRMFLOW_PII_FIELDS` as a list of field names. */
export function piiFields(setting: string | undefined): string[] {
  return (setting ?? '')
    .split(',')
    .map((field) => field.trim())
    .filter((field) => /^[A-Za-z_][A-Za-z0-9_-]*$/.test(field));
}
