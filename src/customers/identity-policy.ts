import type { Identity, NormalizeOptions } from './normalize.js';

/**
 * How identities may link people, from the `identity:` section of workflows.yaml. Pure data and functions: the
 * resolver in the store applies it inside its transaction.
 */
export interface IdentityPolicy {
  /**
   * Identity kinds that may merge two existing customers, in priority order (the first decides which customer an event
   * belongs to when it may not merge). Kinds not listed only attach. Undefined: every kind merges, except that a kind of
   * {@link GUARDED_BY_DEFAULT} never merges people whose emails differ.
   */
  mergeOn?: string[];
  /** Most identities of a kind one customer may hold; a merge that would exceed one becomes a suggestion. */
  caps: Record<string, number>;
  /** Values that never link anyone, as `kind → patterns` (`*` matches any run of characters). */
  blocked: Record<string, string[]>;
  /** Fold Gmail dots and `+tags` (see NormalizeOptions.foldGmail). Default false. */
  foldGmail?: boolean;
  /** Phone region per connector id (`connectors.<id>.default_region`), over the global default. */
  regions?: Record<string, string>;
}

/** Placeholders that forms, shops and telephony fill in when people give nothing real. */
export const DEFAULT_BLOCKED: Record<string, string[]> = {
  email: [
    'test@test.com',
    'test@example.com',
    'example@example.com',
    'email@example.com',
    'example@email.com',
    'none@none.com',
    'na@na.com',
    'noreply@*',
    'no-reply@*',
    'donotreply@*',
    'do-not-reply@*',
  ],
  phone: [],
};

/**
 * Without `merge_on`, kinds that attach but never merge people whose emails differ: a phone is shared by a family, a
 * front desk, a couple. It joins a caller to the customer who left the number and merges a phone-only customer into
 * the customer with the email; two customers each with their own email stay two, suggested as related, and an event
 * bringing a new email through a phone someone with another email holds is a new person.
 */
export const GUARDED_BY_DEFAULT: readonly string[] = ['phone'];

export const DEFAULT_CAPS: Record<string, number> = { email: 5, phone: 3 };

export const DEFAULT_POLICY: IdentityPolicy = { caps: DEFAULT_CAPS, blocked: DEFAULT_BLOCKED };

function matches(pattern: string, value: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
    'i',
  );
  return regex.test(value);
}

/** A normalized identity that must never link people: blocked by pattern, or a phone made of one repeated digit. */
export function isBlocked(identity: Identity, policy: IdentityPolicy): boolean {
  if (identity.kind === 'phone' && /^\+\d?(\d)\1{6,}$/.test(identity.value)) return true;
  return (policy.blocked[identity.kind] ?? []).some((pattern) => matches(pattern, identity.value));
}

/** Rank of a kind in the merge priority (lower first); kinds that may not merge come last. */
export function priority(kind: string, policy: IdentityPolicy): number {
  if (!policy.mergeOn) return guarded(kind, policy) ? 1 : 0;
  const index = policy.mergeOn.indexOf(kind);
  return index === -1 ? Number.MAX_SAFE_INTEGER : index;
}

export function mayMerge(kind: string, policy: IdentityPolicy): boolean {
  return !policy.mergeOn || policy.mergeOn.includes(kind);
}

/** A kind that merges only people whose emails do not differ (see {@link GUARDED_BY_DEFAULT}). */
export function guarded(kind: string, policy: IdentityPolicy): boolean {
  return !policy.mergeOn && GUARDED_BY_DEFAULT.includes(kind);
}

/** How identities from `connector` are normalized under the policy. */
export function normalizeOptionsFor(
  policy: IdentityPolicy,
  connector: string | undefined,
  defaultRegion: string,
): NormalizeOptions {
  return {
    defaultRegion: (connector && policy.regions?.[connector]) || defaultRegion,
    foldGmail: policy.foldGmail ?? false,
  };
}

/**
 * Whether an event is about someone new although some of its identities belong to customers: it reaches every owner
 * only through kinds that may not merge (a shared family phone) and carries an email, of a kind that may merge, that no
 * one holds yet. Attaching it to that owner would link two people through the phone; the event gets a customer of its
 * own and the owners are suggested instead. A new vendor id does not count: a known person's first invoice in the
 * accounting system always brings one. Through a guarded kind only (a phone, without `merge_on`), only when someone
 * reached holds an email of their own (`withEmail`): a caller who left no email is the same person.
 */
export function isNewPerson(
  identities: readonly Identity[],
  links: ReadonlyArray<IdentityLink>,
  policy: IdentityPolicy,
  withEmail: (customerId: number) => boolean,
): boolean {
  if (
    !mayMerge('email', policy) ||
    links.length === 0 ||
    links.some((link) => mayMerge(link.kind, policy) && !guarded(link.kind, policy))
  )
    return false;
  const newEmail = identities.some(
    (identity) =>
      identity.kind === 'email' && !links.some((link) => link.kind === identity.kind && link.value === identity.value),
  );
  if (!newEmail) return false;
  return links.some((link) => !guarded(link.kind, policy)) || links.some((link) => withEmail(link.customerId));
}

/** An identity of an event and the customer who holds it. */
export interface IdentityLink extends Identity {
  customerId: number;
}

/** The customers an event points at and how they are linked: which kinds of the event's identities each owns. */
export interface LinkPlanInput {
  /** Owners of the event's identities, any order. */
  owners: number[];
  links: Array<{ customerId: number; kind: string }>;
  /** Identities per kind the given customers plus the event would hold together. */
  countsIfMerged: (customerIds: number[]) => Record<string, number> | Promise<Record<string, number>>;
  /** Whether two customers were declared different people (an unmerge or a rejected suggestion). */
  apart: (a: number, b: number) => boolean;
  /** Whether a customer holds an email, for the kinds that never merge people whose emails differ. */
  withEmail: (customerId: number) => boolean;
  /** Whether the event itself carries an email. */
  eventHasEmail: boolean;
}

export interface LinkPlan {
  keep: number;
  merge: number[];
  suggest: number[];
  why: string;
}

/**
 * Which of the customers an event points at are merged, as pure policy (the store applies it under its locks, the
 * simulator in memory). Customers linked only by kinds that may not merge (a shared family phone, say) are not, nor
 * customers declared apart, nor two holding emails linked only by a guarded kind (a phone without `merge_on`); nor
 * are any when the merge would give one customer more identities of a kind than its cap.
 * The event then belongs to the customer its highest-priority identity names, and the others are suggested.
 */
export async function planLinks(input: LinkPlanInput, policy: IdentityPolicy): Promise<LinkPlan> {
  const { owners, links } = input;
  const bestRank = (customerId: number) =>
    Math.min(...links.filter((link) => link.customerId === customerId).map((link) => priority(link.kind, policy)));
  const byPriority = [...owners].sort((a, b) => bestRank(a) - bestRank(b) || a - b);
  const linkedBy = (owner: number, test: (kind: string) => boolean) =>
    links.some((link) => link.customerId === owner && test(link.kind));
  const linkedByMergeKind = [...owners]
    .sort((a, b) => a - b)
    .filter((owner) => linkedBy(owner, (kind) => mayMerge(kind, policy)));
  // The oldest customer reachable by merge kinds takes the others in, skipping any declared apart from one already in;
  // those reached only through a guarded kind (a phone) join unless both sides hold emails (then they differ).
  const mergeable: number[] = [];
  let apartCount = 0;
  let differingEmails = 0;
  let hasEmail = input.eventHasEmail;
  const strict = linkedByMergeKind.filter((owner) => linkedBy(owner, (kind) => !guarded(kind, policy)));
  for (const owner of [...strict, ...linkedByMergeKind.filter((owner) => !strict.includes(owner))]) {
    if (mergeable.some((kept) => input.apart(kept, owner))) apartCount++;
    else if (!strict.includes(owner) && hasEmail && input.withEmail(owner)) differingEmails++;
    else {
      mergeable.push(owner);
      hasEmail ||= input.withEmail(owner);
    }
  }
  mergeable.sort((a, b) => a - b);
  const apartWhy =
    apartCount > 0
      ? 'declared different people (unmerged or rejected before)'
      : differingEmails > 0
        ? 'linked only by a phone, and their emails differ'
        : 'linked only by identities that may not merge customers';
  if (mergeable.length < 2) {
    const keep = strict[0] ?? linkedByMergeKind[0] ?? byPriority[0]!;
    return { keep, merge: [], suggest: owners.filter((owner) => owner !== keep), why: apartWhy };
  }
  const counts = await input.countsIfMerged(mergeable);
  const over = Object.entries(counts).find(([kind, n]) => policy.caps[kind] !== undefined && n > policy.caps[kind]!);
  if (over) {
    const keep = byPriority.find((owner) => mergeable.includes(owner))!;
    return {
      keep,
      merge: [],
      suggest: owners.filter((owner) => owner !== keep),
      why: `merging would give one customer ${over[1]} ${over[0]} identities (cap ${policy.caps[over[0]]})`,
    };
  }
  const keep = mergeable[0]!;
  return {
    keep,
    merge: mergeable.slice(1),
    suggest: owners.filter((owner) => !mergeable.includes(owner)),
    why: apartWhy,
  };
}
