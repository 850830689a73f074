import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../src/dashboard/auth.js';
import type { Crmflow } from '../src/runtime.js';
import { ConfigError, formatIssue, loadConfigFile, loadConfigText } from '../src/workflows/load.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { api, post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { fixtureBytes } from './helpers/sign.js';
import { startSmtpServer } from './helpers/smtp.js';
import { waitFor } from './helpers/wait.js';

/**
 * Hostile input against a running crmflow (the shipped workflows.yaml, a real SMTP server): every bad request gets its
 * exact error and changes nothing. Covered elsewhere, not repeated here: alias bombs (workflows.validate.test.ts) and
 * expressions that never finish (engine.runs.test.ts, "stops an expression that never finishes").
 */
const EXAMPLE_CONFIG = readFileSync(new URL('../workflows.yaml', import.meta.url), 'utf8');
const PUBLIC_URL = 'https://crm.example.com';
/** Nothing listens here: a worker that calls a vendor API fails at once instead of reaching the internet. */
const CLOSED = 'http://127.0.0.1:9';
const VIEWER_PASSWORD = 'viewer-password-1';

type Algorithm = 'sha1' | 'sha256';
const hmac = (algorithm: Algorithm, secret: string, data: Buffer | string, encoding: 'hex' | 'base64') =>
  createHmac(algorithm, secret).update(data).digest(encoding);
const twilioSigned = (body: Buffer) =>
  `${PUBLIC_URL}/webhooks/twilio${[...new URLSearchParams(body.toString('utf8'))]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, value]) => name + value)
    .join('')}`;

/** One vendor as it signs: `sign(body)` gives the headers the vendor sends; `algorithm` and `secret` make it sign wrongly. */
interface Vendor {
  id: string;
  /** A valid delivery (shared sample). */
  body: Buffer;
  /** The header carrying the signature. */
  header: string;
  /** JSON vendors read JSON only; Twilio reads urlencoded, the form both. */
  json: boolean;
  sign: (body: Buffer | string, algorithm?: Algorithm, secret?: string) => Record<string, string>;
}

const json = { 'content-type': 'application/json' };
const VENDORS: Vendor[] = [
  {
    id: 'shopify',
    body: fixtureBytes('shopify', 'orders_create.json'),
    header: 'x-shopify-hmac-sha256',
    json: true,
    sign: (body, algorithm = 'sha256', secret = SECRETS.SHOPIFY_WEBHOOK_SECRET) => ({
      ...json,
      'x-shopify-topic': 'orders/create',
      'x-shopify-hmac-sha256': hmac(algorithm, secret, body, 'base64'),
    }),
  },
  {
    id: 'form',
    body: Buffer.from(
      JSON.stringify({ submission_id: 'hostile-sig-1', name: 'Sig Nature', email: 'sig@hostile.example' }),
    ),
    header: 'x-crmflow-signature',
    json: true,
    sign: (body, algorithm = 'sha256', secret = SECRETS.FORM_WEBHOOK_SECRET) => ({
      ...json,
      'x-crmflow-signature': `${algorithm}=${hmac(algorithm, secret, body, 'hex')}`,
    }),
  },
  {
    id: 'meta',
    body: fixtureBytes('meta', 'whatsapp_text_message.json'),
    header: 'x-hub-signature-256',
    json: true,
    sign: (body, algorithm = 'sha256', secret = SECRETS.META_APP_SECRET!) => ({
      ...json,
      'x-hub-signature-256': `${algorithm}=${hmac(algorithm, secret, body, 'hex')}`,
    }),
  },
  {
    id: 'twilio',
    body: Buffer.from(
      new URLSearchParams(
        JSON.parse(fixtureBytes('twilio', 'incoming_sms.json').toString('utf8')) as Record<string, string>,
      ).toString(),
    ),
    header: 'x-twilio-signature',
    json: false,
    sign: (body, algorithm = 'sha1', secret = SECRETS.TWILIO_AUTH_TOKEN!) => ({
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': hmac(algorithm, secret, twilioSigned(Buffer.from(body)), 'base64'),
    }),
  },
  {
    id: 'woocommerce',
    body: fixtureBytes('woocommerce', 'order_created.json'),
    header: 'x-wc-webhook-signature',
    json: true,
    sign: (body, algorithm = 'sha256', secret = SECRETS.WOOCOMMERCE_WEBHOOK_SECRET!) => ({
      ...json,
      'x-wc-webhook-topic': 'order.created',
      'x-wc-webhook-source': 'https://shop.example.com/',
      'x-wc-webhook-signature': hmac(algorithm, secret, body, 'base64'),
    }),
  },
  {
    id: 'quickbooks',
    body: fixtureBytes('quickbooks', 'webhook_customer_create.json'),
    header: 'intuit-signature',
    json: true,
    sign: (body, algorithm = 'sha256', secret = SECRETS.QUICKBOOKS_VERIFIER_TOKEN!) => ({
      ...json,
      'intuit-signature': hmac(algorithm, secret, body, 'base64'),
    }),
  },
  {
    id: 'xero',
    body: fixtureBytes('xero', 'webhook_contact_update.json'),
    header: 'x-xero-signature',
    json: true,
    sign: (body, algorithm = 'sha256', secret = SECRETS.XERO_WEBHOOK_KEY!) => ({
      ...json,
      'x-xero-signature': hmac(algorithm, secret, body, 'base64'),
    }),
  },
];
const JSON_VENDORS = VENDORS.filter((vendor) => vendor.json);

describe('hostile input against a running crmflow (example workflows.yaml)', () => {
  let db: TestDatabase;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let app: Crmflow;
  const inbox = () => count(db.pool, 'SELECT 1 FROM inbox_events');
  /** The one JSON error shape, with the exact status and code (and the reason, where given). */
  async function expectRejected(
    response: { status: number; body: any },
    status: number,
    code: string,
    what: string,
    message?: RegExp,
  ) {
    expect(response.status, `${what}: ${JSON.stringify(response.body)}`).toBe(status);
    expect(response.body.error.code, what).toBe(code);
    if (message) expect(response.body.error.message, what).toMatch(message);
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    smtp = await startSmtpServer();
    const vendorApis = {
      QUICKBOOKS_API_URL: CLOSED,
      XERO_API_URL: CLOSED,
      META_GRAPH_URL: CLOSED,
      TWILIO_API_URL: CLOSED,
    };
    app = await startTestCrmflow(
      testEnv({
        databaseUrl: db.url,
        configPath: writeConfig(EXAMPLE_CONFIG),
        prefix: testPrefix(),
        smtpUrl: smtp.url,
        extra: {
          ...vendorApis,
          CRMFLOW_PUBLIC_URL: PUBLIC_URL,
          CRMFLOW_USERS: `viewer-user:viewer:${hashPassword(VIEWER_PASSWORD)}`,
        },
      }),
    );
  });
  afterAll(async () => {
    await app?.close();
    await smtp?.close();
    await db?.drop();
  });

  it('signatures: missing, wrong, truncated, wrong algorithm or for another body are 401 and store nothing; a replay is a 2xx duplicate, stored and run once', async () => {
    for (const vendor of VENDORS) {
      const good = vendor.sign(vendor.body);
      const { [vendor.header]: signature, ...unsigned } = good;
      const attempts: Array<[string, Record<string, string>]> = [
        ['missing', unsigned],
        ['empty', { ...unsigned, [vendor.header]: '' }],
        ['wrong secret', vendor.sign(vendor.body, undefined, 'not-the-secret')],
        ['truncated to half', { ...unsigned, [vendor.header]: signature!.slice(0, Math.floor(signature!.length / 2)) }],
        ['wrong algorithm', vendor.sign(vendor.body, vendor.id === 'twilio' ? 'sha256' : 'sha1')],
        [
          'valid for a different body',
          {
            ...unsigned,
            [vendor.header]: vendor.sign(vendor.id === 'twilio' ? `${vendor.body}&Extra=1` : `${vendor.body}\n`)[
              vendor.header
            ]!,
          },
        ],
      ];
      for (const [what, headers] of attempts) {
        const response = await post(app, `/webhooks/${vendor.id}`, vendor.body, headers);
        await expectRejected(response, 401, 'bad_signature', `${vendor.id}, ${what} signature`, /signature/);
      }
      expect(await count(db.pool, 'SELECT 1 FROM inbox_events WHERE connector = $1', [vendor.id]), vendor.id).toBe(0);

      const first = await post(app, `/webhooks/${vendor.id}`, vendor.body, good);
      expect([200, 202], `${vendor.id}: ${JSON.stringify(first.body)}`).toContain(first.status);
      const stored = await count(db.pool, 'SELECT 1 FROM inbox_events WHERE connector = $1', [vendor.id]);
      expect(stored, vendor.id).toBeGreaterThan(0);
      for (let replay = 0; replay < 2; replay++) {
        const again = await post(app, `/webhooks/${vendor.id}`, vendor.body, good);
        expect(again.status, `${vendor.id} replay`).toBe(first.status);
        // Twilio is answered with TwiML; everyone else learns it was a duplicate.
        if (again.status === 202)
          expect(again.body, vendor.id).toMatchObject({ stored: 0, duplicates: first.body.received });
      }
      expect(
        await count(db.pool, 'SELECT 1 FROM inbox_events WHERE connector = $1', [vendor.id]),
        `${vendor.id} stored once`,
      ).toBe(stored);
    }
    // Run once: the form lead and the Shopify order (whose workflows run without vendor APIs) each ran and emailed once.
    await waitFor(
      'both runs',
      async () =>
        (await count(
          db.pool,
          "SELECT 1 FROM workflow_runs WHERE workflow IN ('web-lead', 'shopify-order') AND status = 'succeeded'",
        )) === 2,
      30_000,
    );
    await waitFor('both emails', async () => smtp.messages.length === 2);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await count(db.pool, "SELECT 1 FROM workflow_runs WHERE workflow IN ('web-lead', 'shopify-order')")).toBe(2);
    expect(smtp.messages.map((message) => message.to[0]).sort()).toEqual(['jon@example.com', 'sig@hostile.example']);
  });

  it('wrong content types: text/plain and multipart to a JSON vendor are 400 with the reason, nothing stored', async () => {
    const before = await inbox();
    for (const vendor of JSON_VENDORS) {
      const asText = { ...vendor.sign(vendor.body), 'content-type': 'text/plain' };
      await expectRejected(
        await post(app, `/webhooks/${vendor.id}`, vendor.body, asText),
        400,
        'bad_request',
        `${vendor.id} as text/plain`,
        /content type "text\/plain"/,
      );

      const boundary = 'hostileBoundary';
      const multipart = Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="payload"\r\nContent-Type: application/json\r\n\r\n${vendor.body}\r\n--${boundary}--\r\n`,
      );
      const asMultipart = { ...vendor.sign(multipart), 'content-type': `multipart/form-data; boundary=${boundary}` };
      await expectRejected(
        await post(app, `/webhooks/${vendor.id}`, multipart, asMultipart),
        400,
        'bad_request',
        `${vendor.id} as multipart`,
        /content type "multipart\/form-data"/,
      );
    }
    expect(await inbox()).toBe(before);
  });

  it('malformed JSON and form bodies are 400, over 1 MB 413, 100,000 levels of nesting 400 without harm, invalid UTF-8 400', async () => {
    const before = await inbox();
    const send = (vendor: Vendor, body: Buffer | string, contentType?: string) =>
      post(app, `/webhooks/${vendor.id}`, body, {
        ...vendor.sign(body),
        ...(contentType ? { 'content-type': contentType } : {}),
      });
    const form = VENDORS.find((vendor) => vendor.id === 'form')!;
    const twilio = VENDORS.find((vendor) => vendor.id === 'twilio')!;

    for (const vendor of JSON_VENDORS) {
      for (const body of ['{"id": 1, ', '{"id": 1}}', "{'id': 1}", '']) {
        await expectRejected(
          await send(vendor, body),
          400,
          'bad_request',
          `${vendor.id} body ${JSON.stringify(body)}`,
          /not valid JSON/,
        );
      }
      await expectRejected(
        await send(vendor, '"a string"'),
        400,
        'bad_request',
        `${vendor.id} scalar body`,
        /must be a JSON object/,
      );
    }
    // Percent escapes that are not escapes, or that decode to invalid UTF-8, are not silently rewritten.
    for (const vendor of [form, twilio]) {
      for (const body of [
        'name=%zz&email=a%40b.example',
        'name=%FF%FE&email=a%40b.example',
        'CallSid=CA1&From=%E2%82',
      ]) {
        await expectRejected(
          await send(vendor, body, 'application/x-www-form-urlencoded'),
          400,
          'bad_request',
          `${vendor.id} form ${body}`,
          /urlencoded/,
        );
      }
    }

    for (const vendor of VENDORS) {
      const big = JSON.stringify({ id: 1, padding: 'x'.repeat(1024 * 1024) });
      await expectRejected(
        await send(vendor, big),
        413,
        'payload_too_large',
        `${vendor.id} over 1 MB`,
        /larger than the 1024 kB limit/,
      );
    }

    const depth = 100_000;
    for (const vendor of JSON_VENDORS) {
      for (const body of [
        '['.repeat(depth),
        `{"id":1,"deep":${'['.repeat(depth)}${']'.repeat(depth)}}`,
        `{"id":1,"deep":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`,
      ]) {
        const started = Date.now();
        const response = await send(vendor, body);
        expect([400, 413], `${vendor.id} nested ${body.slice(0, 12)}: ${JSON.stringify(response.body)}`).toContain(
          response.status,
        );
        expect(response.body.error).toMatchObject({
          code: 'bad_request',
          message: 'body is not valid JSON: nested deeper than 100 levels',
        });
        expect(Date.now() - started, 'answered promptly').toBeLessThan(5_000);
      }
    }
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);

    const invalidUtf8 = Buffer.concat([
      Buffer.from('{"id":"'),
      Buffer.from([0xc3, 0x28, 0xff, 0xfe]),
      Buffer.from('"}'),
    ]);
    for (const vendor of [...JSON_VENDORS, twilio]) {
      const body = vendor.json
        ? invalidUtf8
        : Buffer.from([0x43, 0x61, 0x6c, 0x6c, 0x53, 0x69, 0x64, 0x3d, 0xff, 0xfe]);
      await expectRejected(
        await send(vendor, body),
        400,
        'bad_request',
        `${vendor.id} invalid UTF-8`,
        /not valid UTF-8/,
      );
    }
    expect(await inbox()).toBe(before);
  });

  it('SQL, HTML and JSONata in a lead are stored verbatim, never evaluated, and rendered escaped on the dashboard', async () => {
    const firstWord = `{{$customer}}$eval("1")<script>alert(1)</script>`;
    const lead = {
      submission_id: 'hostile-strings-1',
      name: `${firstWord} '); DROP TABLE customers;-- "><img src=x onerror=alert(1)> {{ $customer }}`,
      email: `o'hara');drop-table-customers;--@hostile.example`,
      message: `'); DROP TABLE customers;-- <script>alert(1)</script> "><img src=x onerror=alert(1)> $eval("1") {{ $customer }} \${SHOPIFY_WEBHOOK_SECRET}`,
    };
    const form = VENDORS.find((vendor) => vendor.id === 'form')!;
    const body = JSON.stringify(lead);
    const accepted = await post(app, '/webhooks/form', body, form.sign(body));
    expect(accepted.status).toBe(202);
    const [inboxId] = accepted.body.inbox_ids as number[];
    const run = await waitFor(
      'the hostile lead run',
      async () =>
        (
          await db.pool.query(
            "SELECT status, error FROM workflow_runs WHERE inbox_event_id = $1 AND status IN ('succeeded', 'failed')",
            [inboxId],
          )
        ).rows[0],
      30_000,
    );
    expect(run).toMatchObject({ status: 'succeeded' });

    // The customers table is still there, and the API gives the text back byte for byte.
    expect(await count(db.pool, "SELECT 1 FROM information_schema.tables WHERE table_name = 'customers'")).toBe(1);
    const found = (await api(app, `/api/customers?email=${encodeURIComponent(lead.email)}`)).body.customers;
    expect(found).toHaveLength(1);
    const detail = (await api(app, `/api/customers/${found[0].id}`)).body;
    expect(detail.name).toBe(lead.name);
    expect(detail.first_name).toBe(firstWord);
    expect(detail.identities).toContainEqual(expect.objectContaining({ kind: 'email', value: lead.email }));
    expect(detail.timeline).toHaveLength(1);
    expect(detail.timeline[0].summary).toBe(`Lead form: ${lead.message}`);
    expect(detail.timeline[0].data).toMatchObject(lead);

    // The reply template inserted the first name as text: nothing in it was evaluated. It went to that one address
    // (its local part quoted, as SMTP requires), not to the list a mail library would read into `;` and `,`.
    const [localPart] = lead.email.split('@');
    const email = await waitFor('the reply', async () =>
      smtp.messages.find((message) => message.text.includes('{{$customer}}')),
    );
    expect(email.to).toEqual([`"${localPart}"@hostile.example`]);
    expect(email.text).toContain(`Hi ${firstWord},`);
    expect(detail.messages).toEqual([
      expect.objectContaining({ channel: 'email', status: 'sent', recipient: lead.email }),
    ]);

    const login = await fetch(`${app.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ username: 'viewer-user', password: VIEWER_PASSWORD, next: '/customers' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(login.status).toBe(303);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const page = await (await fetch(`${app.url}/customers/${found[0].id}`, { headers: { cookie } })).text();
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    expect(page).toContain('$eval(&quot;1&quot;)');
    expect(page).not.toContain('<script>alert(1)');
    expect(page).not.toContain('<img src=x');
  });

  describe('workflows.yaml abuse (alias bombs: workflows.validate.test.ts; runaway expressions: engine.runs.test.ts)', () => {
    const ENV = { SHOPIFY_WEBHOOK_SECRET: 's1', FORM_WEBHOOK_SECRET: 's2', NODE_ENV: 'production' };

    it('refuses a file over the size limit at file:1:1 without reading it', () => {
      const path = writeConfig(`version: 1\n# ${'x'.repeat(1024 * 1024)}\n`);
      const size = readFileSync(path).length;
      let error: unknown;
      try {
        loadConfigFile(path, { env: ENV });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).issues.map(formatIssue)).toEqual([
        `workflows.yaml:1:1 file is ${size} bytes; the limit is 1048576`,
      ]);
    });

    it('keeps prototype-pollution keys (__proto__, constructor, prototype) inert or rejected in every map', () => {
      const prototypeNames = Object.getOwnPropertyNames(Object.prototype).sort();
      const poison = (indent: string) =>
        ['__proto__', 'constructor', 'prototype']
          .map((key) => `${indent}${key}: { polluted: yes, toString: 1 }`)
          .join('\n');
      const configs = {
        'top level': `${poison('')}\nworkflows: []\n`,
        connectors: `connectors:\n  form: { secrets: { webhook_secret: x } }\n${poison('  ')}\nworkflows: []\n`,
        secrets: `connectors:\n  form:\n    secrets:\n      webhook_secret: x\n${poison('      ')}\nworkflows: []\n`,
        mappings: `connectors:\n  form:\n    secrets: { webhook_secret: x }\n    mappings:\n${poison('      ')}\nworkflows: []\n`,
        agents: `agents:\n  - id: alice\n    name: Alice\n${poison('    ')}\nworkflows: []\n`,
        pools: `agents: [{ id: alice, name: Alice }]\npools:\n  sales: { agents: [alice] }\n${poison('  ')}\nworkflows: []\n`,
        'step fields': `connectors:\n  form: { secrets: { webhook_secret: x } }\nworkflows:\n  - id: w\n    trigger: { type: webhook, connector: form, event: lead.submitted }\n    steps:\n      - type: log\n        message: hi\n${poison('        ')}\n`,
        'step values': `connectors:\n  form: { secrets: { webhook_secret: x } }\nworkflows:\n  - id: w\n    trigger: { type: webhook, connector: form, event: lead.submitted }\n    steps:\n      - type: map\n        mapping: |\n          { "__proto__": { "polluted": true }, "constructor": { "prototype": { "polluted": true } } }\n`,
        'merge key': `base: &base\n  __proto__: { polluted: yes }\nworkflows: []\nagents:\n  - <<: *base\n    id: alice\n    name: Alice\n`,
      };
      for (const [where, text] of Object.entries(configs)) {
        let outcome: string;
        try {
          const loaded = loadConfigText(text, 'workflows.yaml', { env: ENV });
          outcome = `loaded ${loaded.workflows.length} workflows`;
        } catch (error) {
          // A rejection must be a located config error, never a crash.
          expect(error, where).toBeInstanceOf(ConfigError);
          outcome = (error as ConfigError).issues.map(formatIssue).join('; ');
          expect(outcome, where).toMatch(/^workflows\.yaml:\d+:\d+ /);
        }
        expect(({} as Record<string, unknown>).polluted, `${where}: ${outcome}`).toBeUndefined();
        expect(Object.getOwnPropertyNames(Object.prototype).sort(), where).toEqual(prototypeNames);
        expect(typeof ({} as { toString: unknown }).toString, where).toBe('function');
      }
    });
  });
});
