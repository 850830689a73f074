import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import nock from 'nock';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Crmflow } from '../src/runtime.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { fixtureBytes, formHeaders, shopifyHeaders, twilioWebhook } from './helpers/sign.js';
import { useNock } from './helpers/vendor-api.js';
import { waitFor } from './helpers/wait.js';

/**
 * The mixed multi-channel data set (tests/fixtures/identity-dataset/events.json) through the real webhook → worker
 * path: precision and recall of deterministic links against the ground truth, every trap held apart.
 */
interface DatasetEvent {
  person: string;
  vendor: string;
  /** `vendor/file` in tests/fixtures/vendors, or `connector:file` among a connector's own samples; null: built from `set`. */
  sample: string | null;
  set: Record<string, unknown>;
  entity?: { sample: string; set: Record<string, unknown> };
}
const DATASET = JSON.parse(
  readFileSync(new URL('./fixtures/identity-dataset/events.json', import.meta.url), 'utf8'),
) as { traps: string[][]; events: DatasetEvent[] };

const PUBLIC_URL = 'https://crm.example.com';
const QB_API = 'https://qb.example';
const XERO_API = 'https://xero.example';
const QB_REALM = '1185883450';

/**
 * The identity rules of the shipped workflows.yaml, as a user gets them, plus the one line every shop adds for itself:
 * its own address (here the data set's store), which appears on its QuickBooks records. The duplicate finder (a
 * background job) is off so that only the rules link people.
 */
const SHIPPED_IDENTITY =
  (parse(readFileSync(new URL('../workflows.yaml', import.meta.url), 'utf8')) as { identity?: Record<string, unknown> })
    .identity ?? {};
const IDENTITY = {
  ...SHIPPED_IDENTITY,
  blocked: {
    ...(SHIPPED_IDENTITY.blocked as Record<string, string[]> | undefined),
    email: [
      ...((SHIPPED_IDENTITY.blocked as Record<string, string[]> | undefined)?.email ?? []),
      'orders@harbor-outfitters.com',
    ],
  },
  suggest_duplicates: false,
};

const CONFIG = `
version: 1
${stringify({ identity: IDENTITY })}
connectors:
${['shopify', 'woocommerce', 'meta', 'twilio', 'quickbooks', 'xero', 'form']
  .map(
    (id) =>
      `  ${id}:\n    secrets:\n${secretNames(id)
        .map((name) => `      ${name}: \${${`${id}_${name}`.toUpperCase()}}`)
        .join('\n')}`,
  )
  .join('\n')}
workflows:
${['shopify', 'woocommerce', 'meta', 'twilio', 'quickbooks', 'xero', 'form']
  .map(
    (id) =>
      `  - id: ${id}-identity\n    trigger: { type: webhook, connector: ${id}, event: [${eventTypes(id).join(', ')}] }\n    steps: [{ type: map }, { type: upsert_customer }, { type: timeline }]`,
  )
  .join('\n')}
`;

function secretNames(id: string): string[] {
  return {
    shopify: ['webhook_secret'],
    woocommerce: ['webhook_secret'],
    meta: ['app_secret', 'verify_token', 'access_token'],
    twilio: ['account_sid', 'auth_token', 'from_number'],
    quickbooks: ['verifier_token', 'client_id', 'client_secret', 'refresh_token'],
    xero: ['webhook_key', 'client_id', 'client_secret', 'refresh_token'],
    form: ['webhook_secret'],
  }[id]!;
}

function eventTypes(id: string): string[] {
  return {
    shopify: ['order.created'],
    woocommerce: ['order.created'],
    meta: ['message.received'],
    twilio: ['message.received'],
    quickbooks: ['customer.created'],
    xero: ['contact.updated'],
    form: ['lead.submitted'],
  }[id]!;
}

function sample(ref: string): Record<string, unknown> {
  const [connector, file] = ref.split(':');
  if (file)
    return JSON.parse(readFileSync(new URL(`../src/connectors/${connector}/samples/${file}`, import.meta.url), 'utf8'));
  const [vendor, name] = ref.split('/') as [string, string];
  return JSON.parse(fixtureBytes(vendor, name).toString('utf8'));
}

/** Sets dotted paths (`a.0.b`) in a copy of the object. */
function withFields(object: Record<string, unknown>, fields: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(object);
  for (const [path, value] of Object.entries(fields)) {
    const keys = path.split('.');
    let node = copy as Record<string, unknown>;
    for (const key of keys.slice(0, -1)) node = node[key] as Record<string, unknown>;
    node[keys.at(-1)!] = value;
  }
  return copy;
}

const hmac = (algorithm: 'sha256' | 'sha1', secret: string, data: Buffer | string, encoding: 'hex' | 'base64') =>
  createHmac(algorithm, secret).update(data).digest(encoding);

/** The signed delivery each vendor would send for the event (and the API answer a thin webhook's read gets). */
function delivery(event: DatasetEvent): { body: Buffer; headers: Record<string, string> } {
  const payload = event.sample === null ? event.set : withFields(sample(event.sample), event.set);
  if (event.vendor === 'twilio') {
    const { body, headers } = twilioWebhook(PUBLIC_URL, payload as Record<string, string>, SECRETS.TWILIO_AUTH_TOKEN!);
    return { body: Buffer.from(body), headers };
  }
  const body = Buffer.from(JSON.stringify(payload));
  const json = { 'content-type': 'application/json' };
  switch (event.vendor) {
    case 'shopify':
      return { body, headers: shopifyHeaders(body, SECRETS.SHOPIFY_WEBHOOK_SECRET) };
    case 'woocommerce':
      return {
        body,
        headers: {
          ...json,
          'x-wc-webhook-topic': 'order.created',
          'x-wc-webhook-source': 'https://shop.harbor-outfitters.com/',
          'x-wc-webhook-signature': hmac('sha256', SECRETS.WOOCOMMERCE_WEBHOOK_SECRET!, body, 'base64'),
        },
      };
    case 'meta':
      return {
        body,
        headers: { ...json, 'x-hub-signature-256': `sha256=${hmac('sha256', SECRETS.META_APP_SECRET!, body, 'hex')}` },
      };
    case 'quickbooks':
      return {
        body,
        headers: { ...json, 'intuit-signature': hmac('sha256', SECRETS.QUICKBOOKS_VERIFIER_TOKEN!, body, 'base64') },
      };
    case 'xero':
      return {
        body,
        headers: { ...json, 'x-xero-signature': hmac('sha256', SECRETS.XERO_WEBHOOK_KEY!, body, 'base64') },
      };
    default:
      return { body, headers: formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET) };
  }
}

/** Answers the vendor API reads of thin webhooks (QuickBooks customers, Xero contacts) with the events' entities. */
function mockVendorApis(): void {
  const token = {
    access_token: 'access-1',
    refresh_token: 'refresh-2',
    expires_in: 3600,
    x_refresh_token_expires_in: 8726400,
    token_type: 'Bearer',
  };
  nock('https://oauth.platform.intuit.com').persist().post('/oauth2/v1/tokens/bearer').reply(200, token);
  nock('https://identity.xero.com').persist().post('/connect/token').reply(200, token);
  for (const event of DATASET.events) {
    if (!event.entity) continue;
    const entity = withFields(sample(event.entity.sample), event.entity.set);
    if (event.vendor === 'quickbooks') {
      const id = String(event.set['eventNotifications.0.dataChangeEvent.entities.0.id']);
      nock(QB_API).get(`/v3/company/${QB_REALM}/customer/${id}`).query(true).reply(200, entity);
    } else {
      nock(XERO_API)
        .get(`/api.xro/2.0/Contacts/${String(event.set['events.0.resourceId'])}`)
        .reply(200, { Contacts: [entity] });
    }
  }
}

useNock({ checkPending: false });

describe('identity resolution on a mixed multi-channel data set', () => {
  let db: TestDatabase;
  let app: Crmflow;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestCrmflow(
      testEnv({
        databaseUrl: db.url,
        configPath: writeConfig(CONFIG),
        prefix: testPrefix(),
        extra: { CRMFLOW_PUBLIC_URL: PUBLIC_URL, QUICKBOOKS_API_URL: QB_API, XERO_API_URL: XERO_API },
      }),
    );
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('links deterministically with 100% precision and holds every trap apart', async () => {
    mockVendorApis();
    const inboxIds: number[] = [];
    for (const [i, event] of DATASET.events.entries()) {
      const { body, headers } = delivery(event);
      const answer = await post(app, `/webhooks/${event.vendor}`, body, headers);
      expect([200, 202], `event ${i} (${event.vendor}): ${JSON.stringify(answer.body)}`).toContain(answer.status);
      // Arrival order matters to who gets an attach-only phone first: one event at a time, as they would arrive.
      const { rows } = await db.pool.query<{ id: number }>('SELECT max(id) AS id FROM inbox_events');
      inboxIds.push(rows[0]!.id);
      await waitFor(
        `event ${i} (${event.vendor})`,
        async () =>
          (await count(db.pool, "SELECT 1 FROM inbox_events WHERE id = $1 AND status = 'processed'", [rows[0]!.id])) ===
          1,
      );
    }
    expect(new Set(inboxIds).size).toBe(DATASET.events.length);
    const { rows: runs } = await db.pool.query<{ inbox_event_id: number; customer: number | null; status: string }>(
      `SELECT r.inbox_event_id, coalesce(c.merged_into, c.id) AS customer, r.status FROM workflow_runs r LEFT JOIN customers c ON c.id = r.customer_id`,
    );
    expect(runs.map((run) => run.status)).toEqual(DATASET.events.map(() => 'succeeded'));
    const customerOf = inboxIds.map((id) => runs.find((run) => run.inbox_event_id === id)!.customer!);

    let truePositives = 0;
    let falsePositives = 0;
    let falseNegatives = 0;
    const wrongLinks: string[] = [];
    for (let a = 0; a < DATASET.events.length; a++) {
      for (let b = a + 1; b < DATASET.events.length; b++) {
        const samePerson = DATASET.events[a]!.person === DATASET.events[b]!.person;
        const linked = customerOf[a] === customerOf[b];
        if (linked && samePerson) truePositives++;
        if (linked && !samePerson)
          (falsePositives++, wrongLinks.push(`${a}:${DATASET.events[a]!.person} ~ ${b}:${DATASET.events[b]!.person}`));
        if (!linked && samePerson) falseNegatives++;
      }
    }
    const precision = truePositives / (truePositives + falsePositives);
    const recall = truePositives / (truePositives + falseNegatives);
    const people = new Set(DATASET.events.map((event) => event.person)).size;
    process.stdout.write(
      `identity data set: ${DATASET.events.length} events, ${people} people, ${new Set(customerOf).size} customers; ` +
        `linked pairs ${truePositives} right, ${falsePositives} wrong, ${falseNegatives} missed; precision ${(precision * 100).toFixed(1)}%, recall ${(recall * 100).toFixed(1)}%\n`,
    );
    expect(wrongLinks).toEqual([]);
    expect(precision).toBe(1);
    for (const [first, second] of DATASET.traps) {
      const customers = (person: string) => new Set(customerOf.filter((_, i) => DATASET.events[i]!.person === person));
      const shared = [...customers(first!)].filter((customer) => customers(second!).has(customer));
      expect(shared, `${first} and ${second}`).toEqual([]);
    }
    // Nothing links Lena's Instagram id to her email: the one pair the rules cannot see.
    expect({ truePositives, falseNegatives }).toEqual({ truePositives: 14, falseNegatives: 1 });
    // The family phone stays with Sarah; David's events are suggested as related, not merged.
    const suggestions = await db.pool.query<{ why: string }>(
      "SELECT reason->>'why' AS why FROM customer_merge_suggestions",
    );
    expect(suggestions.rows.length).toBeGreaterThan(0);
  }, 120_000);
});
