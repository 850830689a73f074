import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectClean,
  formDelivery,
  person,
  random,
  reconcile,
  send,
  shopifyDelivery,
  shuffle,
  startStack,
  waitForSettled,
  type Delivery,
  type Stack,
} from './harness.js';

const PEOPLE = 120;

/**
 * Each person has one or two Shopify orders, each order two to four versions (orders/create, then orders/updated with
 * a later updated_at, a new total and a new first name), plus an old phone-only and an old email-only form lead; an
 * order version sometimes carries the phone, which links the two leads' customers (a merge). Every delivery is sent
 * two or three times and the whole lot shuffled.
 */
function workload(): { deliveries: Delivery[]; newestName: Map<number, string> } {
  const rand = random(23);
  const events: Delivery[] = [];
  const newestName = new Map<number, string>();
  for (let p = 0; p < PEOPLE; p++) {
    const who = person(p);
    events.push(
      formDelivery({
        id: `dup-phone-${p}`,
        person: who,
        withEmail: false,
        withPhone: true,
        submittedAt: new Date(Date.UTC(2020, 0, 1, 0, 0, p)).toISOString(),
      }),
    );
    events.push(
      formDelivery({
        id: `dup-email-${p}`,
        person: who,
        withEmail: true,
        withPhone: false,
        submittedAt: new Date(Date.UTC(2020, 0, 2, 0, 0, p)).toISOString(),
      }),
    );
    const orders = 1 + Math.floor(rand() * 2);
    for (let o = 0; o < orders; o++) {
      const orderId = String(6_000_000_000 + p * 10 + o);
      const createdAt = new Date(Date.UTC(2026, 0, 1) + p * 1_000_000 + o * 100_000).toISOString();
      const versions = 2 + Math.floor(rand() * 3);
      for (let v = 1; v <= versions; v++) {
        const updatedAt = new Date(Date.parse(createdAt) + v * 1000).toISOString();
        const firstName = `P${p}O${o}V${v}`;
        events.push(
          shopifyDelivery(
            {
              orderId,
              person: who,
              withPhone: rand() < 0.3,
              topic: v === 1 ? 'orders/create' : 'orders/updated',
              createdAt,
              updatedAt,
              totalPrice: `${100 + v}.00`,
              firstName,
            },
            `dup-${orderId}-v${v}`,
          ),
        );
        newestName.set(p, firstName); // orders and versions are generated oldest first
      }
    }
  }
  const deliveries = events.flatMap((event) =>
    Array.from({ length: 2 + Math.floor(rand() * 2) }, (_, copy) => ({ ...event, key: `${event.key}#${copy}` })),
  );
  return { deliveries: shuffle(deliveries, rand), newestName };
}

describe('fault: duplicate and out-of-order deliveries of the same vendor objects', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('duplicates');
  });
  afterAll(async () => stack?.close());

  it('keeps one timeline entry per object with the newest data, and one run per distinct event', async () => {
    const { deliveries, newestName } = workload();
    await stack.startApi();
    stack.startWorker();
    stack.startWorker();
    const outcomes = await send(stack.apiUrl, deliveries, { concurrency: 32 }).done;
    await waitForSettled(stack, deliveries);

    // Newest wins on the timeline: each order shows its latest version, whatever order the versions arrived in.
    const newestVersion = new Map<string, NonNullable<Delivery['version']>>();
    for (const delivery of deliveries) {
      const current = newestVersion.get(delivery.timeline);
      if (delivery.version && (!current || delivery.version.updatedAt > current.updatedAt))
        newestVersion.set(delivery.timeline, delivery.version);
    }
    const { rows: orders } = await stack.pg.pool.query<{ key: string; version_at: Date; total: string }>(
      "SELECT source || ':' || external_id AS key, version_at, data->>'total_price' AS total FROM timeline_events WHERE source = 'shopify'",
    );
    const staleTimeline = orders.filter((row) => {
      const newest = newestVersion.get(row.key);
      return (
        !newest || row.version_at.toISOString() !== newest.updatedAt || Number(row.total) !== Number(newest.totalPrice)
      );
    }).length;
    // ... and on the profile: the person's name is the one of their newest order version.
    const { rows: names } = await stack.pg.pool.query<{ email: string; first_name: string | null }>(
      "SELECT i.value AS email, c.first_name FROM customer_identities i JOIN customers c ON c.id = i.customer_id WHERE i.kind = 'email'",
    );
    const staleProfiles = names
      .filter((row) => row.first_name !== newestName.get(Number(/^person(\d+)@/.exec(row.email)![1])))
      .map((row) => `${row.email}: ${row.first_name}`);

    const report = await reconcile(stack, 'every delivery 2-3 times, order versions shuffled', outcomes, {
      objects: newestVersion.size + PEOPLE * 2,
      orderVersions: new Set(deliveries.filter((delivery) => delivery.version).map((delivery) => delivery.event)).size,
      staleTimelineEntries: staleTimeline,
      staleProfiles: staleProfiles.length,
      deduplicatedDeliveries: outcomes.filter((outcome) => outcome.deduplicated).length,
    });
    expectClean(report);
    expect(report.sent).toBeGreaterThan(report.events * 2 - 1);
    expect(staleTimeline).toBe(0);
    expect(staleProfiles).toEqual([]);
  });
});
