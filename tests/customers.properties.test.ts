import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, type IdentityPolicy } from '../src/customers/identity-policy.js';
import { normalizeIdentities, normalizeIdentity, type Identity } from '../src/customers/normalize.js';
import { resolveInMemory } from '../src/customers/simulate.js';
import { upsertCustomer } from '../src/store/customers.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';

const OPTIONS = { defaultRegion: 'US' };

/** Emails as people and vendors write them: any case, stray spaces. */
const messyEmail = fc
  .tuple(
    fc.emailAddress(),
    fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }),
    fc.constantFrom('', ' ', '  ', '\t'),
    fc.constantFrom('', ' ', '\n'),
  )
  .map(
    ([email, upper, before, after]) =>
      `${before}${[...email].map((char, i) => (upper[i % 64] ? char.toUpperCase() : char)).join('')}${after}`,
  );

/** Phone numbers in the shapes forms and vendors send: E.164, national with punctuation, with or without country code. */
const messyPhone = fc
  .tuple(
    fc.constantFrom('', '+1 ', '1 ', '+44 ', '+49 ', '+33 '),
    fc.stringMatching(/^[2-9][0-9]{2}$/),
    fc.stringMatching(/^[0-9]{3}$/),
    fc.stringMatching(/^[0-9]{4}$/),
    fc.constantFrom('-', ' ', '.', ''),
  )
  .map(([country, area, exchange, line, separator]) =>
    separator === '-' && country === ''
      ? `(${area}) ${exchange}-${line}`
      : `${country}${area}${separator}${exchange}${separator}${line}`,
  );

const anyIdentity: fc.Arbitrary<Identity> = fc.oneof(
  messyEmail.map((value) => ({ kind: 'email', value })),
  messyPhone.map((value) => ({ kind: 'phone', value })),
  fc
    .tuple(fc.constantFrom('email', 'phone', 'shopify_customer'), fc.string())
    .map(([kind, value]) => ({ kind, value })),
  fc
    .tuple(fc.constantFrom('shopify_customer', 'messenger_psid'), fc.string())
    .map(([kind, value]) => ({ kind, value: ` ${value} ` })),
);

describe('normalization (property-based)', () => {
  it('is idempotent: a normalized identity normalizes to itself', () => {
    fc.assert(
      fc.property(anyIdentity, (identity) => {
        const once = normalizeIdentity(identity, OPTIONS);
        if (once === undefined) return;
        expect(normalizeIdentity(once, OPTIONS)).toEqual(once);
      }),
      { numRuns: 2000 },
    );
  });

  it('is idempotent and order-free on lists: normalizing twice, or in any order, gives the same list', () => {
    fc.assert(
      fc.property(fc.array(anyIdentity, { maxLength: 12 }), (identities) => {
        const once = normalizeIdentities(identities, OPTIONS);
        expect(normalizeIdentities(once, OPTIONS)).toEqual(once);
        expect(normalizeIdentities([...identities].reverse(), OPTIONS)).toEqual(once);
      }),
      { numRuns: 1000 },
    );
  });

  it('makes the same email in any case and spacing one identity', () => {
    fc.assert(
      fc.property(fc.emailAddress(), (email) => {
        const variants = [email, email.toUpperCase(), ` ${email}\t`].map((value) =>
          normalizeIdentity({ kind: 'email', value }, OPTIONS),
        );
        expect(new Set(variants.map((variant) => variant?.value)).size).toBe(1);
      }),
      { numRuns: 500 },
    );
  });
});

/**
 * A small world: identities drawn from a few emails, phones and vendor ids, so events overlap and link customers.
 * No more phones (3) or emails than the default caps allow on one customer: past a cap, a merge becomes a suggestion
 * and which identities got there first matters by design.
 */
const POOL: Identity[] = [
  ...Array.from({ length: 3 }, (_, i) => ({ kind: 'email', value: `p${i}@props.example` })),
  ...Array.from({ length: 3 }, (_, i) => ({ kind: 'phone', value: `+1415555010${i}` })),
  ...Array.from({ length: 3 }, (_, i) => ({ kind: 'shopify_customer', value: String(700 + i) })),
];
const anEvent = fc
  .uniqueArray(fc.integer({ min: 0, max: POOL.length - 1 }), { minLength: 1, maxLength: 3 })
  .map((indexes) => indexes.map((index) => POOL[index]!));
const events = fc.array(anEvent, { minLength: 1, maxLength: 10 });

/**
 * Every kind of this world merges (listed in `merge_on`): the order-independence below is a property of merging itself.
 * The default guards phones (never merging people whose emails differ), and then who came first matters by design.
 */
const ALL_MERGE: IdentityPolicy = { ...DEFAULT_POLICY, mergeOn: ['email', 'phone', 'shopify_customer'] };

/** The customers any arrival order must produce: connected components of the events' identities. */
function components(list: Identity[][]): string[] {
  const parent = new Map<string, string>();
  const find = (x: string): string => (parent.get(x) === x ? x : find(parent.get(x)!));
  const key = (identity: Identity) => `${identity.kind}:${identity.value}`;
  for (const event of list)
    for (const identity of event) if (!parent.has(key(identity))) parent.set(key(identity), key(identity));
  for (const event of list)
    for (const identity of event.slice(1)) parent.set(find(key(identity)), find(key(event[0]!)));
  const groups = new Map<string, string[]>();
  for (const id of parent.keys()) groups.set(find(id), [...(groups.get(find(id)) ?? []), id]);
  return canonical([...groups.values()]);
}

const canonical = (groups: string[][]) => groups.map((group) => [...group].sort().join(' ')).sort();

describe('identity resolution (property-based, real PostgreSQL)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  async function resolve(list: Identity[][], concurrently: boolean): Promise<{ groups: string[]; live: number }> {
    await db.pool.query(
      'TRUNCATE customers, customer_identities, customer_merges, lifecycle_history RESTART IDENTITY CASCADE',
    );
    const upsert = (identities: Identity[], i: number) =>
      upsertCustomer(db.pool, {
        identities,
        profile: {},
        occurredAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
        source: 'props',
        eventRef: `event:${i}`,
        policy: ALL_MERGE,
      });
    if (concurrently) await Promise.all(list.map(upsert));
    else for (const [i, identities] of list.entries()) await upsert(identities, i);
    const { rows } = await db.pool.query<{ customer_id: number; identity: string }>(
      "SELECT customer_id, kind || ':' || value AS identity FROM customer_identities",
    );
    const byCustomer = new Map<number, string[]>();
    for (const row of rows) byCustomer.set(row.customer_id, [...(byCustomer.get(row.customer_id) ?? []), row.identity]);
    const { rows: live } = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM customers WHERE merged_into IS NULL',
    );
    return { groups: canonical([...byCustomer.values()]), live: live[0]!.n };
  }

  it('any arrival order of the same events yields the same customers and identities', async () => {
    await fc.assert(
      fc.asyncProperty(events, fc.infiniteStream(fc.nat()), async (list, stream) => {
        const order = [...list.keys()]
          .map((i) => ({ i, k: stream.next().value as number }))
          .sort((a, b) => a.k - b.k)
          .map(({ i }) => list[i]!);
        const expected = components(list);
        const inOrder = await resolve(list, false);
        const shuffled = await resolve(order, false);
        expect(inOrder.groups).toEqual(expected);
        expect(shuffled.groups).toEqual(expected);
        expect(shuffled.live).toBe(expected.length);
      }),
      { numRuns: 40 },
    );
  }, 120_000);

  it('events arriving all at once (concurrent transactions) yield the same customers too', async () => {
    await fc.assert(
      fc.asyncProperty(events, async (list) => {
        const expected = components(list);
        const result = await resolve(list, true);
        expect(result.groups).toEqual(expected);
        expect(result.live).toBe(expected.length);
      }),
      { numRuns: 30 },
    );
  }, 120_000);

  it('the simulator (`crmflow identity simulate`) resolves any events as the database does, under any merge_on', async () => {
    const policies: IdentityPolicy[] = [
      DEFAULT_POLICY,
      { ...DEFAULT_POLICY, mergeOn: ['shopify_customer', 'email'] },
      { ...DEFAULT_POLICY, mergeOn: ['email'], caps: { email: 2, phone: 1 } },
    ];
    await fc.assert(
      fc.asyncProperty(events, fc.constantFrom(...policies), async (list, policy) => {
        await db.pool.query(
          'TRUNCATE customers, customer_identities, customer_merges, customer_merge_suggestions, lifecycle_history RESTART IDENTITY CASCADE',
        );
        const stored: number[] = [];
        for (const [i, identities] of list.entries()) {
          stored.push(
            (
              await upsertCustomer(db.pool, {
                identities,
                profile: {},
                occurredAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
                source: 'props',
                eventRef: `event:${i}`,
                policy,
              })
            ).customerId,
          );
        }
        const { rows } = await db.pool.query<{ id: number; live: number }>(
          'SELECT id, coalesce(merged_into, id) AS live FROM customers',
        );
        const live = new Map(rows.map((row) => [row.id, row.live]));
        const simulated = await resolveInMemory(
          list.map((identities) => ({ identities })),
          policy,
        );
        /** Which events ended with the same customer, as groups of event indexes. */
        const partition = (owners: Array<number | null>) => {
          const groups = new Map<number | null, string[]>();
          owners.forEach((owner, i) => groups.set(owner, [...(groups.get(owner) ?? []), String(i)]));
          return canonical([...groups.values()]);
        };
        expect(partition(simulated)).toEqual(partition(stored.map((id) => live.get(id)!)));
      }),
      { numRuns: 40 },
    );
  }, 120_000);
});
