import { readFileSync } from 'node:fs';
import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompiledExpression } from '../src/workflows/expression.js';
import { jobIds } from '../src/engine/queues.js';
import type { Crmflow } from '../src/runtime.js';
import { loadConfigText } from '../src/workflows/load.js';
import { api, post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { formHeaders, twilioWebhook } from './helpers/sign.js';
import { startSmtpServer } from './helpers/smtp.js';
import { useNock } from './helpers/vendor-api.js';
import { waitFor } from './helpers/wait.js';

const SHIPPED = readFileSync(new URL('../workflows.yaml', import.meta.url), 'utf8');
const PUBLIC_URL = 'https://crm.example.com';
const TWILIO = 'https://twilio.test';
const TWILIO_ENV = { TWILIO_ACCOUNT_SID: 'ACtest', TWILIO_FROM_NUMBER: '+15005550006', TWILIO_API_URL: TWILIO };

useNock({ checkPending: false });

describe('the shipped complaint rule (workflows.yaml)', () => {
  const config = loadConfigText(SHIPPED, 'workflows.yaml', { env: { ...SECRETS, ...TWILIO_ENV } });
  const step = config.workflows.find((workflow) => workflow.id === 'complaints')!.steps[0]!;
  const compiled = step.compiled as {
    openIf: CompiledExpression;
    priorityRules: Array<{ when: CompiledExpression; priority: string }>;
  };
  const opens = async (summary: string) => (await compiled.openIf.evaluate({ summary }, {})) === true;
  const refund = async (summary: string) => (await compiled.priorityRules[0]!.when.evaluate({ summary }, {})) === true;

  it('recognises complaint, broken, refund and not received in English, Spanish, Greek, Turkish, Persian and Armenian', async () => {
    const complaints = [
      'I want to make a complaint',
      'The lamp arrived BROKEN',
      'Please refund me',
      'Order not received',
      'Quiero poner una queja',
      'La taza llegó rota',
      'Quiero un reembolso',
      'No he recibido mi pedido',
      'Θέλω να κάνω παράπονο',
      'Ήρθε σπασμένο',
      'Ζητώ επιστροφή χρημάτων',
      'Δεν παρέλαβα την παραγγελία',
      'ŞİKAYET etmek istiyorum',
      'Ürün kırık geldi',
      'İade istiyorum',
      'Sipariş ulaşmadı',
      'من شکایت دارم',
      'کالا شکسته رسید',
      'بازپرداخت می‌خواهم',
      'سفارش را دریافت نکردم',
      'Ես բողոք ունեմ',
      'Ապրանքը կոտրված է',
      'Խնդրում եմ գումարի վերադարձ',
      'Պատվերը չեմ ստացել',
    ];
    for (const text of complaints) expect(await opens(text), text).toBe(true);
    for (const text of ['Hello, what are your opening hours?', 'Hola, ¿tienen envío gratis?', 'Merhaba', 'Γεια σας'])
      expect(await opens(text), text).toBe(false);
    for (const text of [
      'Please refund me',
      'Quiero un reembolso',
      'Ζητώ επιστροφή χρημάτων',
      'İade istiyorum',
      'بازپرداخت می‌خواهم',
      'Խնդրում եմ գումարի վերադարձ',
    ]) {
      expect(await refund(text), text).toBe(true);
    }
    expect(await refund('The lamp arrived broken')).toBe(false);
  });

  describe('running', () => {
    let db: TestDatabase;
    let app: Crmflow;
    let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
    // Monday 7 December 2026, 10:00 in New York (the `support` business hours).
    let clock = new Date('2026-12-07T15:00:00Z');

    beforeAll(async () => {
      db = await createTestDatabase();
      smtp = await startSmtpServer();
      const env = testEnv({
        databaseUrl: db.url,
        configPath: writeConfig(SHIPPED),
        prefix: testPrefix(),
        smtpUrl: smtp.url,
        extra: { CRMFLOW_PUBLIC_URL: PUBLIC_URL, ...TWILIO_ENV },
      });
      app = await startTestCrmflow(env, undefined, () => clock);
    });
    afterAll(async () => {
      await app?.close();
      await smtp?.close();
      await db?.drop();
    });

    const text = async (sid: string, body: string) => {
      const params: Record<string, string> = {
        AccountSid: 'ACtest',
        ApiVersion: '2010-04-01',
        MessageSid: sid,
        SmsStatus: 'received',
        From: '+14155550123',
        To: '+15005550006',
        Body: body,
        NumMedia: '0',
      };
      const signed = twilioWebhook(PUBLIC_URL, params, SECRETS.TWILIO_AUTH_TOKEN!);
      expect((await post(app, '/webhooks/twilio', signed.body, signed.headers)).status).toBe(200);
    };

    it('an SMS asking for a refund opens a high-priority case in support, acknowledged once by SMS; the pool lead hears of the breach', async () => {
      const acknowledgements: string[] = [];
      nock(TWILIO)
        .post('/2010-04-01/Accounts/ACtest/Messages.json', (form) => form.To === '+14155550123')
        .times(5)
        .reply(201, (_uri, body) => {
          acknowledgements.push(new URLSearchParams(body as string).get('Body') ?? '');
          return { sid: `SM${String(acknowledgements.length).padStart(32, '0')}`, status: 'queued' };
        });
      await text('SM00000000000000000000000000000a01', 'The kettle arrived broken, I want a refund');
      const { body } = await waitFor('the case', async () => {
        const result = await api(app, '/api/cases');
        return result.body.cases.length === 1 && result;
      });
      const opened = body.cases[0];
      expect(opened).toMatchObject({
        pool: 'support',
        priority: 'high',
        channel: 'sms',
        status: 'open',
        first_response_due_at: '2026-12-07T19:00:00.000Z',
      });
      expect(['carol', 'bob']).toContain(opened.owner_agent_id);
      await waitFor('the acknowledgement', async () => acknowledgements.length === 1);
      expect(acknowledgements[0]).toContain(`Your case number is ${opened.id}`);
      expect(acknowledgements[0]).toMatch(/answer by Mon 7 Dec, 14:00 GMT-5 \(within 4h of business hours\)/);

      // The automatic answer did not stop the first-response clock; a second message joins, unanswered.
      await text('SM00000000000000000000000000000a02', 'Hello? Anyone there?');
      const detail = await waitFor('the second message on the case', async () => {
        const result = await api(app, `/api/cases/${opened.id}`);
        return (
          result.body.thread.filter((entry: { kind: string }) => entry.kind === 'inbound').length === 2 && result.body
        );
      });
      expect(detail).toMatchObject({ first_responded_at: null, first_response_due_at: '2026-12-07T19:00:00.000Z' });
      expect(detail.thread.filter((entry: { kind: string }) => entry.kind === 'auto_reply')).toHaveLength(1);
      expect(await count(db.pool, 'SELECT 1 FROM cases')).toBe(1);

      clock = new Date('2026-12-07T19:05:00Z');
      const check = await app.queue.getJob(
        jobIds.caseCheck(opened.id, 'first_response', new Date(opened.first_response_due_at)),
      );
      await check!.promote();
      const mail = await waitFor('the email to the pool lead', async () =>
        smtp.messages.find((message) => message.to.includes('alice@example.com')),
      );
      expect(mail.subject).toBe(`Case #${opened.id} has no answer yet (high)`);
      expect(acknowledgements).toHaveLength(1);
    });

    it('a form with type complaint opens a case answered by email', async () => {
      const lead = JSON.stringify({
        submission_id: 'c-1',
        type: 'complaint',
        form: 'Contact',
        name: 'Rosa Diaz',
        email: 'rosa@example.com',
        message: 'My parcel never arrived',
      });
      expect((await post(app, '/webhooks/form', lead, formHeaders(lead, SECRETS.FORM_WEBHOOK_SECRET))).status).toBe(
        202,
      );
      const mail = await waitFor('the acknowledgement email', async () =>
        smtp.messages.find(
          (message) => message.to.includes('rosa@example.com') && /Case #/.test(message.subject ?? ''),
        ),
      );
      const { body } = await api(app, '/api/cases?status=open');
      const opened = body.cases.find((row: { channel: string }) => row.channel === 'email');
      expect(opened).toMatchObject({ priority: 'normal', subject: 'Complaint: My parcel never arrived' });
      expect(mail.subject).toBe(`Re: [Case #${opened.id}] Complaint: My parcel never arrived`);
      expect(mail.text).toContain(`Your case number is ${opened.id}`);
    });
  });
});
