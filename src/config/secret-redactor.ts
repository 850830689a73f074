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
  // In JSON text a secret holding `"` or `\` appears escaped: both forms are hidden.
  const needles = [...new Set(secrets.flatMap((value) => [value, JSON.stringify(value).slice(1, -1)]))];
  const text = (input: string) => (needles.some((needle) => input.includes(needle)) ? needles.reduce((out, needle) => out.replaceAll(needle, REDACTED), input) : input);
  return {
    text,
    json: <T>(value: T): T => {
      if (value === undefined || needles.length === 0) return value;
      const serialized = JSON.stringify(value);
      const redacted = text(serialized);
      return redacted === serialized ? value : (JSON.parse(redacted) as T);
    },
  };
}
