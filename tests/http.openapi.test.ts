import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unsubscribeToken } from '../src/customers/consent.js';
import { createApp, type AppOptions } from '../src/http/app.js';
import {
  openApiDocument as doc,
  type HttpMethod,
  type OperationObject,
  type ResponseObject,
} from '../src/http/openapi.js';
import type { Crmflow } from '../src/runtime.js';
import { ajv } from '../src/workflows/ajv.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import {
  notCalled,
  REDIS_URL,
  SECRETS,
  TEST_TOKEN,
  startTestCrmflow,
  testEnv,
  testPrefix,
  writeConfig,
} from './helpers/crmflow.js';
import { fixtureBytes, formHeaders, shopifyHeaders, twilioWebhook } from './helpers/sign.js';
import { startSmtpServer } from './helpers/smtp.js';
import { createTask } from '../src/store/tasks.js';
import { changeDeal } from '../src/store/deals.js';
import { waitFor } from './helpers/wait.js';

/** The example, plus an enabled poll workflow whose pulls go nowhere (no SHOPIFY_API_URL: the job fails at once). */
const EXAMPLE_CONFIG = `${readFileSync(new URL('../workflows.yaml', import.meta.url), 'utf8')}
  - id: enabled-poll
    trigger: { type: poll, connector: shopify, resource: customers, every: 1h }
    steps: [{ type: map }, { type: upsert_customer }]
`;
const PUBLIC_URL = 'https://crm.example.com';
const METHODS: HttpMethod[] = ['get', 'post', 'put', 'delete'];

/** The document registered with ajv under this id, so `#/components/...` refs resolve against it. */
const DOC_ID = 'https://crmflow.invalid/openapi.json';
ajv.addSchema({ ...doc }, DOC_ID);

const pointer = (...segments: string[]) =>
  segments.map((segment) => encodeURIComponent(segment.replaceAll('~', '~0').replaceAll('/', '~1'))).join('/');

/** Follows a local `#/...` reference inside the document; undefined when it does not resolve. */
function resolvePointer(ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
    if (node === null || typeof node !== 'object' || !(key in node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

interface Answer {
  status: number;
  contentType: string;
  body: unknown;
  headers: Headers;
}

async function call(
  method: HttpMethod,
  path: string,
  init: { token?: boolean; body?: Buffer | string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers = { ...(init.token === false ? {} : { authorization: `Bearer ${TEST_TOKEN}` }), ...init.headers };
  const response = await fetch(`${app.url}${path}`, {
    method: method.toUpperCase(),
    headers,
    body: typeof init.body === 'string' || init.body === undefined ? init.body : new Uint8Array(init.body),
  });
  const contentType = response.headers.get('content-type') ?? '';
  const text = await response.text();
  return {
    status: response.status,
    contentType,
    body: contentType.startsWith('application/json') ? JSON.parse(text) : text,
    headers: response.headers,
  };
}

/** method + path template → statuses whose real responses were validated. */
const exercised = new Map<string, Set<number>>();

/**
 * Validates a real response against the document: the operation must exist, list the status and the media type,
 * and the body must match that media type's schema (ajv errors in the failure message).
 */
function expectDocumented(method: HttpMethod, template: string, answer: Answer): void {
  const where = `${method.toUpperCase()} ${template} → ${answer.status}`;
  const operation = doc.paths[template]?.[method];
  expect(operation, `${where}: no such operation in the document`).toBeDefined();
  let responsePointer = `#/${pointer('paths', template, method, 'responses', String(answer.status))}`;
  const listed = operation!.responses[String(answer.status)];
  expect(
    listed,
    `${where}: status not documented (documented: ${Object.keys(operation!.responses).join(', ')})`,
  ).toBeDefined();
  if ('$ref' in listed!) responsePointer = listed.$ref;
  const response = ('$ref' in listed! ? resolvePointer(listed.$ref) : listed) as ResponseObject;
  const mediaType = answer.contentType.split(';')[0]!.trim();
  expect(Object.keys(response.content ?? {}), `${where}: media type ${mediaType} not documented`).toContain(mediaType);
  const validate = ajv.getSchema(`${DOC_ID}${responsePointer}/${pointer('content', mediaType, 'schema')}`);
  expect(validate, `${where}: schema does not compile`).toBeDefined();
  validate!(answer.body);
  expect(validate!.errors ?? [], `${where}: ${JSON.stringify(answer.body).slice(0, 2000)}`).toEqual([]);
  const key = `${method} ${template}`;
  exercised.set(key, (exercised.get(key) ?? new Set()).add(answer.status));
}

function operations(): Array<{ path: string; method: HttpMethod; operation: OperationObject }> {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.flatMap((method) => (item[method] ? [{ path, method, operation: item[method] }] : [])),
  );
}

/** Every `$ref` anywhere in the document. */
function refs(node: unknown, found: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((item) => refs(item, found));
  else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') found.push(value);
      else refs(value, found);
    }
  }
  return found;
}

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  rawPath?: string;
  handle: { stack?: Layer[] };
}

/** `(METHOD, /path/{param})` of every route registered in the express app, mounted routers included. */
function expressRoutes(stack: Layer[], prefix = ''): string[] {
  return stack.flatMap((layer) => {
    if (layer.route) {
      const path = (prefix + layer.route.path).replace(/\/{2,}/g, '/').replace(/:(\w+)/g, '{$1}');
      return Object.keys(layer.route.methods).map(
        (method) => `${method === '_all' ? 'ALL' : method.toUpperCase()} ${path}`,
      );
    }
    // Resource routers are mounted at their parent's root (`router.use(customersApi(...))`): rawPath `/`.
    if (layer.handle.stack && typeof layer.rawPath === 'string')
      return expressRoutes(layer.handle.stack, prefix + (layer.rawPath === '/' ? '' : layer.rawPath));
    return [];
  });
}

let app: Crmflow;

describe('the OpenAPI description matches what the API answers', () => {
  let db: TestDatabase;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;

  beforeAll(async () => {
    db = await createTestDatabase();
    smtp = await startSmtpServer();
    app = await startTestCrmflow(
      testEnv({
        databaseUrl: db.url,
        configPath: writeConfig(EXAMPLE_CONFIG),
        prefix: testPrefix(),
        smtpUrl: smtp.url,
        extra: { CRMFLOW_PUBLIC_URL: PUBLIC_URL },
      }),
    );
  });
  afterAll(async () => {
    await app?.close();
    await smtp?.close();
    await db?.drop();
  });

  describe('the document', () => {
    it('is structurally valid OpenAPI 3.1', () => {
      expect(doc.openapi).toBe('3.1.0');
      expect(doc.jsonSchemaDialect).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(doc.info.title).toBeTruthy();
      const tags = new Set(doc.tags.map((tag) => tag.name));
      const operationIds = new Set<string>();
      for (const { path, method, operation } of operations()) {
        const where = `${method.toUpperCase()} ${path}`;
        expect(path, where).toMatch(/^\//);
        expect(operationIds.has(operation.operationId), `${where}: duplicate operationId`).toBe(false);
        operationIds.add(operation.operationId);
        for (const tag of operation.tags) expect(tags, `${where}: undeclared tag ${tag}`).toContain(tag);
        for (const requirement of operation.security) {
          for (const scheme of Object.keys(requirement))
            expect(Object.keys(doc.components.securitySchemes), where).toContain(scheme);
        }
        // Path parameters: exactly the template's, each required.
        const templated = [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]).sort();
        const declared = (operation.parameters ?? []).filter((parameter) => parameter.in === 'path');
        expect(declared.map((parameter) => parameter.name).sort(), `${where}: path parameters`).toEqual(templated);
        for (const parameter of declared) expect(parameter.required, `${where}: ${parameter.name}`).toBe(true);
        const responses = Object.entries(operation.responses);
        expect(responses.length, `${where}: no responses`).toBeGreaterThan(0);
        for (const [status, response] of responses) {
          expect(status, where).toMatch(/^[1-5]\d\d$/);
          const resolved = ('$ref' in response ? resolvePointer(response.$ref) : response) as
            ResponseObject | undefined;
          expect(resolved?.description, `${where} ${status}: description`).toEqual(expect.any(String));
          for (const [mediaType, media] of Object.entries(resolved?.content ?? {}))
            expect(media.schema, `${where} ${status} ${mediaType}`).toBeTypeOf('object');
        }
      }
      // /api needs the token, except this document; nothing else does.
      for (const { path, operation } of operations()) {
        const protectedApi = path.startsWith('/api/') && path !== '/api/openapi.json';
        expect(
          operation.security.some((requirement) => 'apiToken' in requirement),
          path,
        ).toBe(protectedApi);
      }
    });

    it('resolves every $ref, and every component schema compiles', () => {
      const all = refs(doc);
      expect(all.length).toBeGreaterThan(20);
      for (const ref of all) {
        expect(ref, 'only local component refs').toMatch(/^#\/components\/(schemas|responses)\//);
        expect(resolvePointer(ref), ref).toBeDefined();
      }
      for (const name of Object.keys(doc.components.schemas)) {
        expect(ajv.getSchema(`${DOC_ID}#/${pointer('components', 'schemas', name)}`), name).toBeTypeOf('function');
      }
    });

    it('documents every route the express app registers, and nothing it does not', () => {
      const redis = new Redis(REDIS_URL, { lazyConnect: true });
      // Only the routing table is read: nothing here is ever called.
      const options = {
        pool: app.pool,
        queue: app.queue,
        redis,
        config: app.config,
        apiToken: TEST_TOKEN,
        publicUrl: PUBLIC_URL,
        defaultRegion: 'US',
        logger: pino({ level: 'silent' }),
        resendMessage: notCalled,
      } as AppOptions;
      const routes = expressRoutes(createApp(options).router.stack as Layer[]).sort();
      redis.disconnect();
      // `router.all` (webhooks) takes any method: the document must describe GET (handshakes) and POST (deliveries).
      const registered = routes
        .flatMap((route) => (route.startsWith('ALL ') ? [`GET ${route.slice(4)}`, `POST ${route.slice(4)}`] : [route]))
        .sort();
      const documented = operations()
        .map(({ path, method }) => `${method.toUpperCase()} ${path}`)
        .sort();
      expect(registered).toContain('GET /api/customers/{id}');
      expect(documented).toEqual(registered);
    });

    it('is served publicly at /api/openapi.json', async () => {
      const answer = await call('get', '/api/openapi.json', { token: false });
      expect(answer.status).toBe(200);
      expectDocumented('get', '/api/openapi.json', answer);
      expect(answer.body).toEqual(JSON.parse(JSON.stringify(doc)));
    });
  });

  describe('webhooks', () => {
    const hmac = (algorithm: 'sha256' | 'sha1', secret: string, data: Buffer | string, encoding: 'hex' | 'base64') =>
      createHmac(algorithm, secret).update(data).digest(encoding);
    const post = (path: string, body: Buffer | string, headers: Record<string, string>) =>
      call('post', path, { token: false, body, headers });

    it('202 for a stored delivery, and for a redelivery', async () => {
      const body = fixtureBytes('shopify', 'orders_create.json');
      const first = await post('/webhooks/shopify', body, shopifyHeaders(body, SECRETS.SHOPIFY_WEBHOOK_SECRET));
      expect(first.status).toBe(202);
      expectDocumented('post', '/webhooks/{connector}', first);
      const again = await post('/webhooks/shopify', body, shopifyHeaders(body, SECRETS.SHOPIFY_WEBHOOK_SECRET));
      expect(again.body).toMatchObject({ stored: 0, duplicates: 1, inbox_ids: [] });
      expectDocumented('post', '/webhooks/{connector}', again);
    });

    it('vendor-specific answers: Twilio TwiML, Xero empty bodies, the WooCommerce and Meta handshakes', async () => {
      const params = JSON.parse(fixtureBytes('twilio', 'incoming_sms.json').toString('utf8')) as Record<string, string>;
      const signedSms = twilioWebhook(PUBLIC_URL, params, SECRETS.TWILIO_AUTH_TOKEN!);
      const twilio = await post('/webhooks/twilio', signedSms.body, signedSms.headers);
      expect([twilio.status, twilio.contentType.split(';')[0]]).toEqual([200, 'text/xml']);
      expectDocumented('post', '/webhooks/{connector}', twilio);

      const intent = JSON.stringify({ events: [], firstEventSequence: 0, lastEventSequence: 0, entropy: 'ABCDEFGHIJ' });
      const good = await post('/webhooks/xero', intent, {
        'content-type': 'application/json',
        'x-xero-signature': hmac('sha256', SECRETS.XERO_WEBHOOK_KEY!, intent, 'base64'),
      });
      expect([good.status, good.body]).toEqual([200, '']);
      expectDocumented('post', '/webhooks/{connector}', good);
      const bad = await post('/webhooks/xero', intent, {
        'content-type': 'application/json',
        'x-xero-signature': hmac('sha256', 'not-the-key', intent, 'base64'),
      });
      expect([bad.status, bad.body]).toEqual([401, '']);
      expectDocumented('post', '/webhooks/{connector}', bad);
      // A delivery whose only event is of a category crmflow drops (credit notes): stored nothing, acknowledged like any.
      const xero = JSON.stringify({
        events: [
          {
            eventCategory: 'CREDITNOTE',
            eventType: 'UPDATE',
            tenantId: 't-1',
            resourceId: 'r-1',
            eventDateUtc: '2026-01-02T03:04:05.000',
            resourceUrl: 'https://api.xero.com/x',
            tenantType: 'ORGANISATION',
            eventSequence: 1,
          },
        ],
        firstEventSequence: 1,
        lastEventSequence: 1,
        entropy: 'KLMNOPQRST',
      });
      const delivery = await post('/webhooks/xero', xero, {
        'content-type': 'application/json',
        'x-xero-signature': hmac('sha256', SECRETS.XERO_WEBHOOK_KEY!, xero, 'base64'),
      });
      expect([delivery.status, delivery.body]).toEqual([200, '']);
      expectDocumented('post', '/webhooks/{connector}', delivery);

      const woo = await post('/webhooks/woocommerce', 'webhook_id=7', {
        'content-type': 'application/x-www-form-urlencoded',
      });
      expect([woo.status, woo.body]).toEqual([200, 'ok']);
      expectDocumented('post', '/webhooks/{connector}', woo);

      const verify = (query: string) => call('get', `/webhooks/meta?${query}`, { token: false });
      const token = encodeURIComponent(SECRETS.META_VERIFY_TOKEN!);
      const challenge = await verify(`hub.mode=subscribe&hub.verify_token=${token}&hub.challenge=1158201444`);
      expect([challenge.status, challenge.body]).toEqual([200, '1158201444']);
      expectDocumented('get', '/webhooks/{connector}', challenge);
      const wrong = await verify('hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1');
      expect(wrong.status).toBe(403);
      expectDocumented('get', '/webhooks/{connector}', wrong);
      const missing = await verify(`hub.mode=subscribe&hub.verify_token=${token}`);
      expect(missing.status).toBe(400);
      expectDocumented('get', '/webhooks/{connector}', missing);
    });

    it('errors: 400, 401, 404, 405, 413, all in the error shape', async () => {
      const half = '{"email": "half@json.example", ';
      const unreadable = await post('/webhooks/form', half, formHeaders(half, SECRETS.FORM_WEBHOOK_SECRET));
      expect(unreadable.status).toBe(400);
      expectDocumented('post', '/webhooks/{connector}', unreadable);

      const body = fixtureBytes('shopify', 'orders_create.json');
      const unsigned = await post('/webhooks/shopify', body, shopifyHeaders(body, 'not-the-secret'));
      expect(unsigned.status).toBe(401);
      expectDocumented('post', '/webhooks/{connector}', unsigned);

      const unknown = await post('/webhooks/nosuchvendor', '{}', { 'content-type': 'application/json' });
      expect(unknown.status).toBe(404);
      expectDocumented('post', '/webhooks/{connector}', unknown);
      const unknownGet = await call('get', '/webhooks/nosuchvendor', { token: false });
      expect(unknownGet.status).toBe(404);
      expectDocumented('get', '/webhooks/{connector}', unknownGet);

      const get = await call('get', '/webhooks/shopify', { token: false });
      expect(get.status).toBe(405);
      expectDocumented('get', '/webhooks/{connector}', get);

      const big = JSON.stringify({ email: 'big@example.com', padding: 'x'.repeat(1024 * 1024) });
      const tooLarge = await post('/webhooks/form', big, formHeaders(big, SECRETS.FORM_WEBHOOK_SECRET));
      expect(tooLarge.status).toBe(413);
      expectDocumented('post', '/webhooks/{connector}', tooLarge);
    });
  });

  describe('the API', () => {
    let mergedId: number;

    beforeAll(async () => {
      // Three leads, the third linking the first two: a merge to show in a customer record and its `resolved_from`.
      const leads = [
        { submission_id: 'oa-1', name: 'Mona Merge', email: 'mona@merge.example' },
        { submission_id: 'oa-2', name: 'Mona M', phone: '+1 415 555 0100' },
        { submission_id: 'oa-3', name: 'Mona Merge', email: 'mona@merge.example', phone: '+1 415 555 0100' },
      ];
      for (const [index, lead] of leads.entries()) {
        const body = JSON.stringify(lead);
        expect(
          (
            await call('post', '/webhooks/form', {
              token: false,
              body,
              headers: formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET),
            })
          ).status,
        ).toBe(202);
        await waitFor(`lead ${index + 1}`, async () => {
          const { rows } = await db.pool.query(
            "SELECT 1 FROM workflow_runs WHERE workflow = 'web-lead' AND status IN ('succeeded', 'failed')",
          );
          return rows.length === index + 1;
        });
      }
      await waitFor(
        'the Shopify run',
        async () =>
          (await db.pool.query("SELECT 1 FROM workflow_runs WHERE workflow = 'shopify-order' AND status = 'succeeded'"))
            .rows.length === 1,
      );
      // The two new form customers start the chained score-web-leads workflow (customer.created).
      await waitFor(
        'the chained score runs',
        async () =>
          (
            await db.pool.query(
              "SELECT 1 FROM workflow_runs WHERE workflow = 'score-web-leads' AND status = 'succeeded'",
            )
          ).rows.length === 2,
      );
      mergedId = (await db.pool.query<{ merged_id: number }>('SELECT merged_id FROM customer_merges')).rows[0]!
        .merged_id;
    });

    it('customers: list, search, one record, a merged id, errors', async () => {
      const list = await call('get', '/api/customers');
      expect(list.status).toBe(200);
      expectDocumented('get', '/api/customers', list);
      const customers = (list.body as { customers: Array<{ id: number }> }).customers;
      expect(customers.length).toBeGreaterThanOrEqual(2);
      expectDocumented('get', '/api/customers', await call('get', '/api/customers?email=JON@example.com'));
      expectDocumented('get', '/api/customers', await call('get', '/api/customers?q=mona&limit=5'));

      for (const { id } of customers) {
        const one = await call('get', `/api/customers/${id}`);
        expect(one.status).toBe(200);
        expectDocumented('get', '/api/customers/{id}', one);
      }
      const merged = await call('get', `/api/customers/${mergedId}`);
      expect(merged.body).toMatchObject({
        resolved_from: mergedId,
        merges: [expect.objectContaining({ merged_id: mergedId })],
      });
      expectDocumented('get', '/api/customers/{id}', merged);

      const missing = await call('get', '/api/customers/999999');
      expect(missing.status).toBe(404);
      expectDocumented('get', '/api/customers/{id}', missing);
      const notANumber = await call('get', '/api/customers/abc');
      expect(notANumber.status).toBe(400);
      expectDocumented('get', '/api/customers/{id}', notANumber);
      const badLimit = await call('get', '/api/customers?limit=-1');
      expect(badLimit.status).toBe(400);
      expectDocumented('get', '/api/customers', badLimit);
    });

    it('runs: list, each run with steps and event, retry, errors', async () => {
      const list = await call('get', '/api/runs');
      expect(list.status).toBe(200);
      expectDocumented('get', '/api/runs', list);
      const runs = (list.body as { runs: Array<{ id: number; status: string }> }).runs;
      // 9 (the Shopify order runs one workflow, deal included), and the webhooks test's Twilio SMS: sms-message, then
      // complaints (no complaint words: no case).
      expect(runs.length).toBe(11);
      // The three form leads each also started web-lead-follow-up, now waiting two days.
      expect(runs.filter((run) => run.status === 'waiting')).toHaveLength(3);
      expectDocumented(
        'get',
        '/api/runs',
        await call('get', `/api/runs?workflow=web-lead&status=succeeded&limit=1&before=${runs[0]!.id}`),
      );
      expectDocumented('get', '/api/runs', await call('get', '/api/runs?customer_id=999999'));
      for (const { id } of runs) {
        const one = await call('get', `/api/runs/${id}`);
        expect(one.status).toBe(200);
        expectDocumented('get', '/api/runs/{id}', one);
      }
      const missing = await call('get', '/api/runs/999999');
      expect(missing.status).toBe(404);
      expectDocumented('get', '/api/runs/{id}', missing);
      const badId = await call('get', '/api/runs/x');
      expect(badId.status).toBe(400);
      expectDocumented('get', '/api/runs/{id}', badId);

      const succeeded = runs.find((run) => run.status === 'succeeded')!;
      const notFailed = await call('post', `/api/runs/${succeeded.id}/retry`);
      expect(notFailed.status).toBe(409);
      expectDocumented('post', '/api/runs/{id}/retry', notFailed);
      // A failed run of a workflow that is gone: the retry is queued (the worker then drops the job), nothing else runs.
      const { rows } = await db.pool.query<{ id: number }>(
        "INSERT INTO workflow_runs (workflow, workflow_version, trigger_key, status, error) VALUES ('removed-workflow', 'v0', 'test:retry', 'failed', 'boom') RETURNING id",
      );
      const retried = await call('post', `/api/runs/${rows[0]!.id}/retry`);
      expect(retried.status).toBe(202);
      expectDocumented('post', '/api/runs/{id}/retry', retried);
      const failedRun = await call('get', `/api/runs/${rows[0]!.id}`);
      expect(failedRun.body).toMatchObject({ event: null, steps: [] });
      expectDocumented('get', '/api/runs/{id}', failedRun);
      const gone = await call('post', '/api/runs/999999/retry');
      expect(gone.status).toBe(404);
      expectDocumented('post', '/api/runs/{id}/retry', gone);
      const badBody = await call('post', `/api/runs/${succeeded.id}/retry`, {
        body: '{',
        headers: { 'content-type': 'application/json' },
      });
      expect(badBody.status).toBe(400);
      expectDocumented('post', '/api/runs/{id}/retry', badBody);
      const tooLarge = await call('post', `/api/runs/${succeeded.id}/retry`, {
        body: JSON.stringify({ x: 'x'.repeat(200 * 1024) }),
        headers: { 'content-type': 'application/json' },
      });
      expect(tooLarge.status).toBe(413);
      expectDocumented('post', '/api/runs/{id}/retry', tooLarge);

      // Replay: the stored event of a run runs again as a new run; a run whose workflow is gone cannot be.
      const replayed = await call('post', `/api/runs/${succeeded.id}/replay`);
      expect(replayed.status).toBe(202);
      expectDocumented('post', '/api/runs/{id}/replay', replayed);
      const replayGone = await call('post', `/api/runs/${rows[0]!.id}/replay`);
      expect(replayGone.status).toBe(409);
      expectDocumented('post', '/api/runs/{id}/replay', replayGone);
      expectDocumented('post', '/api/runs/{id}/replay', await call('post', '/api/runs/999999/replay'));

      // Cancel needs a reason; a finished run cannot be cancelled.
      const json = { 'content-type': 'application/json' };
      const noReason = await call('post', `/api/runs/${rows[0]!.id}/cancel`, { body: '{}', headers: json });
      expect(noReason.status).toBe(400);
      expectDocumented('post', '/api/runs/{id}/cancel', noReason);
      const cancelled = await call('post', `/api/runs/${rows[0]!.id}/cancel`, {
        body: JSON.stringify({ reason: 'workflow removed' }),
        headers: json,
      });
      expect(cancelled.status).toBe(200);
      expectDocumented('post', '/api/runs/{id}/cancel', cancelled);
      const notCancellable = await call('post', `/api/runs/${succeeded.id}/cancel`, {
        body: JSON.stringify({ reason: 'too late' }),
        headers: json,
      });
      expect(notCancellable.status).toBe(409);
      expectDocumented('post', '/api/runs/{id}/cancel', notCancellable);
      expectDocumented(
        'post',
        '/api/runs/{id}/cancel',
        await call('post', '/api/runs/999999/cancel', { body: JSON.stringify({ reason: 'x' }), headers: json }),
      );
    });

    it('tasks: list with filters, complete (audited), errors', async () => {
      const customerId = (
        await db.pool.query<{ id: number }>('SELECT id FROM customers WHERE merged_into IS NULL ORDER BY id LIMIT 1')
      ).rows[0]!.id;
      const { task } = await createTask(db.pool, {
        idempotencyKey: 'openapi:task',
        customerId,
        runId: null,
        agentId: 'alice',
        title: 'Call back',
        notes: null,
        dueAt: new Date(Date.now() + 3_600_000),
        overdueAt: new Date(Date.now() + 7_200_000),
      });
      const list = await call('get', `/api/tasks?agent_id=alice&status=open&customer_id=${customerId}&limit=10`);
      expect(list.status).toBe(200);
      expectDocumented('get', '/api/tasks', list);
      expect((list.body as { tasks: Array<{ id: number }> }).tasks.map((row) => row.id)).toEqual([task.id]);
      expectDocumented('get', '/api/tasks', await call('get', '/api/tasks?limit=x'));
      expectDocumented('get', '/api/customers/{id}', await call('get', `/api/customers/${customerId}`));
      const done = await call('post', `/api/tasks/${task.id}/complete`);
      expect(done.status).toBe(200);
      expect(done.body).toMatchObject({ id: task.id, status: 'done', completed_by: 'api-token' });
      expectDocumented('post', '/api/tasks/{id}/complete', done);
      const again = await call('post', `/api/tasks/${task.id}/complete`);
      expect(again.status).toBe(409);
      expectDocumented('post', '/api/tasks/{id}/complete', again);
      expectDocumented('post', '/api/tasks/{id}/complete', await call('post', '/api/tasks/999999/complete'));
      expectDocumented('post', '/api/tasks/{id}/complete', await call('post', '/api/tasks/x/complete'));
      const tooLarge = await call('post', `/api/tasks/${task.id}/complete`, {
        body: JSON.stringify({ x: 'x'.repeat(200 * 1024) }),
        headers: { 'content-type': 'application/json' },
      });
      expect(tooLarge.status).toBe(413);
      expectDocumented('post', '/api/tasks/{id}/complete', tooLarge);
      const audit = await call('get', '/api/audit?limit=1');
      expect((audit.body as { entries: unknown[] }).entries[0]).toMatchObject({
        action: 'task.complete',
        target: `task:${task.id}`,
      });
      expectDocumented('get', '/api/audit', audit);
    });

    it('hand-overs and former agents', async () => {
      const json = { 'content-type': 'application/json' };
      const former = await call('get', '/api/agents/former');
      expect(former.status).toBe(200);
      expectDocumented('get', '/api/agents/former', former);
      const handed = await call('post', '/api/agents/bob/hand-over', {
        body: JSON.stringify({ to_agent: 'alice' }),
        headers: json,
      });
      expect(handed.status).toBe(200);
      expectDocumented('post', '/api/agents/{id}/hand-over', handed);
      expectDocumented(
        'post',
        '/api/agents/{id}/hand-over',
        await call('post', '/api/agents/nobody/hand-over', {
          body: JSON.stringify({ to_agent: 'alice' }),
          headers: json,
        }),
      );
      expectDocumented(
        'post',
        '/api/agents/{id}/hand-over',
        await call('post', '/api/agents/bob/hand-over', { body: '{}', headers: json }),
      );
    });

    it('segments: list, a page of members, the CSV export, errors', async () => {
      const list = await call('get', '/api/segments');
      expect(list.status).toBe(200);
      expectDocumented('get', '/api/segments', list);
      const members = await call('get', '/api/segments/vip/members?limit=10');
      expect(members.status).toBe(200);
      expectDocumented('get', '/api/segments/{id}/members', members);
      const csv = await call('get', '/api/segments/vip/members', { headers: { accept: 'text/csv' } });
      expect(csv.body).toMatch(/^id,name,email,lifecycle_stage,owner_agent_id,entered_at\r\n/);
      expectDocumented('get', '/api/segments/{id}/members', csv);
      expectDocumented('get', '/api/segments/{id}/members', await call('get', '/api/segments/nope/members'));
      expectDocumented('get', '/api/segments/{id}/members', await call('get', '/api/segments/vip/members?after=x'));
    });

    it('deals: list, one with history, a move (audited), the forecast, errors', async () => {
      const customerId = (
        await db.pool.query<{ id: number }>('SELECT id FROM customers WHERE merged_into IS NULL ORDER BY id LIMIT 1')
      ).rows[0]!.id;
      const pipeline = app.config.pipelines.get('sales')!;
      const { deal } = await changeDeal(db.pool, {
        customerId,
        pipeline,
        stage: 'cart',
        at: new Date(),
        source: 'test',
        allowBackwards: false,
        amount: 120.5,
        open: { another: true, name: 'Cart', currency: null, expectedCloseOn: new Date().toISOString().slice(0, 10) },
      });
      const list = await call(
        'get',
        `/api/deals?customer_id=${customerId}&pipeline=sales&stage=cart&status=open&limit=10`,
      );
      expect(list.status).toBe(200);
      expectDocumented('get', '/api/deals', list);
      expect((list.body as { deals: Array<{ id: number }> }).deals.map((row) => row.id)).toEqual([deal!.id]);
      expectDocumented('get', '/api/deals', await call('get', '/api/deals?status=maybe'));
      const json = { 'content-type': 'application/json' };
      const moved = await call('post', `/api/deals/${deal!.id}/stage`, {
        body: JSON.stringify({ stage: 'quote', reason: 'asked for a quote' }),
        headers: json,
      });
      expect(moved.status).toBe(200);
      expectDocumented('post', '/api/deals/{id}/stage', moved);
      expectDocumented(
        'post',
        '/api/deals/{id}/stage',
        await call('post', `/api/deals/${deal!.id}/stage`, { body: '{"stage":"nope"}', headers: json }),
      );
      expectDocumented(
        'post',
        '/api/deals/{id}/stage',
        await call('post', '/api/deals/999999/stage', { body: '{"stage":"won"}', headers: json }),
      );
      await call('post', `/api/deals/${deal!.id}/stage`, { body: '{"stage":"won"}', headers: json });
      const closed = await call('post', `/api/deals/${deal!.id}/stage`, { body: '{"stage":"cart"}', headers: json });
      expect(closed.status).toBe(409);
      expectDocumented('post', '/api/deals/{id}/stage', closed);
      const one = await call('get', `/api/deals/${deal!.id}`);
      expect(one.status).toBe(200);
      expectDocumented('get', '/api/deals/{id}', one);
      expect((one.body as { history: Array<{ to_stage: string }> }).history.map((row) => row.to_stage)).toEqual([
        'cart',
        'quote',
        'won',
      ]);
      expectDocumented('get', '/api/deals/{id}', await call('get', '/api/deals/999999'));
      expectDocumented('get', '/api/deals/{id}', await call('get', '/api/deals/x'));
      const forecast = await call('get', '/api/pipelines/sales/forecast?months=3');
      expect(forecast.status).toBe(200);
      expectDocumented('get', '/api/pipelines/{id}/forecast', forecast);
      expectDocumented('get', '/api/pipelines/{id}/forecast', await call('get', '/api/pipelines/nope/forecast'));
      expectDocumented(
        'get',
        '/api/pipelines/{id}/forecast',
        await call('get', '/api/pipelines/sales/forecast?months=99'),
      );
      const stats = await call('get', '/api/pipelines/sales/stats');
      expect(stats.status).toBe(200);
      expectDocumented('get', '/api/pipelines/{id}/stats', stats);
      expectDocumented('get', '/api/pipelines/{id}/stats', await call('get', '/api/pipelines/nope/stats'));
      const audit = await call('get', '/api/audit?limit=2');
      expect((audit.body as { entries: Array<{ action: string; target: string }> }).entries[0]).toMatchObject({
        action: 'deal.stage',
        target: `deal:${deal!.id}`,
      });
    });

    it('agents and their availability', async () => {
      const agents = await call('get', '/api/agents');
      expect(agents.status).toBe(200);
      expectDocumented('get', '/api/agents', agents);
      const json = { 'content-type': 'application/json' };
      const off = await call('put', '/api/agents/bob/availability', {
        body: JSON.stringify({ available: false }),
        headers: json,
      });
      expect(off.status).toBe(200);
      expectDocumented('put', '/api/agents/{id}/availability', off);
      const listed = (await call('get', '/api/agents')).body as { agents: Array<{ id: string; available: boolean }> };
      expect(listed.agents.find((agent) => agent.id === 'bob')?.available).toBe(false);
      await call('put', '/api/agents/bob/availability', { body: JSON.stringify({ available: true }), headers: json });
      expectDocumented(
        'put',
        '/api/agents/{id}/availability',
        await call('put', '/api/agents/nobody/availability', { body: '{"available":true}', headers: json }),
      );
      expectDocumented(
        'put',
        '/api/agents/{id}/availability',
        await call('put', '/api/agents/bob/availability', { body: '{"available":"yes"}', headers: json }),
      );

      // Both changes are in the audit log, newest first, as the token's actor.
      const audit = await call('get', '/api/audit?limit=2');
      expect(audit.status).toBe(200);
      expectDocumented('get', '/api/audit', audit);
      const { entries, next_before } = audit.body as {
        entries: Array<{ id: number; actor: string; action: string; target: string; details: unknown }>;
        next_before: number;
      };
      expect(entries.map(({ actor, action, target, details }) => ({ actor, action, target, details }))).toEqual([
        {
          actor: 'api-token',
          action: 'agent.availability',
          target: 'agent:bob',
          details: { available: true, via: 'api' },
        },
        {
          actor: 'api-token',
          action: 'agent.availability',
          target: 'agent:bob',
          details: { available: false, via: 'api' },
        },
      ]);
      expect(next_before).toBe(entries[1]!.id);
      const older = await call('get', `/api/audit?before=${next_before}`);
      expectDocumented('get', '/api/audit', older);
      expect((older.body as { entries: Array<{ id: number }> }).entries.every((entry) => entry.id < next_before)).toBe(
        true,
      );
      const bad = await call('get', '/api/audit?before=x');
      expect(bad.status).toBe(400);
      expectDocumented('get', '/api/audit', bad);
    });

    it('consent: set through the API, shown on the record; the public unsubscribe link', async () => {
      const json = { 'content-type': 'application/json' };
      const saved = await call('put', `/api/customers/${mergedId}/consent`, {
        body: JSON.stringify({ channel: 'sms', granted: false, source: 'asked by phone' }),
        headers: json,
      });
      expect(saved.status).toBe(200);
      expectDocumented('put', '/api/customers/{id}/consent', saved);
      expect(saved.body).toMatchObject({
        channel: 'sms',
        consent: [{ address: '+14155550100', granted: false, source: 'asked by phone' }],
      });
      const record = await call('get', `/api/customers/${mergedId}`);
      expectDocumented('get', '/api/customers/{id}', record);
      expect(record.body).toMatchObject({
        consent: { sms: [{ granted: false }], email: [{ address: 'mona@merge.example', granted: null }] },
        consent_history: [{ channel: 'sms', granted: false }],
      });
      for (const [body, status] of [
        ['{"channel":"fax","granted":false}', 400],
        ['{"channel":"sms"}', 400],
        ['{"channel":"messenger","granted":true}', 409],
      ] as const) {
        const answer = await call('put', `/api/customers/${mergedId}/consent`, { body, headers: json });
        expect(answer.status, body).toBe(status);
        expectDocumented('put', '/api/customers/{id}/consent', answer);
      }
      const missing = await call('put', '/api/customers/999999/consent', {
        body: '{"channel":"sms","granted":true}',
        headers: json,
      });
      expect(missing.status).toBe(404);
      expectDocumented('put', '/api/customers/{id}/consent', missing);

      const token = unsubscribeToken(SECRETS.CRMFLOW_SECRET_KEY!, 'mona@merge.example');
      const page = await call('get', `/unsubscribe/${token}`, { token: false });
      expect(page.status).toBe(200);
      expectDocumented('get', '/unsubscribe/{token}', page);
      const done = await call('post', `/unsubscribe/${token}`, {
        token: false,
        body: 'List-Unsubscribe=One-Click',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(done.status).toBe(200);
      expectDocumented('post', '/unsubscribe/{token}', done);
      for (const method of ['get', 'post'] as const) {
        const forged = await call(method, `/unsubscribe/${token.slice(0, -2)}xx`, { token: false });
        expect(forged.status).toBe(404);
        expectDocumented(method, '/unsubscribe/{token}', forged);
      }
    });

    it('people’s own contacts: an agent’s message to the customer, a call logged by hand', async () => {
      const { rows } = await db.pool.query<{ id: number }>(
        `SELECT c.id FROM customers c JOIN customer_identities i ON i.customer_id = c.id WHERE c.merged_into IS NULL AND i.kind = 'email' ORDER BY c.id LIMIT 1`,
      );
      const id = rows[0]!.id;
      const json = { 'content-type': 'application/json' };
      const message = {
        channel: 'email',
        subject: 'Your quote',
        text: 'Hi, here is the quote you asked for.',
        agent_id: 'alice',
      };
      const sent = await call('post', `/api/customers/${id}/messages`, {
        body: JSON.stringify(message),
        headers: { ...json, 'idempotency-key': 'quote-1' },
      });
      expect(sent.status).toBe(201);
      expect(sent.body).toMatchObject({ status: 'sent', agent_id: 'alice', channel: 'email' });
      expectDocumented('post', '/api/customers/{id}/messages', sent);
      // The same key again: the message recorded the first time, not a second email.
      const again = await call('post', `/api/customers/${id}/messages`, {
        body: JSON.stringify(message),
        headers: { ...json, 'idempotency-key': 'quote-1' },
      });
      expect(again.body).toEqual(sent.body);
      expect(await count(db.pool, "SELECT 1 FROM outbound_messages WHERE agent_id = 'alice'")).toBe(1);
      // The API token is no person: it names the agent.
      const nobody = await call('post', `/api/customers/${id}/messages`, {
        body: JSON.stringify({ channel: 'email', text: 'Hi' }),
        headers: json,
      });
      expect(nobody.status).toBe(400);
      expectDocumented('post', '/api/customers/{id}/messages', nobody);
      expectDocumented(
        'post',
        '/api/customers/{id}/messages',
        await call('post', '/api/customers/999999/messages', { body: JSON.stringify(message), headers: json }),
      );

      const logged = await call('post', `/api/customers/${id}/contacts`, {
        body: JSON.stringify({
          kind: 'call',
          text: 'Called back, wants a demo.',
          duration_seconds: 240,
          agent_id: 'bob',
        }),
        headers: json,
      });
      expect(logged.status).toBe(201);
      expect(logged.body).toMatchObject({ type: 'call.completed', agent_id: 'bob' });
      expectDocumented('post', '/api/customers/{id}/contacts', logged);
      const bad = await call('post', `/api/customers/${id}/contacts`, {
        body: JSON.stringify({ kind: 'visit', text: 'x', agent_id: 'bob' }),
        headers: json,
      });
      expect(bad.status).toBe(400);
      expectDocumented('post', '/api/customers/{id}/contacts', bad);
      const timeline = (await call('get', `/api/customers/${id}`)).body as {
        timeline: Array<{ type: string; data: Record<string, unknown> }>;
      };
      expect(
        timeline.timeline
          .filter((entry) => entry.data.agent_id)
          .map((entry) => [entry.type, entry.data.agent_id])
          .sort(),
      ).toEqual([
        ['call.completed', 'bob'],
        ['message.sent', 'alice'],
      ]);
    });

    it('messages and workflows, and a poll', async () => {
      const messages = await call('get', '/api/messages');
      expect((messages.body as { messages: unknown[] }).messages.length).toBeGreaterThanOrEqual(3);
      expectDocumented('get', '/api/messages', messages);
      expectDocumented(
        'get',
        '/api/messages',
        await call('get', `/api/messages?customer_id=${mergedId}&limit=1&before=999999`),
      );
      const badCustomer = await call('get', '/api/messages?customer_id=me');
      expect(badCustomer.status).toBe(400);
      expectDocumented('get', '/api/messages', badCustomer);

      // An email whose delivery is unknown is listed, and resent through the real SMTP sink on request, once.
      const { rows } = await db.pool.query<{ id: number }>(
        `INSERT INTO outbound_messages (idempotency_key, channel, transport, recipient, subject, body, status, status_reason)
         VALUES ('test:uncertain', 'email', 'smtp', 'lost@example.com', 'Hello', 'Did this arrive?', 'uncertain', 'connection lost') RETURNING id`,
      );
      const uncertain = await call('get', '/api/messages?status=uncertain');
      expect((uncertain.body as { messages: Array<{ id: number }> }).messages.map((message) => message.id)).toEqual([
        rows[0]!.id,
      ]);
      expectDocumented('get', '/api/messages', uncertain);
      const resent = await call('post', `/api/messages/${rows[0]!.id}/resend`);
      expect(resent.body).toEqual({ message_id: rows[0]!.id, status: 'sent' });
      expectDocumented('post', '/api/messages/{id}/resend', resent);
      expect(smtp.messages.filter((message) => message.to.includes('lost@example.com'))).toHaveLength(1);
      const again = await call('post', `/api/messages/${rows[0]!.id}/resend`);
      expect(again.status).toBe(409);
      expectDocumented('post', '/api/messages/{id}/resend', again);
      expectDocumented('post', '/api/messages/{id}/resend', await call('post', '/api/messages/999999/resend'));

      const workflows = await call('get', '/api/workflows');
      expect(workflows.status).toBe(200);
      expectDocumented('get', '/api/workflows', workflows);

      // The example's poll workflow is disabled until an admin configures the Admin API: 409 says so.
      const disabled = await call('post', '/api/workflows/shopify-orders-backfill/poll');
      expect(disabled.status).toBe(409);
      expect((disabled.body as { error: { code: string } }).error.code).toBe('disabled');
      expectDocumented('post', '/api/workflows/{id}/poll', disabled);
      const poll = await call('post', '/api/workflows/enabled-poll/poll');
      expect(poll.status).toBe(202);
      expectDocumented('post', '/api/workflows/{id}/poll', poll);
      const notAPoll = await call('post', '/api/workflows/shopify-order/poll');
      expect(notAPoll.status).toBe(409);
      expectDocumented('post', '/api/workflows/{id}/poll', notAPoll);
      const missing = await call('post', '/api/workflows/nope/poll');
      expect(missing.status).toBe(404);
      expectDocumented('post', '/api/workflows/{id}/poll', missing);
    });

    // Last: it unmerges, merges and erases the customers the tests above look at.
    it('identity: unmerge, merge suggestions, export and erasure', async () => {
      const json = { 'content-type': 'application/json' };
      const keptId = (
        await db.pool.query<{ kept_id: number }>('SELECT kept_id FROM customer_merges WHERE merged_id = $1', [mergedId])
      ).rows[0]!.kept_id;
      const unmerge = (id: number, body: unknown) =>
        call('post', `/api/customers/${id}/unmerge`, { body: JSON.stringify(body), headers: json });
      const undone = await unmerge(keptId, { customer_id: mergedId });
      expect(undone.status).toBe(200);
      expectDocumented('post', '/api/customers/{id}/unmerge', undone);
      for (const [body, status] of [
        [{ customer_id: mergedId }, 409],
        [{}, 400],
        [{ merge_id: 999999 }, 404],
      ] as const) {
        const answer = await unmerge(keptId, body);
        expect(answer.status).toBe(status);
        expectDocumented('post', '/api/customers/{id}/unmerge', answer);
      }
      const rejected = await call('get', '/api/merge-suggestions?status=rejected');
      expect((rejected.body as { suggestions: unknown[] }).suggestions).toEqual([
        expect.objectContaining({ customer_a: keptId, customer_b: mergedId, status: 'rejected' }),
      ]);
      expectDocumented('get', '/api/merge-suggestions', rejected);
      expectDocumented('get', '/api/merge-suggestions', await call('get', '/api/merge-suggestions?status=nope'));

      // Two open suggestions (as the duplicate finder writes them): accept one, reject the other.
      const { rows: others } = await db.pool.query<{ id: number }>(
        'SELECT id FROM customers WHERE merged_into IS NULL AND id <> ALL($1) ORDER BY id',
        [[keptId, mergedId]],
      );
      const { rows: made } = await db.pool.query<{ id: number }>(
        `INSERT INTO customer_merge_suggestions (customer_a, customer_b, reason, score) VALUES ($1, $2, '{"why": "similar names"}', 0.93), ($3, $4, '{"why": "similar names"}', 0.91) RETURNING id`,
        [keptId, others[0]!.id, Math.min(mergedId, others[0]!.id), Math.max(mergedId, others[0]!.id)],
      );
      const open = await call('get', '/api/merge-suggestions');
      expect((open.body as { suggestions: unknown[] }).suggestions).toHaveLength(2);
      expectDocumented('get', '/api/merge-suggestions', open);
      const accepted = await call('post', `/api/merge-suggestions/${made[0]!.id}/accept`);
      expect(accepted.body).toMatchObject({
        status: 'accepted',
        decided_by: 'api-token',
        kept_id: Math.min(keptId, others[0]!.id),
        merge_id: expect.any(Number),
      });
      expectDocumented('post', '/api/merge-suggestions/{id}/accept', accepted);
      expectDocumented(
        'post',
        '/api/merge-suggestions/{id}/accept',
        await call('post', `/api/merge-suggestions/${made[0]!.id}/accept`),
      );
      expectDocumented(
        'post',
        '/api/merge-suggestions/{id}/accept',
        await call('post', '/api/merge-suggestions/999999/accept'),
      );
      const declined = await call('post', `/api/merge-suggestions/${made[1]!.id}/reject`);
      expect(declined.body).toMatchObject({ status: 'rejected' });
      expectDocumented('post', '/api/merge-suggestions/{id}/reject', declined);
      expectDocumented(
        'post',
        '/api/merge-suggestions/{id}/reject',
        await call('post', `/api/merge-suggestions/${made[1]!.id}/reject`),
      );
      expectDocumented(
        'post',
        '/api/merge-suggestions/{id}/reject',
        await call('post', '/api/merge-suggestions/999999/reject'),
      );

      const exported = await call('get', `/api/customers/${keptId}/export`);
      expect((exported.body as { customer_ids: number[] }).customer_ids).toEqual(
        [keptId, others[0]!.id].sort((a, b) => a - b),
      );
      expectDocumented('get', '/api/customers/{id}/export', exported);
      expectDocumented('get', '/api/customers/{id}/export', await call('get', '/api/customers/999999/export'));
      const erased = await call('delete', `/api/customers/${mergedId}`);
      expect((erased.body as { customer_ids: number[] }).customer_ids).toEqual([mergedId]);
      expectDocumented('delete', '/api/customers/{id}', erased);
      expectDocumented('delete', '/api/customers/{id}', await call('delete', '/api/customers/999999'));
      expectDocumented('delete', '/api/customers/{id}', await call('delete', '/api/customers/abc'));
    });

    it('reports: KPIs and cohorts, as JSON and CSV, and a bad period', async () => {
      for (const path of ['/api/reports/kpis', '/api/reports/cohorts']) {
        expectDocumented(
          'get',
          path,
          await call('get', `${path}?from=2026-01-01&to=2026-01-31${path.endsWith('kpis') ? '&by=source' : ''}`),
        );
        expectDocumented(
          'get',
          path,
          await call('get', `${path}?from=2026-01-01&to=2026-01-31`, { headers: { accept: 'text/csv' } }),
        );
        expectDocumented('get', path, await call('get', `${path}?from=2026-02-30&to=2026-01-31`));
      }
    });

    it('cases: the queue, one case, note, reply, status with the rating question, assign; the rating link', async () => {
      const lead = JSON.stringify({
        submission_id: 'oa-case',
        type: 'complaint',
        name: 'Cass Case',
        email: 'cass@example.com',
        message: 'The lamp arrived broken',
      });
      expect(
        (
          await call('post', '/webhooks/form', {
            token: false,
            body: lead,
            headers: formHeaders(lead, SECRETS.FORM_WEBHOOK_SECRET),
          })
        ).status,
      ).toBe(202);
      const list = await waitFor('the case', async () => {
        const answer = await call('get', '/api/cases?status=open,waiting_on_customer');
        return (answer.body as { cases: unknown[] }).cases.length === 1 && answer;
      });
      expectDocumented('get', '/api/cases', list);
      expectDocumented('get', '/api/cases', await call('get', '/api/cases?status=bogus'));
      const id = (list.body as { cases: Array<{ id: number }> }).cases[0]!.id;
      const post = (path: string, body: unknown) =>
        call('post', path, { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      expectDocumented(
        'post',
        '/api/cases/{id}/notes',
        await post(`/api/cases/${id}/notes`, { body: 'Asked the warehouse' }),
      );
      expectDocumented('post', '/api/cases/{id}/notes', await post(`/api/cases/${id}/notes`, { body: '' }));
      expectDocumented(
        'post',
        '/api/cases/{id}/replies',
        await post(`/api/cases/${id}/replies`, { body: 'A new lamp is on its way.' }),
      );
      expectDocumented('post', '/api/cases/{id}/assign', await post(`/api/cases/${id}/assign`, { agent_id: 'bob' }));
      expectDocumented('post', '/api/cases/{id}/assign', await post(`/api/cases/${id}/assign`, { agent_id: 'nobody' }));
      expectDocumented(
        'post',
        '/api/cases/{id}/status',
        await post(`/api/cases/${id}/status`, { status: 'resolved', ask_feedback: true }),
      );
      expectDocumented(
        'post',
        '/api/cases/{id}/status',
        await post('/api/cases/999999/status', { status: 'resolved' }),
      );
      const question = await waitFor('the rating question', async () =>
        smtp.messages.find((message) => message.to.includes('cass@example.com') && /How satisfied/.test(message.text)),
      );
      const link = /\/feedback\/[^\s]+/.exec(question.text)![0];
      expectDocumented('get', '/feedback/{token}', await call('get', link, { token: false }));
      expectDocumented('post', '/feedback/{token}', await call('post', link, { token: false }));
      expectDocumented('post', '/feedback/{token}', await call('post', `${link.slice(0, -2)}xx`, { token: false }));
      const detail = await call('get', `/api/cases/${id}`);
      expect(detail.body).toMatchObject({ status: 'resolved', owner_agent_id: 'bob', feedback: [{ score: 1 }] });
      expectDocumented('get', '/api/cases/{id}', detail);
      expectDocumented('get', '/api/cases/{id}', await call('get', '/api/cases/0'));
      const figures = await call('get', '/api/cases/figures?from=2000-01-01');
      expect(figures.body).toMatchObject({ opened: 1, csat_answers: 1 });
      expectDocumented('get', '/api/cases/figures', figures);
      expectDocumented('get', '/api/cases/figures', await call('get', '/api/cases/figures?from=soon'));
    });

    it('401 on every protected route without the token', async () => {
      for (const { path, method, operation } of operations()) {
        if (!operation.security.some((requirement) => 'apiToken' in requirement)) continue;
        const answer = await call(method, path.replace('{id}', '1'), { token: false });
        expect(answer.status, path).toBe(401);
        expect(answer.headers.get('www-authenticate')).toBe('Bearer');
        expectDocumented(method, path, answer);
      }
    });
  });

  describe('health and metrics', () => {
    it('healthz, readyz and metrics', async () => {
      const health = await call('get', '/healthz', { token: false });
      expect(health.status).toBe(200);
      expectDocumented('get', '/healthz', health);
      const ready = await call('get', '/readyz', { token: false });
      expect(ready.status).toBe(200);
      expectDocumented('get', '/readyz', ready);

      // Served to loopback clients without a token, or with CRMFLOW_METRICS_TOKEN when one is configured.
      let metrics = await call('get', '/metrics', { token: false });
      expectDocumented('get', '/metrics', metrics);
      if (metrics.status === 401) {
        metrics = await call('get', '/metrics', {
          token: false,
          headers: { authorization: `Bearer ${SECRETS.CRMFLOW_METRICS_TOKEN}` },
        });
      }
      expect(metrics.status).toBe(200);
      expect(metrics.body).toContain('crmflow_');
      expectDocumented('get', '/metrics', metrics);
    });
  });

  it('validated a real response of every documented operation', () => {
    const missing = operations()
      .filter(({ path, method }) => ![...(exercised.get(`${method} ${path}`) ?? [])].some((status) => status < 300))
      .map(({ path, method }) => `${method.toUpperCase()} ${path}`);
    expect(missing).toEqual([]);
  });
});
