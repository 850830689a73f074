import type { Identity } from './normalize.js';

/**
 * How identities may link people, from the `identity:` section of workflows.yaml. Pure data and functions: the
 * resolver in the store applies it inside its transaction.
 */
export interface IdentityPolicy {
  /**
   * Identity kinds that may merge two existing customers, in priority order (the first decides which customer an event
   * belongs to when it may not merge). Kinds not listed only attach. Undefined: every kind merges.
   */
  mergeOn?: string[];
  /** Most identities of a kind one customer may hold; a merge that would exceed one becomes a suggestion. */
  caps: Record<string, number>;
  /** Values that never link anyone, as `kind → patterns` (`*` matches any run of characters). */
  blocked: Record<string, string[]>;
}

/** Placeholders that forms, shops and telephony fill in when people give nothing real. */
export const DEFAULT_BLOCKED: Record<string, string[]> = {
  email: ['test@test.com', 'test@example.com', 'example@example.com', 'email@example.com', 'example@email.com', 'none@none.com', 'na@na.com', 'noreply@*', 'no-reply@*', 'donotreply@*', 'do-not-reply@*'],
  phone: [],
};

export const DEFAULT_CAPS: Record<string, number> = { email: 5, phone: 3 };

export const DEFAULT_POLICY: IdentityPolicy = { caps: DEFAULT_CAPS, blocked: DEFAULT_BLOCKED };

function matches(pattern: string, value: string): boolean {
  const regex = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i');
  return regex.test(value);
}

/** A normalized identity that must never link people: blocked by pattern, or a phone made of one repeated digit. */
export function isBlocked(identity: Identity, policy: IdentityPolicy): boolean {
  if (identity.kind === 'phone' && /^\+\d?(\d)\1{6,}$/.test(identity.value)) return true;
  return (policy.blocked[identity.kind] ?? []).some((pattern) => matches(pattern, identity.value));
}

/** Rank of a kind in the merge priority (lower first); kinds that may not merge come last. */
export function priority(kind: string, policy: IdentityPolicy): number {
  if (!policy.mergeOn) return 0;
  const index = policy.mergeOn.indexOf(kind);
  return index === -1 ? Number.MAX_SAFE_INTEGER : index;
}

export function mayMerge(kind: string, policy: IdentityPolicy): boolean {
  return !policy.mergeOn || policy.mergeOn.includes(kind);
}
