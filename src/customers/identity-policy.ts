import type { Identity, NormalizeOptions } from './normalize.js';

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
  /** Fold Gmail dots and `+tags` (see NormalizeOptions.foldGmail). Default false. */
  foldGmail?: boolean;
  /** Phone region per connector id (`connectors.<id>.default_region`), over the global default. */
  regions?: Record<string, string>;
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

/** How identities from `connector` are normalized under the policy. */
export function normalizeOptionsFor(policy: IdentityPolicy, connector: string | undefined, defaultRegion: string): NormalizeOptions {
  return { defaultRegion: (connector && policy.regions?.[connector]) || defaultRegion, foldGmail: policy.foldGmail ?? false };
}

/**
 * Whether an event is about someone new although some of its identities belong to customers: it reaches every owner
 * only through kinds that may not merge (a shared family phone) and carries an email, of a kind that may merge, that no
 * one holds yet. Attaching it to that owner would link two people through the phone; the event gets a customer of its
 * own and the owners are suggested instead. A new vendor id does not count: a known person's first invoice in the
 * accounting system always brings one. Never when every kind merges (no `merge_on`).
 */
export function isNewPerson(identities: readonly Identity[], links: ReadonlyArray<Identity>, policy: IdentityPolicy): boolean {
  if (!policy.mergeOn || !mayMerge('email', policy) || links.length === 0 || links.some((link) => mayMerge(link.kind, policy))) return false;
  return identities.some((identity) => identity.kind === 'email' && !links.some((link) => link.kind === identity.kind && link.value === identity.value));
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
 * customers declared apart; nor are any when the merge would give one customer more identities of a kind than its cap.
 * The event then belongs to the customer its highest-priority identity names, and the others are suggested.
 */
export async function planLinks(input: LinkPlanInput, policy: IdentityPolicy): Promise<LinkPlan> {
  const { owners, links } = input;
  const bestRank = (customerId: number) => Math.min(...links.filter((link) => link.customerId === customerId).map((link) => priority(link.kind, policy)));
  const byPriority = [...owners].sort((a, b) => bestRank(a) - bestRank(b) || a - b);
  const linkedByMergeKind = [...owners].sort((a, b) => a - b).filter((owner) => links.some((link) => link.customerId === owner && mayMerge(link.kind, policy)));
  // The oldest customer reachable by merge kinds takes the others in, skipping any declared apart from one already in.
  const mergeable: number[] = [];
  for (const owner of linkedByMergeKind) if (mergeable.every((kept) => !input.apart(kept, owner))) mergeable.push(owner);
  const apartWhy = linkedByMergeKind.length > mergeable.length ? 'declared different people (unmerged or rejected before)' : 'linked only by identities that may not merge customers';
  if (mergeable.length < 2) {
    const keep = linkedByMergeKind[0] ?? byPriority[0]!;
    return { keep, merge: [], suggest: owners.filter((owner) => owner !== keep), why: apartWhy };
  }
  const counts = await input.countsIfMerged(mergeable);
  const over = Object.entries(counts).find(([kind, n]) => policy.caps[kind] !== undefined && n > policy.caps[kind]!);
  if (over) {
    const keep = byPriority.find((owner) => mergeable.includes(owner))!;
    return { keep, merge: [], suggest: owners.filter((owner) => owner !== keep), why: `merging would give one customer ${over[1]} ${over[0]} identities (cap ${policy.caps[over[0]]})` };
  }
  const keep = mergeable[0]!;
  return { keep, merge: mergeable.slice(1), suggest: owners.filter((owner) => !mergeable.includes(owner)), why: apartWhy };
}
