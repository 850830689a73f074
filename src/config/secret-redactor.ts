/** Hides configured secret values wherever text or JSON is shown: run records, errors, logs, API answers. */
export interface SecretRedactor {
  /** `text` with every secret value replaced by `[redacted]`. */
  text: (text: string) => string;
  /** A JSON-serialisable value with every secret value (also inside longer strings and keys) replaced. */
  json: <T>(value: T) => T;
}

export const REDACTED = '[redacted]';

/** A redactor for `values`; longest first, so a secret containing another is hidden whole. */
export function createSecretRedactor(values: Iterable<string>): SecretRedactor {
  const secrets = [...new Set(values)].filter((value) => value !== '').sort((a, b) => b.length - a.length);
  // In JSON text (a log line, a page) a secret holding `"` or `\` appears escaped: both forms are hidden.
  const needles = [...new Set(secrets.flatMap((value) => [value, JSON.stringify(value).slice(1, -1)]))];
  const text = (input: string) =>
    needles.some((needle) => input.includes(needle))
      ? needles.reduce((out, needle) => out.replaceAll(needle, REDACTED), input)
      : input;
  const json = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') return text(value);
    if (value === null || typeof value !== 'object' || depth > 100) return value;
    if (Array.isArray(value)) return value.map((item) => json(item, depth + 1));
    // Dates and other class instances serialise on their own terms (to strings a secret cannot be part of).
    if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) return value;
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [text(key), json(item, depth + 1)]));
  };
  return {
    text,
    // Walked rather than replaced in JSON text: a secret made of digits must not break a number into invalid JSON.
    json: <T>(value: T): T => (needles.length === 0 ? value : (json(value, 0) as T)),
  };
}
