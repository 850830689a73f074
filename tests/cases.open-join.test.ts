import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCase, setCaseStatus, type OpenCaseInput } from '../src/store/cases.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';

describe('openCase: one case per customer when messages join, once per key', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  const clock = {
    dueAfter: (from: Date, ms: number) => new Date(from.getTime() + ms),
    between: (from: Date, to: Date) => to.getTime() - from.getTime(),
  };
  const input = (customerId: number, key: string, extra: Partial<OpenCaseInput> = {}): OpenCaseInput => ({
    idempotencyKey: key,
    customerId,
    runId: null,
    subject: 'Broken',
    channel: 'sms',
    sourceEvent: null,
    message: { body: `message ${key}`, timelineEventId: null, at: new Date() },
    priority: 'normal',
    pool: 'support',
    candidates: ['sam', 'sue'],
    businessHours: null,
    firstResponseMs: 3_600_000,
    resolutionMs: null,
    joinOpen: true,
    mayOpen: true,
    reopenWithinMs: null,
    now: new Date(),
    clock,
    events: {},
    ...extra,
  });

  it('five messages arriving together open one case and all join it; a retried step finds its case', async () => {
    const { rows } = await db.pool.query<{ id: number }>("INSERT INTO customers (name) VALUES ('Pat') RETURNING id");
    const customerId = rows[0]!.id;
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((n) => openCase(db.pool, input(customerId, `run:${n}:open_case`))),
    );
    expect(results.filter((result) => result.action === 'opened')).toHaveLength(1);
    expect(new Set(results.map((result) => result.case?.id)).size).toBe(1);
    expect(await count(db.pool, "SELECT 1 FROM case_entries WHERE kind = 'inbound'")).toBe(5);
    const again = await openCase(db.pool, input(customerId, 'run:3:open_case'));
    expect(again.case?.id).toBe(results[0]!.case?.id);
    expect(await count(db.pool, "SELECT 1 FROM case_entries WHERE kind = 'inbound'")).toBe(5);
    expect(await count(db.pool, 'SELECT 1 FROM cases')).toBe(1);
  });

  it('a message within reopen_within of the resolution reopens the case (full resolution target again); later ones open a new case', async () => {
    const { rows } = await db.pool.query<{ id: number }>("INSERT INTO customers (name) VALUES ('Robin') RETURNING id");
    const customerId = rows[0]!.id;
    const day = 86_400_000;
    const first = await openCase(db.pool, input(customerId, 'run:20:open_case', { resolutionMs: 2 * day }));
    const resolvedAt = new Date();
    await setCaseStatus(db.pool, first.case!.id, 'resolved', {
      author: 'sam',
      now: resolvedAt,
      clock: () => clock,
      events: {},
    });
    const later = new Date(resolvedAt.getTime() + 3 * day);
    const reopened = await openCase(
      db.pool,
      input(customerId, 'run:21:open_case', { joinOpen: false, reopenWithinMs: 7 * day, now: later }),
    );
    expect(reopened).toMatchObject({
      action: 'reopened',
      case: { id: first.case!.id, status: 'open', reopened_count: 1, resolved_at: null },
    });
    expect(reopened.case!.resolution_due_at).toEqual(new Date(later.getTime() + 2 * day));
    await setCaseStatus(db.pool, first.case!.id, 'resolved', {
      author: 'sam',
      now: later,
      clock: () => clock,
      events: {},
    });
    const muchLater = new Date(later.getTime() + 8 * day);
    const fresh = await openCase(
      db.pool,
      input(customerId, 'run:22:open_case', { joinOpen: false, reopenWithinMs: 7 * day, now: muchLater }),
    );
    expect(fresh.action).toBe('opened');
    expect(fresh.case!.id).not.toBe(first.case!.id);
  });

  it('a message that may not open a case opens none when there is nothing to join', async () => {
    const { rows } = await db.pool.query<{ id: number }>("INSERT INTO customers (name) VALUES ('Quinn') RETURNING id");
    const result = await openCase(db.pool, input(rows[0]!.id, 'run:9:open_case', { mayOpen: false }));
    expect([result.action, result.case]).toEqual(['none', null]);
  });
});
