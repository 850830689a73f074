import fc from 'fast-check';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCustomerRefresher } from '../src/engine/customer-refresh.js';
import { upsertTimelineEntry } from '../src/store/timeline.js';
import { loadConfigText } from '../src/workflows/load.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';

/** One vendor object on a customer's timeline, with the versions the vendor sent of it (later ones win). */
interface GeneratedEntry {
  kind: 'order' | 'invoice' | 'message' | 'call-in' | 'call-out';
  currency: 'EUR' | 'USD';
  occurredMinute: number;
  /** Amount in cents per version; null: not a purchase in that version (unpaid, refunded). */
  versions: Array<number | null>;
}

const KINDS = {
  order: { source: 'shopify', type: 'order.updated', data: {} },
  invoice: { source: 'xero', type: 'invoice.paid', data: {} },
  message: { source: 'meta', type: 'message.received', data: { channel: 'whatsapp' } },
  'call-in': { source: 'twilio', type: 'call.completed', data: { direction: 'inbound' } },
  'call-out': { source: 'twilio', type: 'call.completed', data: { direction: 'outbound-api' } },
} as const;

const START = Date.parse('2025-01-01T00:00:00.000Z');
const at = (minute: number) => new Date(START + minute * 60_000);

const entryArbitrary: fc.Arbitrary<GeneratedEntry> = fc.record({
  kind: fc.constantFrom('order', 'order', 'invoice', 'message', 'call-in', 'call-out'),
  currency: fc.constantFrom('EUR', 'EUR', 'USD'),
  occurredMinute: fc.integer({ min: 0, max: 2 * 525_600 }),
  versions: fc.array(fc.option(fc.integer({ min: 0, max: 250_000 }), { freq: 4 }), { minLength: 1, maxLength: 3 }),
});

/** The traits the timeline implies, computed here from the generated objects alone (their newest versions). */
function expectedTraits(entries: GeneratedEntry[]): Record<string, unknown> {
  const final = entries.map((entry) => ({
    ...entry,
    cents: entry.kind === 'order' || entry.kind === 'invoice' ? entry.versions.at(-1)! : null,
  }));
  const purchases = final.filter((entry) => entry.cents !== null && entry.cents > 0);
  const byCurrency = new Map<string, { cents: number; n: number; newest: number }>();
  for (const purchase of purchases) {
    const sum = byCurrency.get(purchase.currency) ?? { cents: 0, n: 0, newest: -1 };
    byCurrency.set(purchase.currency, {
      cents: sum.cents + purchase.cents!,
      n: sum.n + 1,
      newest: Math.max(sum.newest, purchase.occurredMinute),
    });
  }
  const main = [...byCurrency].sort(([a, x], [b, y]) => y.n - x.n || y.newest - x.newest || a.localeCompare(b))[0];
  const minutes = purchases.map((purchase) => purchase.occurredMinute);
  const max = (values: number[]) => (values.length === 0 ? null : at(Math.max(...values)).toISOString());
  const first = minutes.length === 0 ? null : Math.min(...minutes);
  const last = minutes.length === 0 ? null : Math.max(...minutes);
  const channels = new Set(
    final.map((entry) =>
      entry.kind === 'message' ? 'whatsapp' : entry.kind.startsWith('call') ? 'phone' : KINDS[entry.kind].source,
    ),
  );
  return {
    orders_count: purchases.length,
    lifetime_value: main ? main[1].cents / 100 : 0,
    currency: main ? main[0] : null,
    lifetime_values: Object.fromEntries([...byCurrency].map(([currency, sum]) => [currency, sum.cents / 100])),
    average_order_value: main ? Math.round(main[1].cents / main[1].n) / 100 : null,
    first_order_at: first === null ? null : at(first).toISOString(),
    last_order_at: last === null ? null : at(last).toISOString(),
    average_days_between_orders:
      purchases.length >= 2 ? expect.closeTo((last! - first!) / 1440 / (purchases.length - 1), 2) : null,
    last_inbound_at: max(
      final
        .filter((entry) => entry.kind === 'message' || entry.kind === 'call-in')
        .map((entry) => entry.occurredMinute),
    ),
    last_contacted_at: max(final.filter((entry) => entry.kind === 'call-out').map((entry) => entry.occurredMinute)),
    open_tasks: 0,
    channels: [...channels].sort(),
  };
}

/** A deterministic shuffle (mulberry32), so a failing seed replays the same order. */
function shuffle<T>(items: T[], seed: number): T[] {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

describe('computed traits do not depend on the order events arrive in', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('equal a from-scratch computation for 1,000 customers after a shuffled, duplicated, concurrent replay', async () => {
    const config = loadConfigText('workflows: []\n', 'workflows.yaml', { env: {} });
    const refresher = createCustomerRefresher({
      pool: db.pool,
      config,
      now: () => new Date(),
      listenedEvents: new Set(),
      logger: pino({ level: 'silent' }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(entryArbitrary, { maxLength: 6 }), { minLength: 1000, maxLength: 1000 }),
        fc.integer(),
        async (customers, seed) => {
          const { rows } = await db.pool.query<{ id: number }>(
            'INSERT INTO customers SELECT FROM generate_series(1, $1) RETURNING id',
            [customers.length],
          );
          const ids = rows.map((row) => row.id);
          // Every version of every object, one of them delivered twice, in a random order.
          const deliveries = customers.flatMap((entries, c) =>
            entries.flatMap((entry, e) =>
              entry.versions.map((cents, v) => ({
                customerId: ids[c]!,
                externalId: `${ids[c]}-${e}`,
                entry,
                cents,
                version: v,
              })),
            ),
          );
          if (deliveries.length > 0) deliveries.push(deliveries[(seed % deliveries.length) >>> 0]!);
          const queue = shuffle(deliveries, seed);
          const worker = async () => {
            for (let delivery = queue.pop(); delivery; delivery = queue.pop()) {
              const { entry, cents } = delivery;
              const kind = KINDS[entry.kind];
              await upsertTimelineEntry(db.pool, {
                customerId: delivery.customerId,
                source: kind.source,
                externalId: delivery.externalId,
                type: kind.type,
                occurredAt: at(entry.occurredMinute),
                versionAt: at(entry.occurredMinute + delivery.version),
                data: kind.data,
                amount:
                  entry.kind === 'order' || entry.kind === 'invoice' ? (cents === null ? null : cents / 100) : null,
                currency: entry.currency,
                listenedEvents: new Set(),
                refresh: (client, customerId) => refresher.refresh(client, customerId, { cause: 'change' }),
              });
            }
          };
          await Promise.all([worker(), worker(), worker(), worker()]);
          const stored = await db.pool.query<{ id: number; traits: Record<string, unknown> }>(
            'SELECT id, traits FROM customers WHERE id = ANY($1::bigint[]) ORDER BY id',
            [ids],
          );
          for (const [c, row] of stored.rows.entries()) {
            // A customer nothing was delivered for was never refreshed.
            if (customers[c]!.length === 0) continue;
            expect(row.traits, `customer ${c}: ${JSON.stringify(customers[c])}`).toEqual(expectedTraits(customers[c]!));
          }
        },
      ),
      // One run of 1,000 customers; no shrinking (each attempt would replay thousands of transactions).
      { numRuns: 1, endOnFailure: true },
    );
  }, 600_000);
});
