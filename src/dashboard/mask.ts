/** Keys whose values are secrets: shown masked in the dashboard, whatever the connector. */
const SECRET_KEY =
  /secret|token|passw|pwd|api[_-]?key|authori[sz]ation|signature|credential|cookie|session|private[_-]?key|card[_-]?number|cvv|cvc|ssn|iban/i;

export const MASK = '••••••';

/** Field names the operator declared as PII (`CRMFLOW_PII_FIELDS`), masked like secrets. */
let pii = new Set<string>();

export function setPiiFields(fields: string[]): void {
  pii = new Set(fields.map((field) => field.toLowerCase()));
}

const EMAIL_VALUE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** International phone numbers as identities are stored and vendors send them (`+14155550123`, `whatsapp:+44 7700...`). */
const PHONE_VALUE = /^(whatsapp:)?\+\d[\d\s().-]{6,20}$/;

/**
 * Whether `role` sees the values of the identity kinds declared PII (`email`, `phone` in CRMFLOW_PII_FIELDS): support
 * and admin contact customers and do; viewers (reporting, read-only staff) see them masked everywhere.
 */
export function seesPii(role: string | undefined): boolean {
  return role === 'support' || role === 'admin';
}

/** An identity value (an email, a phone, a message recipient, a consent address) as `role` may see it. */
export function maskIdentity(kind: string, value: string, role: string | undefined): string {
  if (seesPii(role)) return value;
  if (pii.has(kind.toLowerCase())) return MASK;
  return identityLike(value) ? MASK : value;
}

/** True when `value` looks like an identity of a kind declared PII. */
function identityLike(value: string): boolean {
  return (pii.has('email') && EMAIL_VALUE.test(value.trim())) || (pii.has('phone') && PHONE_VALUE.test(value.trim()));
}

/**
 * A deep copy of `value` with the values of secret-looking and PII keys replaced by {@link MASK}. For a role that does
 * not see PII ({@link seesPii}), values that look like an email or phone of a kind declared PII are masked too, under
 * any key (`identities[].value` of an upsert_customer output, a message's `to`).
 */
export function maskSecrets(value: unknown, role?: string, depth = 0): unknown {
  if (depth > 50) return MASK;
  if (typeof value === 'string') return role !== undefined && !seesPii(role) && identityLike(value) ? MASK : value;
  if (Array.isArray(value)) return value.map((item) => maskSecrets(item, role, depth + 1));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([key, item]) => [
      key,
      (SECRET_KEY.test(key) || pii.has(key.toLowerCase())) && item !== null && item !== ''
        ? MASK
        : maskSecrets(item, role, depth + 1),
    ]),
  );
}
