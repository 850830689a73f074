import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Crmflow } from '../src/runtime.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { api, post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { formHeaders } from './helpers/sign.js';
import { startSmtpServer } from './helpers/smtp.js';
import { waitFor } from './helpers/wait.js';

/** A lead form answered by email with an NPS question, and a shop follow-up asking CSAT. */
const CONFIG = `
version: 1
connectors:
  form: { secrets: { webhook_secret: "\${FORM_WEBHOOK_SECRET}" } }
agents: [{ id: alice, name: Alice }]
pools: { sales: { agents: [alice] } }
workflows:
  - id: lead
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps:
      - { type: map }
      - { type: upsert_customer }
      - { type: assign_lead, pool: sales }
      - { type: reply, channel: email, subject: "Thanks", body: "Thanks for writing.", rating: nps }
      - { type: reply, id: csat, channel: email, subject: "How did we do?", body: "One more question.", rating: csat }
`;

describe('rating links on any reply (NPS 0–10, CSAT 1–5)', () => {
  let db: TestDatabase;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let app: Crmflow;

  beforeAll(async () => {
    db = await createTestDatabase();
    smtp = await startSmtpServer();
    app = await startTestCrmflow(
      testEnv({ databaseUrl: db.url, configPath: writeConfig(CONFIG), prefix: testPrefix(), smtpUrl: smtp.url }),
    );
  });
  afterAll(async () => {
    await app?.close();
    await smtp?.close();
    await db?.drop();
  });

  /** The score → link map of the rating question in the email to `to` with `subject`. */
  async function linksIn(to: string, subject: string): Promise<Map<number, string>> {
    const mail = await waitFor(`the "${subject}" email to ${to}`, async () =>
      smtp.messages.find((message) => message.to.includes(to) && message.subject === subject),
    );
    return new Map([...mail.text.matchAll(/^(\d+)\/(?:5|10): (\S+)$/gm)].map((match) => [Number(match[1]), match[2]!]));
  }

  it('asks the question in the reply, counts one answer per message and gives the NPS and CSAT of the day', async () => {
    const scores: Record<string, [nps: number, csat: number]> = { ana: [10, 5], ben: [9, 4], cy: [3, 2] };
    for (const name of Object.keys(scores)) {
      const body = JSON.stringify({ submission_id: `rate-${name}`, name, email: `${name}@example.com` });
      expect((await post(app, '/webhooks/form', body, formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET))).status).toBe(
        202,
      );
    }
    for (const [name, [nps, csat]] of Object.entries(scores)) {
      const npsLinks = await linksIn(`${name}@example.com`, 'Thanks');
      expect([...npsLinks.keys()]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      const csatLinks = await linksIn(`${name}@example.com`, 'How did we do?');
      expect([...csatLinks.keys()]).toEqual([1, 2, 3, 4, 5]);
      // the links point at this server's public URL; a first click on another score is changed by the real answer
      const path = (link: string) => new URL(link).pathname;
      expect((await fetch(`${app.url}${path(npsLinks.get(0)!)}`, { method: 'POST' })).status).toBe(200);
      expect((await fetch(`${app.url}${path(npsLinks.get(nps)!)}`, { method: 'POST' })).status).toBe(200);
      expect((await fetch(`${app.url}${path(csatLinks.get(csat)!)}`, { method: 'POST' })).status).toBe(200);
    }
    const { rows } = await db.pool.query(`SELECT kind, count(*)::int AS n FROM feedback GROUP BY kind ORDER BY kind`);
    expect(rows).toEqual([
      { kind: 'csat', n: 3 },
      { kind: 'nps', n: 3 },
    ]);
    const today = new Date().toISOString().slice(0, 10);
    const report = (await api(app, `/api/reports/kpis?from=${today}&to=${today}`)).body;
    // NPS: 2 promoters (10, 9), 1 detractor (3) of 3 → 33.3; CSAT: 5 and 4 of 5, 4, 2 → 0.6667
    expect(report).toMatchObject({ nps: 33.3, csat: 0.6667 });
  });
});
