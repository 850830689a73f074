import pino from 'pino';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectorDefinition } from '../src/connectors/define-connector.js';
import { runPull } from '../src/engine/pull.js';
import { createEventsQueue } from '../src/engine/queues.js';
import { createInboxWriter } from '../src/engine/inbox-writer.js';
import type { Crmflow } from '../src/runtime.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { post, REDIS_URL, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { FORM_CONNECTOR } from './helpers/engine.js';
import { formHeaders } from './helpers/sign.js';

const CONFIG = `${FORM_CONNECTOR}
workflows:
  - id: leads
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps: [{ type: log, message: lead }]
`;

/** Bodies PostgreSQL can never store, each correctly signed: JSON escapes of NUL and an unpaired surrogate, and a urlencoded %00. */
function poisoned(n: number): { body: string; contentType: string } {
  const id = `poison-${n}`;
  switch (n % 4) {
    case 0:
      return {
        body: `{"submission_id":"${id}","name":"Ana\\u0000","email":"p${n}@example.com"}`,
        contentType: 'application/json',
      };
    case 1:
      return { body: `{"submission_id":"${id}","profile":{"\\u0000name":"x"}}`, contentType: 'application/json' };
    case 2:
      return { body: `{"submission_id":"${id}","message":"hi \\ud800 there"}`, contentType: 'application/json' };
    default:
      return {
        body: `submission_id=${id}&name=Ana%00&email=p${n}%40example.com`,
        contentType: 'application/x-www-form-urlencoded',
      };
  }
}

describe('values PostgreSQL cannot store: refused alone, never costing another delivery its acknowledgement', () => {
  let db: TestDatabase;
  let app: Crmflow;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestCrmflow(
      testEnv({ databaseUrl: db.url, configPath: writeConfig(CONFIG), prefix: testPrefix() }),
      { api: true, worker: false, scheduler: false },
    );
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('300 concurrent signed deliveries, 5% poisoned: every clean one is acknowledged and stored, every poisoned one is a 400 that says why', async () => {
    const deliveries = Array.from({ length: 300 }, (_, i) => {
      if (i % 20 === 7) return { poisoned: true, ...poisoned(i) };
      return {
        poisoned: false,
        body: JSON.stringify({ submission_id: `clean-${i}`, name: `Person ${i}`, email: `c${i}@example.com` }),
        contentType: 'application/json',
      };
    });
    const answers = await Promise.all(
      deliveries.map((d) =>
        post(app, '/webhooks/form', d.body, formHeaders(d.body, SECRETS.FORM_WEBHOOK_SECRET, d.contentType)),
      ),
    );

    const clean = answers.filter((_, i) => !deliveries[i]!.poisoned);
    const bad = answers.filter((_, i) => deliveries[i]!.poisoned);
    expect(bad).toHaveLength(15);
    expect(clean.filter((answer) => answer.status !== 202)).toEqual([]);
    for (const answer of bad) {
      expect(answer.status).toBe(400);
      expect(answer.body.error.message).toMatch(/cannot be stored: (a NUL character|an unpaired UTF-16 surrogate)/);
    }
    expect(await count(db.pool, "SELECT 1 FROM inbox_events WHERE external_id LIKE 'clean-%'")).toBe(285);
    expect(await count(db.pool, "SELECT 1 FROM inbox_events WHERE external_id LIKE 'poison-%'")).toBe(0);
    // The sender's retry gets the same clear answer, not a 503 to retry forever.
    const again = poisoned(7);
    expect(
      (
        await post(
          app,
          '/webhooks/form',
          again.body,
          formHeaders(again.body, SECRETS.FORM_WEBHOOK_SECRET, again.contentType),
        )
      ).status,
    ).toBe(400);
  });

  it('a group write the database refuses is written delivery by delivery: only the poisoned one fails', async () => {
    const store = createInboxWriter(db.pool);
    const event = (id: string, payload: unknown) => ({
      connector: 'shopify',
      type: 'order.created',
      externalId: id,
      occurredAt: new Date('2026-11-01T10:00:00Z'),
      payload,
    });
    // Past the parse-time check (as a connector bug or a new vendor quirk would be): the database itself refuses it.
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) => store([event(`group-${i}`, i === 13 ? { note: 'a\u0000b' } : { i })])),
    );
    expect(results.filter((result) => result.status === 'rejected')).toHaveLength(1);
    expect((results[13] as PromiseRejectedResult).reason.code).toBe('22P05');
    expect(await count(db.pool, "SELECT 1 FROM inbox_events WHERE external_id LIKE 'group-%'")).toBe(39);
  });

  it('a pulled page with an unstorable item stores the rest, records the skipped item, and moves the cursor on', async () => {
    const pages: Record<string, { events: unknown[]; nextCursor: string | null; resumeCursor?: string }> = {
      start: {
        events: [item('pull-1', 'fine'), item('pull-2', 'bad\u0000'), item('pull-3', 'fine')],
        nextCursor: 'page-2',
      },
      'page-2': { events: [item('pull-4', 'fine')], nextCursor: null, resumeCursor: 'page-3' },
    };
    const connector = {
      id: 'fakeshop',
      pull: {
        orders: {
          summary: 'orders',
          list: async (_context: unknown, cursor: string | null) => pages[cursor ?? 'start']!,
        },
      },
    } as unknown as ConnectorDefinition;
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = createEventsQueue(redis, testPrefix());
    const skipped: string[] = [];
    try {
      const result = await runPull(
        {
          connector,
          resource: 'orders',
          cursorKey: 'orders',
          since: new Date(0),
          pageSize: 3,
          onSkipped: (message) => skipped.push(message),
        },
        {} as never,
        { pool: db.pool, queue, logger: pino({ level: 'silent' }) },
      );
      expect(result).toMatchObject({ pages: 2, received: 4, stored: 3, skipped: 1 });
      expect(skipped).toEqual([
        expect.stringMatching(/pulled order.updated "pull-2" skipped: it cannot be stored \(a NUL character/),
      ]);
      const cursor = await db.pool.query(
        "SELECT cursor FROM connector_cursors WHERE connector = 'fakeshop' AND resource = 'orders'",
      );
      expect(cursor.rows[0].cursor).toBe('page-3');
    } finally {
      await queue.close();
      redis.disconnect();
    }
  });
});

function item(id: string, note: string) {
  return { type: 'order.updated', externalId: id, occurredAt: '2026-11-20T10:00:00Z', payload: { id, note } };
}
