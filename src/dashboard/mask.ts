/** Keys whose values are secrets: shown masked in the dashboard, whatever the connector. */
const SECRET_KEY = /secret|token|passw|pwd|api[_-]?key|authori[sz]ation|signature|credential|cookie|session|private[_-]?key|card[_-]?number|cvv|cvc|ssn|iban/i;

export const MASK = '••••••';

/** Field names the operator declared as PII (`CRMFLOW_PII_FIELDS`), masked like secrets. */
let pii = new Set<string>();

export function setPiiFields(fields: string[]): void {
  pii = new Set(fields.map((field) => field.toLowerCase()));
}

/** A deep copy of `value` with the values of secret-looking and PII keys replaced by {@link MASK}. */
export function maskSecrets(value: unknown, depth = 0): unknown {
  if (depth > 50) return MASK;
  if (Array.isArray(value)) return value.map((item) => maskSecrets(item, depth + 1));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([key, item]) => [key, (SECRET_KEY.test(key) || pii.has(key.toLowerCase())) && item !== null && item !== '' ? MASK : maskSecrets(item, depth + 1)]),
  );
}
