import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';

/** An identifier that points at one person: an email, a phone, or a vendor's id for them. */
export interface Identity {
  kind: string;
  value: string;
}

export interface NormalizeOptions {
  /** Region for phone numbers written without a country code. */
  defaultRegion: string;
  /**
   * Fold Gmail addresses to the mailbox Google delivers to: dots and a `+tag` in the local part are ignored and
   * googlemail.com is gmail.com. Default false: other providers treat dots and tags as different addresses.
   */
  foldGmail?: boolean;
}

const GMAIL_DOMAINS = new Set(['gmail.com', 'googlemail.com']);

export function normalizeEmail(raw: string, options: { foldGmail?: boolean } = {}): string | undefined {
  const email = raw.trim().toLowerCase();
  // Deliberately loose: one @ with text on both sides and a dot in the domain. Vendors send odd but real addresses.
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) return undefined;
  const [local, domain] = email.split('@') as [string, string];
  if (!options.foldGmail || !GMAIL_DOMAINS.has(domain)) return email;
  const mailbox = local.split('+')[0]!.replaceAll('.', '');
  return mailbox === '' ? email : `${mailbox}@gmail.com`;
}

/** E.164 (`+14155550123`), or undefined when it cannot be a phone number. `isPossible` (length and country code) rather than `isValid`: vendors' test and new number ranges fail the stricter check but are real identities. */
export function normalizePhone(raw: string, defaultRegion: string): string | undefined {
  const phone = parsePhoneNumberFromString(raw.trim(), defaultRegion.toUpperCase() as CountryCode);
  return phone?.isPossible() ? phone.number : undefined;
}

/** Normalizes one identity; undefined when its value is not usable (empty, malformed email or phone). */
export function normalizeIdentity(identity: Identity, options: NormalizeOptions): Identity | undefined {
  const raw = String(identity.value ?? '');
  if (identity.kind === 'email') {
    const value = normalizeEmail(raw, options);
    return value === undefined ? undefined : { kind: 'email', value };
  }
  if (identity.kind === 'phone') {
    const value = normalizePhone(raw, options.defaultRegion);
    return value === undefined ? undefined : { kind: 'phone', value };
  }
  const value = raw.trim();
  return value === '' ? undefined : { kind: identity.kind, value };
}

/** Normalized, de-duplicated, in a stable order (kind, then value). */
export function normalizeIdentities(identities: readonly Identity[], options: NormalizeOptions): Identity[] {
  const unique = new Map<string, Identity>();
  for (const identity of identities) {
    const normalized = normalizeIdentity(identity, options);
    if (normalized) unique.set(`${normalized.kind}\u0000${normalized.value}`, normalized);
  }
  return [...unique.values()].sort((a, b) =>
    a.kind === b.kind ? (a.value < b.value ? -1 : 1) : a.kind < b.kind ? -1 : 1,
  );
}

function asList(value: unknown): string[] {
  const items = Array.isArray(value) ? value : [value];
  return items.filter((item): item is string => typeof item === 'string' && item.trim() !== '');
}

/** The identities a mapped record names (`email`, `phone`, each one value or a list, and `identities`), not yet normalized. */
export function recordIdentities(record: Record<string, unknown>): Identity[] {
  return [
    ...asList(record.email).map((value) => ({ kind: 'email', value })),
    ...asList(record.phone).map((value) => ({ kind: 'phone', value })),
    ...((record.identities as Identity[] | null | undefined) ?? []).map((identity) => ({
      kind: identity.kind,
      value: String(identity.value),
    })),
  ];
}
