import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Crmflow } from '../src/runtime.js';
import { getRun, listRuns } from '../src/store/runs.js';
import {
  isOpen,
  localTimeToInstant,
  nextOpening,
  parseWeek,
  quietWeek,
  type OpeningHours,
} from '../src/engine/opening-hours.js';
import { hoursFor, nextCommonOpening, type HoursRule } from '../src/engine/send-window.js';
import type { CustomerSummary } from '../src/engine/steps/define-step.js';
import { loadConfigText } from '../src/workflows/load.js';
import { post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { formHeaders } from './helpers/sign.js';
import { startSmtpServer } from './helpers/smtp.js';
import { waitFor } from './helpers/wait.js';

const madrid = (open: Record<string, string | string[]>, holidays: string[] = []): OpeningHours => ({
  timeZone: 'Europe/Madrid',
  week: parseWeek(open),
  holidays: new Set(holidays),
});
const support = madrid({ 'mon-fri': '09:00-18:00', sat: '10:00-14:00' }, ['2026-12-25']);

describe('opening hours', () => {
  it('is open inside the day range and closed at its end (local time, winter offset +01:00)', () => {
    expect(isOpen(support, new Date('2026-11-23T08:00:00Z'))).toBe(true); // Mon 09:00 Madrid
    expect(isOpen(support, new Date('2026-11-23T07:59:59Z'))).toBe(false);
    expect(isOpen(support, new Date('2026-11-23T16:59:00Z'))).toBe(true);
    expect(isOpen(support, new Date('2026-11-23T17:00:00Z'))).toBe(false); // 18:00: closed
  });

  it('finds the next opening across the weekend, the short Saturday and a holiday', () => {
    expect(nextOpening(support, new Date('2026-11-27T18:30:00Z'))).toEqual(new Date('2026-11-28T09:00:00Z')); // Fri 19:30 → Sat 10:00
    expect(nextOpening(support, new Date('2026-11-28T13:00:00Z'))).toEqual(new Date('2026-11-30T08:00:00Z')); // Sat 14:00 → Mon 09:00
    expect(nextOpening(support, new Date('2026-12-24T18:00:00Z'))).toEqual(new Date('2026-12-26T09:00:00Z')); // Christmas → Sat 26th
    expect(nextOpening(support, new Date('2026-11-23T10:00:00Z'))).toEqual(new Date('2026-11-23T10:00:00Z')); // open now: now
  });

  it('follows daylight saving: the same 09:00 is 08:00Z in winter and 07:00Z in summer', () => {
    // Madrid springs forward on Sun 2026-03-29; Monday 09:00 is then +02:00.
    expect(nextOpening(support, new Date('2026-03-28T14:00:00Z'))).toEqual(new Date('2026-03-30T07:00:00Z'));
    // and falls back on Sun 2026-10-25.
    expect(nextOpening(support, new Date('2026-10-24T13:00:00Z'))).toEqual(new Date('2026-10-26T08:00:00Z'));
  });

  it('opens a time skipped by spring-forward when the clock reaches it, and a repeated time at its first occurrence', () => {
    // New York: 2026-03-08 02:00 → 03:00; 2026-11-01 02:00 → 01:00.
    expect(localTimeToInstant('America/New_York', { year: 2026, month: 3, day: 8 }, 150)).toEqual(
      new Date('2026-03-08T07:30:00Z'),
    ); // 03:30 EDT
    expect(localTimeToInstant('America/New_York', { year: 2026, month: 11, day: 1 }, 90)).toEqual(
      new Date('2026-11-01T05:30:00Z'),
    ); // first 01:30 (EDT)
    const night: OpeningHours = {
      timeZone: 'America/New_York',
      week: parseWeek({ daily: '02:30-04:00' }),
      holidays: new Set(),
    };
    expect(nextOpening(night, new Date('2026-03-08T05:00:00Z'))).toEqual(new Date('2026-03-08T07:30:00Z'));
    expect(isOpen(night, new Date('2026-03-08T07:45:00Z'))).toBe(true);
  });

  it('continues a range past midnight on the next day', () => {
    const late = madrid({ fri: '22:00-02:00' });
    expect(isOpen(late, new Date('2026-11-27T23:30:00Z'))).toBe(true); // Sat 00:30
    expect(isOpen(late, new Date('2026-11-28T01:00:00Z'))).toBe(false); // Sat 02:00
  });

  it('turns quiet hours into the hours when sending is allowed', () => {
    const allowed: OpeningHours = {
      timeZone: 'America/New_York',
      week: quietWeek('21:00', '08:00'),
      holidays: new Set(),
    };
    expect(isOpen(allowed, new Date('2026-11-23T02:30:00Z'))).toBe(false); // 21:30 EST
    expect(nextOpening(allowed, new Date('2026-11-23T02:30:00Z'))).toEqual(new Date('2026-11-23T13:00:00Z')); // 08:00 EST
    expect(isOpen(allowed, new Date('2026-11-23T13:00:00Z'))).toBe(true);
  });

  it("reads quiet hours in the customer's or the owner's zone, else the default", () => {
    const rule = (timeZone: string): HoursRule => ({
      name: 'night',
      timeZone,
      defaultTimeZone: 'Europe/Madrid',
      week: quietWeek('21:00', '08:00'),
      holidays: new Set(),
    });
    const person = (attributes: Record<string, unknown>): CustomerSummary => ({
      id: 1,
      name: null,
      first_name: null,
      last_name: null,
      language: null,
      country: null,
      lifecycle_stage: 'lead',
      owner_agent_id: 'ann',
      email: null,
      phone: null,
      identities: [],
      attributes,
      score: 0,
    });
    const customer = person({ time_zone: 'Asia/Tokyo' });
    const owner = { id: 'ann', name: 'Ann', time_zone: 'America/Chicago' };
    expect(hoursFor(rule('customer'), customer, owner).timeZone).toBe('Asia/Tokyo');
    expect(hoursFor(rule('owner'), customer, owner).timeZone).toBe('America/Chicago');
    expect(hoursFor(rule('customer'), person({}), owner).timeZone).toBe('Europe/Madrid');
    expect(hoursFor(rule('America/Denver'), customer, owner).timeZone).toBe('America/Denver');
  });

  it('needs every set of hours open at once, and says when that never happens', () => {
    const quietMadrid: OpeningHours = {
      timeZone: 'Europe/Madrid',
      week: quietWeek('12:00', '17:00'),
      holidays: new Set(),
    };
    expect(nextCommonOpening([support, quietMadrid], new Date('2026-11-23T11:30:00Z'))).toEqual(
      new Date('2026-11-23T16:00:00Z'),
    ); // 17:00 Madrid
    expect(
      nextCommonOpening(
        [madrid({ sat: '10:00-11:00' }), madrid({ sun: '10:00-11:00' })],
        new Date('2026-11-23T11:30:00Z'),
      ),
    ).toBeUndefined();
  });

  it('reports bad declarations at their line in workflows.yaml', () => {
    const yaml = (hours: string) => `
agents: [{ id: ann, name: Ann }]
pools: { sales: { agents: [ann] } }
connectors: { form: { secrets: { webhook_secret: x } } }
${hours}
workflows:
  - id: w
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps:
      - { type: reply, channel: email, subject: s, body: b, hours: support }
`;
    expect(() =>
      loadConfigText(
        yaml('business_hours: { support: { time_zone: Europe/Madrid, open: { mon-fro: "09:00-18:00" } } }'),
        'workflows.yaml',
        { env: {} },
      ),
    ).toThrow(/workflows.yaml:5:\d+ "mon-fro" is not a day/);
    expect(() =>
      loadConfigText(
        yaml('business_hours: { support: { time_zone: Mars/Base, open: { daily: "09:00-18:00" } } }'),
        'workflows.yaml',
        { env: {} },
      ),
    ).toThrow(/unknown time zone "Mars\/Base"/);
    expect(() =>
      loadConfigText(
        yaml('business_hours: { other: { time_zone: Europe/Madrid, open: { daily: "09:00-18:00" } } }'),
        'workflows.yaml',
        { env: {} },
      ),
    ).toThrow(/workflows.yaml:10:\d+ unknown business_hours "support"; declared: other/);
  });
});

const CONFIG = `
connectors:
  form: { secrets: { webhook_secret: "\${FORM_WEBHOOK_SECRET}" } }
business_hours:
  support: { time_zone: Europe/Madrid, open: { mon-fri: "09:00-18:00", sat: "10:00-14:00" }, holidays: [2026-12-25] }
quiet_hours:
  night: { from: "21:00", to: "08:00", time_zone: customer, default_time_zone: Europe/Madrid }
workflows:
  - id: scheduled
    trigger: { type: webhook, connector: form, event: lead.submitted, when: "form = 'scheduled'" }
    steps:
      - { type: map }
      - { type: upsert_customer }
      - { type: reply, channel: email, subject: "We got your message", body: "An agent answers now.", hours: support }
  - id: variant
    trigger: { type: webhook, connector: form, event: lead.submitted, when: "form = 'variant'" }
    steps:
      - { type: map }
      - { type: upsert_customer }
      - type: reply
        channel: email
        subject: "We got your message"
        body: "An agent answers now."
        hours: support
        outside_hours: { subject: "We are closed", body: "We answer when we open, Monday to Friday 9-18." }
  - id: quiet
    trigger: { type: webhook, connector: form, event: lead.submitted, when: "form = 'quiet'" }
    steps:
      - { type: map }
      - { type: upsert_customer }
      - { type: reply, channel: email, subject: "Hello", body: "Not at night.", quiet_hours: night }
`;

describe('replies outside business and quiet hours, through the real worker (clock injected)', () => {
  let db: TestDatabase;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let app: Crmflow;
  /** The injected clock runs at real speed from the date a test sets. */
  let offsetMs = 0;
  const setClock = (iso: string) => (offsetMs = new Date(iso).getTime() - Date.now());

  beforeAll(async () => {
    db = await createTestDatabase();
    smtp = await startSmtpServer();
    app = await startTestCrmflow(
      testEnv({ databaseUrl: db.url, configPath: writeConfig(CONFIG), prefix: testPrefix(), smtpUrl: smtp.url }),
      undefined,
      () => new Date(Date.now() + offsetMs),
    );
  });
  afterAll(async () => {
    await app?.close();
    await smtp?.close();
    await db?.drop();
  });

  const submit = async (form: string, email: string) => {
    const body = JSON.stringify({ submission_id: `${form}-${email}`, form, name: 'Ana Souza', email });
    expect((await post(app, '/webhooks/form', body, formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET))).status).toBe(202);
    return waitFor(`the ${form} run`, async () => (await listRuns(db.pool, { workflow: form, limit: 1 }))[0]);
  };
  const settled = (runId: number, status: string) =>
    waitFor(`run ${runId} ${status}`, async () =>
      (await getRun(db.pool, runId))?.status === status ? getRun(db.pool, runId) : undefined,
    );

  it('sends the out-of-hours variant at once on a Saturday afternoon', async () => {
    setClock('2026-11-28T15:00:00Z'); // Sat 16:00 in Madrid: closed since 14:00
    const run = await submit('variant', 'variant@example.com');
    await settled(run.id, 'succeeded');
    expect(
      smtp.messages.filter((message) => message.to.includes('variant@example.com')).map((message) => message.subject),
    ).toEqual(['We are closed']);
  });

  it('holds the reply until the next opening, then sends it', async () => {
    setClock('2026-11-30T07:59:56Z'); // Mon 08:59:56 in Madrid
    const run = await submit('scheduled', 'scheduled@example.com');
    const waiting = await settled(run.id, 'waiting');
    expect(waiting?.resumeAt).toEqual(new Date('2026-11-30T08:00:00Z'));
    expect(smtp.messages.filter((message) => message.to.includes('scheduled@example.com'))).toHaveLength(0);
    await settled(run.id, 'succeeded');
    expect(
      smtp.messages.filter((message) => message.to.includes('scheduled@example.com')).map((message) => message.subject),
    ).toEqual(['We got your message']);
  });

  it('holds a reply during quiet hours until they end, in the default zone of a customer without one', async () => {
    setClock('2026-11-30T21:30:00Z'); // Mon 22:30 in Madrid
    const run = await submit('quiet', 'quiet@example.com');
    const waiting = await settled(run.id, 'waiting');
    expect(waiting?.resumeAt).toEqual(new Date('2026-12-01T07:00:00Z')); // Tue 08:00 in Madrid
  });
});
