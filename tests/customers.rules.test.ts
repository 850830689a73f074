import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, isBlocked, type IdentityPolicy } from '../src/customers/identity-policy.js';
import { normalizeIdentities, type Identity } from '../src/customers/normalize.js';
import { unmergeCustomer, upsertCustomer } from '../src/store/customers.js';
import { loadConfigFile, loadConfigText } from '../src/workflows/load.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';

const norm = (identities: Identity[]) => normalizeIdentities(identities, { defaultRegion: 'US' });

describe('identity rules', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  const upsert = (identities: Identity[], policy: IdentityPolicy = DEFAULT_POLICY) =>
    upsertCustomer(db.pool, {
      identities: norm(identities),
      profile: {},
      occurredAt: new Date(),
      source: 'test',
      eventRef: 'test',
      policy,
    });

  it('blocks placeholder values and shared switchboard numbers by default, and admins can add their own', () => {
    const policy = loadConfigText(
      'identity:\n  blocked:\n    email: ["orders@myshop.com"]\n    phone: ["+18005550100"]\nworkflows: []\n',
      'workflows.yaml',
      { env: {} },
    ).identityPolicy;
    const blocked = (kind: string, value: string) => isBlocked(norm([{ kind, value }])[0]!, policy);
    expect(blocked('email', 'Test@Test.com')).toBe(true);
    expect(blocked('email', 'noreply@shop.example')).toBe(true);
    expect(blocked('email', 'orders@myshop.com')).toBe(true);
    expect(blocked('email', 'ana@example.org')).toBe(false);
    expect(blocked('phone', '(000) 000-0000')).toBe(true);
    expect(blocked('phone', '+1 999 999 9999')).toBe(true);
    expect(blocked('phone', '+1 800 555 0100')).toBe(true);
    expect(blocked('phone', '+1 415 555 0142')).toBe(false);
    const without = loadConfigText('identity:\n  default_blocklist: false\nworkflows: []\n', 'workflows.yaml', {
      env: {},
    }).identityPolicy;
    expect(isBlocked({ kind: 'email', value: 'test@test.com' }, without)).toBe(false);
  });

  it('kinds outside merge_on only attach: a shared family phone does not merge two people, it is suggested', async () => {
    const policy: IdentityPolicy = { ...DEFAULT_POLICY, mergeOn: ['shopify_customer', 'email'] };
    const mum = await upsert([{ kind: 'email', value: 'mum@family.example' }], policy);
    const son = await upsert(
      [
        { kind: 'email', value: 'son@family.example' },
        { kind: 'phone', value: '+1 415 555 0177' },
      ],
      policy,
    );
    const linking = await upsert(
      [
        { kind: 'email', value: 'mum@family.example' },
        { kind: 'phone', value: '+1 415 555 0177' },
      ],
      policy,
    );
    expect(linking).toMatchObject({ customerId: mum.customerId, mergedIds: [], suggested: [son.customerId] });
    expect(
      await count(db.pool, 'SELECT 1 FROM customers WHERE id = ANY($1) AND merged_into IS NULL', [
        [mum.customerId, son.customerId],
      ]),
    ).toBe(2);
    const phoneOwner = await db.pool.query(
      "SELECT customer_id FROM customer_identities WHERE kind = 'phone' AND value = '+14155550177'",
    );
    expect(phoneOwner.rows[0].customer_id).toBe(son.customerId);
    const suggestion = await db.pool.query(
      'SELECT customer_a, customer_b, status, reason FROM customer_merge_suggestions',
    );
    expect(suggestion.rows).toEqual([
      {
        customer_a: mum.customerId,
        customer_b: son.customerId,
        status: 'open',
        reason: expect.objectContaining({ why: 'linked only by identities that may not merge customers' }),
      },
    ]);
    // An email (a merge kind) still merges.
    const byEmail = await upsert(
      [
        { kind: 'email', value: 'son@family.example' },
        { kind: 'shopify_customer', value: 'S-1' },
      ],
      policy,
    );
    expect(byEmail.customerId).toBe(son.customerId);
  });

  it('an event reaching someone only through an attach-only phone but bringing its own new email is a new person', async () => {
    const policy: IdentityPolicy = { ...DEFAULT_POLICY, mergeOn: ['email'] };
    const sarah = await upsert(
      [
        { kind: 'email', value: 'sarah@okafor.example' },
        { kind: 'phone', value: '+1 312 555 0104' },
      ],
      policy,
    );
    const david = await upsert(
      [
        { kind: 'email', value: 'david@okafor.example' },
        { kind: 'phone', value: '(312) 555-0104' },
      ],
      policy,
    );
    expect(david).toMatchObject({
      created: true,
      suggested: [sarah.customerId],
      attached: [{ kind: 'email', value: 'david@okafor.example' }],
    });
    // An event with the phone alone still attaches to whoever holds it; with phone in merge_on, the phone links them.
    expect(
      await upsert(
        [
          { kind: 'phone', value: '312.555.0104' },
          { kind: 'messenger_psid', value: 'p:1' },
        ],
        policy,
      ),
    ).toMatchObject({ customerId: sarah.customerId, created: false });
    const phoneMerges: IdentityPolicy = { ...DEFAULT_POLICY, mergeOn: ['email', 'phone'] };
    expect(
      await upsert(
        [
          { kind: 'email', value: 'eve@okafor.example' },
          { kind: 'phone', value: '+13125550104' },
        ],
        phoneMerges,
      ),
    ).toMatchObject({ customerId: sarah.customerId, created: false });
  });

  it('by default (no merge_on, as in the shipped workflows.yaml) a phone attaches but never merges people whose emails differ: a suggestion instead', async () => {
    const shipped = loadConfigFile(fileURLToPath(new URL('../workflows.yaml', import.meta.url)), {
      env: {},
    }).identityPolicy;
    for (const [i, policy] of [DEFAULT_POLICY, shipped].entries()) {
      const phone = `+1 646 555 01${10 + i}`;
      const mum = await upsert(
        [
          { kind: 'email', value: `mum${i}@default.example` },
          { kind: 'phone', value: phone },
        ],
        policy,
      );
      const son = await upsert(
        [
          { kind: 'email', value: `son${i}@default.example` },
          { kind: 'phone', value: phone },
        ],
        policy,
      );
      expect(son).toMatchObject({ created: true, suggested: [mum.customerId] });
      // The phone alone (a call) attaches to whoever holds it; an email and a vendor id still merge.
      expect(await upsert([{ kind: 'phone', value: phone }], policy)).toMatchObject({
        customerId: mum.customerId,
        created: false,
      });
      const linking = await upsert(
        [
          { kind: 'email', value: `son${i}@default.example` },
          { kind: 'shopify_customer', value: `D-${i}` },
        ],
        policy,
      );
      expect(linking).toMatchObject({ customerId: son.customerId, created: false });
      const both = await upsert(
        [
          { kind: 'email', value: `mum${i}@default.example` },
          { kind: 'phone', value: phone },
          { kind: 'shopify_customer', value: `D-${i}` },
        ],
        policy,
      );
      expect(both).toMatchObject({ customerId: mum.customerId, mergedIds: [son.customerId] }); // the shared vendor id merges them
      // Emails that do not differ: a caller who left no email is the person who writes from that phone later, and a
      // phone-only customer merges into the customer an event's email names.
      const caller = await upsert([{ kind: 'phone', value: `+1 646 555 02${10 + i}` }], policy);
      expect(
        await upsert(
          [
            { kind: 'email', value: `caller${i}@default.example` },
            { kind: 'phone', value: `+1 646 555 02${10 + i}` },
          ],
          policy,
        ),
      ).toMatchObject({ customerId: caller.customerId, created: false });
      const ben = await upsert([{ kind: 'email', value: `ben${i}@default.example` }], policy);
      const benCalls = await upsert([{ kind: 'phone', value: `+1 646 555 03${10 + i}` }], policy);
      expect(
        await upsert(
          [
            { kind: 'email', value: `ben${i}@default.example` },
            { kind: 'phone', value: `+1 646 555 03${10 + i}` },
          ],
          policy,
        ),
      ).toMatchObject({ customerId: ben.customerId, mergedIds: [benCalls.customerId] });
    }
  });

  it('a merge that would exceed a cap does not happen; it becomes a suggestion', async () => {
    const a = await upsert([
      { kind: 'email', value: 'a1@caps.example' },
      { kind: 'phone', value: '+1 212 555 0101' },
      { kind: 'phone', value: '+1 212 555 0102' },
    ]);
    const b = await upsert([
      { kind: 'email', value: 'b1@caps.example' },
      { kind: 'phone', value: '+1 212 555 0103' },
      { kind: 'phone', value: '+1 212 555 0104' },
    ]);
    const linking = await upsert([
      { kind: 'email', value: 'a1@caps.example' },
      { kind: 'email', value: 'b1@caps.example' },
    ]);
    expect(linking).toMatchObject({ customerId: a.customerId, mergedIds: [], suggested: [b.customerId] });
    const reason = await db.pool.query(
      'SELECT reason FROM customer_merge_suggestions WHERE customer_a = $1 AND customer_b = $2',
      [a.customerId, b.customerId],
    );
    expect(reason.rows[0].reason.why).toBe('merging would give one customer 4 phone identities (cap 3)');
    // Within the caps the same link merges.
    const c = await upsert([
      { kind: 'email', value: 'c1@caps.example' },
      { kind: 'phone', value: '+1 212 555 0105' },
    ]);
    const d = await upsert([{ kind: 'email', value: 'd1@caps.example' }]);
    expect(
      await upsert([
        { kind: 'email', value: 'c1@caps.example' },
        { kind: 'email', value: 'd1@caps.example' },
      ]),
    ).toMatchObject({ customerId: c.customerId, mergedIds: [d.customerId] });
  });

  it('an unmerge gives back customers merged earlier into the merged one, and refuses while the kept one is merged away', async () => {
    const a = await upsert([{ kind: 'email', value: 'a@chain.example' }]);
    const b = await upsert([{ kind: 'email', value: 'b@chain.example' }]);
    const c = await upsert([{ kind: 'email', value: 'c@chain.example' }]);
    await upsert([
      { kind: 'email', value: 'b@chain.example' },
      { kind: 'email', value: 'c@chain.example' },
    ]); // c into b
    await upsert([
      { kind: 'email', value: 'a@chain.example' },
      { kind: 'email', value: 'b@chain.example' },
    ]); // b into a
    const mergedInto = async (id: number) =>
      (await db.pool.query('SELECT merged_into FROM customers WHERE id = $1', [id])).rows[0].merged_into;
    expect([await mergedInto(b.customerId), await mergedInto(c.customerId)]).toEqual([a.customerId, a.customerId]);
    await expect(unmergeCustomer(db.pool, b.customerId, { mergedId: c.customerId }, 'tester')).rejects.toThrow(
      `customer ${b.customerId} was merged into ${a.customerId} since`,
    );

    await unmergeCustomer(db.pool, a.customerId, { mergedId: b.customerId }, 'tester');
    expect([await mergedInto(b.customerId), await mergedInto(c.customerId)]).toEqual([null, b.customerId]);
    expect(
      (await db.pool.query("SELECT customer_id FROM customer_identities WHERE value = 'c@chain.example'")).rows[0]
        .customer_id,
    ).toBe(b.customerId);
    await unmergeCustomer(db.pool, b.customerId, { mergedId: c.customerId }, 'tester');
    expect(
      await count(db.pool, 'SELECT 1 FROM customers WHERE id = ANY($1) AND merged_into IS NULL', [
        [a.customerId, b.customerId, c.customerId],
      ]),
    ).toBe(3);
    // Rejected pairs: the same links now leave them apart.
    const again = await upsert([
      { kind: 'email', value: 'b@chain.example' },
      { kind: 'email', value: 'c@chain.example' },
    ]);
    expect(again).toMatchObject({ customerId: b.customerId, mergedIds: [], suggested: [c.customerId] });
  });
});
