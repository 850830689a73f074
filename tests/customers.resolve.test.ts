import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeIdentities, type Identity } from '../src/customers/normalize.js';
import { upsertCustomer } from '../src/store/customers.js';
import { createPool } from '../src/store/pool.js';
import { upsertTimelineEntry } from '../src/store/timeline.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';

const norm = (identities: Identity[]) => normalizeIdentities(identities, { defaultRegion: 'US' });
const base = { profile: {}, source: 'test', eventRef: 'test' };

describe('identity resolution on real PostgreSQL', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  it('creates, then attaches new identities to the customer an identity already points at', async () => {
    const first = await upsertCustomer(db.pool, {
      ...base,
      identities: norm([{ kind: 'email', value: ' Ann@Example.com ' }]),
      occurredAt: new Date('2026-01-01'),
    });
    expect(first.created).toBe(true);
    const second = await upsertCustomer(db.pool, {
      ...base,
      identities: norm([
        { kind: 'email', value: 'ann@example.com' },
        { kind: 'phone', value: '(415) 555-0101' },
      ]),
      occurredAt: new Date('2026-01-02'),
    });
    expect(second).toMatchObject({
      customerId: first.customerId,
      created: false,
      mergedIds: [],
      attached: [{ kind: 'phone', value: '+14155550101' }],
    });
  });

  it('merges two customers linked by one event into the older, moving identities and timeline, and records why', async () => {
    const byEmail = await upsertCustomer(db.pool, {
      ...base,
      identities: norm([{ kind: 'email', value: 'ben@example.com' }]),
      profile: { name: 'Ben' },
      occurredAt: new Date('2026-01-01'),
    });
    const byPhone = await upsertCustomer(db.pool, {
      ...base,
      identities: norm([{ kind: 'phone', value: '+1 415 555 0102' }]),
      profile: { country: 'US' },
      occurredAt: new Date('2026-01-01'),
    });
    await upsertTimelineEntry(db.pool, {
      customerId: byPhone.customerId,
      source: 'twilio',
      externalId: 'call/1',
      type: 'call.completed',
      occurredAt: new Date('2026-01-01'),
    });
    const linking = await upsertCustomer(db.pool, {
      ...base,
      eventRef: 'inbox:99',
      identities: norm([
        { kind: 'email', value: 'BEN@example.com' },
        { kind: 'phone', value: '4155550102' },
      ]),
      occurredAt: new Date('2026-01-03'),
    });
    expect(linking).toMatchObject({ customerId: byEmail.customerId, mergedIds: [byPhone.customerId] });
    const { rows } = await db.pool.query(
      'SELECT id, name, country, merged_into FROM customers WHERE id = ANY($1) ORDER BY id',
      [[byEmail.customerId, byPhone.customerId]],
    );
    expect(rows).toEqual([
      { id: byEmail.customerId, name: 'Ben', country: 'US', merged_into: null },
      { id: byPhone.customerId, name: null, country: 'US', merged_into: byEmail.customerId },
    ]);
    expect(await count(db.pool, 'SELECT 1 FROM customer_identities WHERE customer_id = $1', [byEmail.customerId])).toBe(
      2,
    );
    expect(await count(db.pool, 'SELECT 1 FROM timeline_events WHERE customer_id = $1', [byEmail.customerId])).toBe(1);
    const merge = await db.pool.query('SELECT reason FROM customer_merges WHERE merged_id = $1', [byPhone.customerId]);
    expect(merge.rows[0].reason).toMatchObject({
      event: 'inbox:99',
      identities: expect.arrayContaining([{ kind: 'phone', value: '+14155550102' }]),
    });
  });

  it('lets newer data overwrite the profile and older data only fill gaps', async () => {
    const identities = norm([{ kind: 'email', value: 'cy@example.com' }]);
    const { customerId } = await upsertCustomer(db.pool, {
      ...base,
      identities,
      profile: { name: 'Cy New' },
      occurredAt: new Date('2026-02-01'),
    });
    await upsertCustomer(db.pool, {
      ...base,
      identities,
      profile: { name: 'Cy Old', language: 'fr' },
      occurredAt: new Date('2026-01-01'),
    });
    const { rows } = await db.pool.query('SELECT name, language FROM customers WHERE id = $1', [customerId]);
    expect(rows[0]).toEqual({ name: 'Cy New', language: 'fr' });
  });

  it('creates exactly one customer from 200 concurrent events about the same new person across channels and workers', async () => {
    // Four pools stand for four worker processes; every event carries some of the person's identifiers and all of
    // them are linked through the email or the phone. The 200 resolutions of one person take turns on its locks, so a
    // pool's queued callers may wait longer for a connection than production's 5 s: this test is about the outcome.
    const workers = Array.from({ length: 4 }, () => createPool(db.url, { max: 5, connectionTimeoutMillis: 120_000 }));
    const variants: Identity[][] = [
      [{ kind: 'email', value: 'dee@example.com' }],
      [{ kind: 'phone', value: '+1 415 555 0199' }],
      [
        { kind: 'email', value: 'Dee@Example.com' },
        { kind: 'shopify_customer', value: '7001' },
      ],
      [
        { kind: 'phone', value: '415-555-0199' },
        { kind: 'whatsapp_id', value: '14155550199' },
      ],
      [
        { kind: 'email', value: 'dee@example.com' },
        { kind: 'phone', value: '(415) 555-0199' },
      ],
      [
        { kind: 'shopify_customer', value: '7001' },
        { kind: 'phone', value: '+14155550199' },
      ],
    ];
    try {
      await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          upsertCustomer(workers[i % workers.length]!, {
            ...base,
            identities: norm(variants[i % variants.length]!),
            occurredAt: new Date(),
          }),
        ),
      );
    } finally {
      await Promise.all(workers.map((pool) => pool.end()));
    }
    const live = await db.pool.query(
      `SELECT DISTINCT c.id FROM customers c JOIN customer_identities i ON i.customer_id = c.id
       WHERE c.merged_into IS NULL AND i.value IN ('dee@example.com', '+14155550199', '7001', '14155550199')`,
    );
    expect(live.rows).toHaveLength(1);
    expect(await count(db.pool, 'SELECT 1 FROM customer_identities WHERE customer_id = $1', [live.rows[0].id])).toBe(4);
  });
});
