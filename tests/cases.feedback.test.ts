import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { feedbackToken, verifyFeedbackToken } from '../src/customers/feedback-token.js';
import { addBusinessTime, businessTimeBetween } from '../src/engine/business-time.js';
import { parseWeek } from '../src/engine/opening-hours.js';
import { recordFeedback } from '../src/store/feedback.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';

const KEY = 'test-secret-key-for-rating-links';

describe('rating links', () => {
  const now = new Date('2026-12-07T12:00:00Z');
  const claim = {
    message: 'case:7:csat:0',
    caseId: 7,
    kind: 'csat' as const,
    score: 4,
    expires: now.getTime() / 1000 + 3600,
  };

  it('verify only untouched, unexpired tokens signed with the key', () => {
    const token = feedbackToken(KEY, claim);
    expect(verifyFeedbackToken(KEY, token, now)).toEqual(claim);
    expect(verifyFeedbackToken('another-key', token, now)).toBeUndefined();
    expect(verifyFeedbackToken(KEY, token, new Date(now.getTime() + 2 * 3_600_000))).toBeUndefined();
    const [payload, signature] = token.split('.');
    const higher = Buffer.from(Buffer.from(payload!, 'base64url').toString('utf8').replace(',4,', ',5,')).toString(
      'base64url',
    );
    expect(verifyFeedbackToken(KEY, `${higher}.${signature}`, now)).toBeUndefined();
    expect(verifyFeedbackToken(KEY, feedbackToken(KEY, { ...claim, score: 9 }), now)).toBeUndefined();
    expect(verifyFeedbackToken(KEY, 'garbage', now)).toBeUndefined();
  });
});

describe('feedback: one answer per message, changed by a later click, never counted twice', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('records, ignores the same answer, changes it; each new answer is on the timeline once and fires feedback.received', async () => {
    const { rows } = await db.pool.query<{ id: number }>(
      "INSERT INTO customers (name) VALUES ('Rita Rater') RETURNING id",
    );
    const customerId = rows[0]!.id;
    await db.pool.query(
      `INSERT INTO outbound_messages (idempotency_key, customer_id, channel, transport, recipient, subject, body, status)
       VALUES ('reply:1', $1, 'email', 'outbox', 'rita@example.com', 'Re: your order', 'How did we do?', 'sent')`,
      [customerId],
    );
    const answer = (score: number) =>
      recordFeedback(db.pool, { messageKey: 'reply:1', caseId: null, kind: 'csat', score, at: new Date() });
    expect(await answer(3)).toMatchObject({
      changed: true,
      feedback: { score: 3, customer_id: customerId },
      event: expect.any(Number),
    });
    const same = await answer(3);
    expect([same?.changed, same?.event]).toEqual([false, undefined]);
    expect(await answer(5)).toMatchObject({
      changed: true,
      feedback: { score: 5, changed_count: 1 },
      event: expect.any(Number),
    });
    expect(await count(db.pool, 'SELECT 1 FROM feedback')).toBe(1);
    expect(await count(db.pool, "SELECT 1 FROM engine_events WHERE type = 'feedback.received'")).toBe(2);
    const timeline = await db.pool.query("SELECT summary FROM timeline_events WHERE type = 'feedback.received'");
    expect(timeline.rows).toEqual([{ summary: 'CSAT 5/5' }]);
    // A message that was never sent takes no answer.
    expect(
      await recordFeedback(db.pool, {
        messageKey: 'no-such-message',
        caseId: null,
        kind: 'csat',
        score: 5,
        at: new Date(),
      }),
    ).toBeUndefined();
  });
});

describe('business time', () => {
  const hours = {
    timeZone: 'Europe/Madrid',
    week: parseWeek({ 'mon-fri': '09:00-18:00' }),
    holidays: new Set(['2026-12-08']),
  };

  it('skips nights, weekends and holidays, across a daylight-saving change', () => {
    // Friday 17:00 Madrid (16:00Z) + 4h → Monday 12:00 Madrid.
    expect(addBusinessTime(hours, new Date('2026-12-04T16:00:00Z'), 4 * 3_600_000)).toEqual(
      new Date('2026-12-07T11:00:00Z'),
    );
    // Monday 17:00 + 2h: Tuesday 8 December is a holiday → Wednesday 10:00.
    expect(addBusinessTime(hours, new Date('2026-12-07T16:00:00Z'), 2 * 3_600_000)).toEqual(
      new Date('2026-12-09T09:00:00Z'),
    );
    // Friday 27 March 2026 17:00 CET + 2h → Monday 30 March 10:00 CEST (summer time began on Sunday).
    expect(addBusinessTime(hours, new Date('2026-03-27T16:00:00Z'), 2 * 3_600_000)).toEqual(
      new Date('2026-03-30T08:00:00Z'),
    );
    expect(businessTimeBetween(hours, new Date('2026-12-04T16:00:00Z'), new Date('2026-12-07T11:00:00Z'))).toBe(
      4 * 3_600_000,
    );
    expect(businessTimeBetween(hours, new Date('2026-12-07T11:00:00Z'), new Date('2026-12-04T16:00:00Z'))).toBe(
      -4 * 3_600_000,
    );
    expect(addBusinessTime(undefined, new Date('2026-12-04T16:00:00Z'), 4 * 3_600_000)).toEqual(
      new Date('2026-12-04T20:00:00Z'),
    );
    expect(addBusinessTime({ ...hours, week: parseWeek({}) }, new Date('2026-12-04T16:00:00Z'), 1)).toBeUndefined();
  });
});
