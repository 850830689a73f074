import { isNewPerson, planLinks, type IdentityPolicy } from './identity-policy.js';
import type { Identity } from './normalize.js';

/** One stored event as the simulation sees it: its identities, normalized and unblocked under the tried policy. */
export interface SimulatedEvent {
  /** The inbox event id. */
  id: number;
  identities: Identity[];
  /** The customer the event belongs to today (followed through merges); null when it resolved no one. */
  currentCustomer: number | null;
}

export interface SimulationReport {
  events: number;
  /** Customers the events belong to today. */
  customers: number;
  /** Today's customers that would be merged with another, and into how many customers they would become. */
  merge: { customers: number; into: number; examples: number[][] };
  /** Today's customers whose events would be spread over several customers. */
  split: { customers: number; examples: number[] };
  stay: number;
  /** Customers the events would make that have no customer today (an identity no longer blocked, say). */
  created: number;
  /** Events that would resolve no one (every identity blocked or unusable), and today's customers left with no event. */
  unresolved: { events: number; customers: number };
}

const keyOf = (identity: Identity) => `${identity.kind}\u0000${identity.value}`;

/**
 * Resolves the events in order in memory with the same policy function as the store (`planLinks`), and returns, for
 * each event, the simulated customer it ends up with. Nothing is written; decisions recorded in the database
 * (rejected pairs, accepted suggestions, unmerges) are not part of a simulation.
 */
export async function resolveInMemory(
  events: ReadonlyArray<Pick<SimulatedEvent, 'identities'>>,
  policy: IdentityPolicy,
): Promise<Array<number | null>> {
  const owner = new Map<string, number>();
  const held = new Map<number, Identity[]>();
  const mergedInto = new Map<number, number>();
  const live = (id: number): number => (mergedInto.has(id) ? live(mergedInto.get(id)!) : id);
  const resolved: Array<number | null> = [];
  let next = 1;
  for (const event of events) {
    if (event.identities.length === 0) {
      resolved.push(null);
      continue;
    }
    const owners = [
      ...new Set(
        event.identities.flatMap((identity) => (owner.has(keyOf(identity)) ? [owner.get(keyOf(identity))!] : [])),
      ),
    ];
    const links = event.identities
      .filter((identity) => owner.has(keyOf(identity)))
      .map((identity) => ({ ...identity, customerId: owner.get(keyOf(identity))! }));
    let customer: number;
    const withEmail = (id: number) => (held.get(id) ?? []).some((identity) => identity.kind === 'email');
    if (owners.length === 0 || isNewPerson(event.identities, links, policy, withEmail)) customer = next++;
    else if (owners.length === 1) customer = owners[0]!;
    else {
      const plan = await planLinks(
        {
          owners,
          links,
          apart: () => false,
          withEmail,
          eventHasEmail: event.identities.some((identity) => identity.kind === 'email'),
          countsIfMerged: (ids) => {
            const all = new Map<string, Identity>(
              [...ids.flatMap((id) => held.get(id) ?? []), ...event.identities].map((identity) => [
                keyOf(identity),
                identity,
              ]),
            );
            const counts: Record<string, number> = {};
            for (const identity of all.values()) counts[identity.kind] = (counts[identity.kind] ?? 0) + 1;
            return counts;
          },
        },
        policy,
      );
      customer = plan.keep;
      for (const gone of plan.merge) {
        for (const identity of held.get(gone) ?? []) owner.set(keyOf(identity), customer);
        held.set(customer, [...(held.get(customer) ?? []), ...(held.get(gone) ?? [])]);
        held.delete(gone);
        mergedInto.set(gone, customer);
      }
    }
    for (const identity of event.identities) {
      if (owner.has(keyOf(identity))) continue;
      owner.set(keyOf(identity), customer);
      held.set(customer, [...(held.get(customer) ?? []), identity]);
    }
    resolved.push(customer);
  }
  return resolved.map((customer) => (customer === null ? null : live(customer)));
}

/** Compares today's customers with those the simulation gives the same events: who would merge, split or stay. */
export function compareResolutions(
  events: readonly SimulatedEvent[],
  simulated: ReadonlyArray<number | null>,
  examples = 5,
): SimulationReport {
  const clustersOf = new Map<number, Set<number>>();
  const customersOf = new Map<number, Set<number>>();
  const seenClusters = new Set<number>();
  const current = new Set<number>();
  events.forEach((event, i) => {
    const cluster = simulated[i] ?? null;
    if (event.currentCustomer !== null) current.add(event.currentCustomer);
    if (cluster === null) return;
    seenClusters.add(cluster);
    if (event.currentCustomer === null) return;
    clustersOf.set(event.currentCustomer, (clustersOf.get(event.currentCustomer) ?? new Set()).add(cluster));
    customersOf.set(cluster, (customersOf.get(cluster) ?? new Set()).add(event.currentCustomer));
  });
  const merging = [...customersOf.values()]
    .filter((customers) => customers.size > 1)
    .map((customers) => [...customers].sort((a, b) => a - b));
  const merged = new Set(merging.flat());
  const splitting = [...clustersOf]
    .filter(([, clusters]) => clusters.size > 1)
    .map(([customer]) => customer)
    .sort((a, b) => a - b);
  const changed = new Set([...merged, ...splitting]);
  return {
    events: events.length,
    customers: current.size,
    merge: { customers: merged.size, into: merging.length, examples: merging.slice(0, examples) },
    split: { customers: splitting.length, examples: splitting.slice(0, examples) },
    stay: [...clustersOf.keys()].filter((customer) => !changed.has(customer)).length,
    created: [...seenClusters].filter((cluster) => !customersOf.has(cluster)).length,
    unresolved: {
      events: simulated.filter((cluster) => cluster === null).length,
      customers: [...current].filter((customer) => !clustersOf.has(customer)).length,
    },
  };
}
