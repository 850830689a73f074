import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { twilioSignature } from '../src/connectors/twilio/signature.js';

/** The vendors' own samples, kept with the tests (`tests/fixtures/vendors`). */
export const VENDOR_FIXTURES = new URL('../tests/fixtures/vendors/', import.meta.url);

/** Form leads have no vendor sample in the shared fixtures: the form connector's own sample is used. */
const FORM_SAMPLE = new URL('../src/connectors/form/samples/lead_submitted.json', import.meta.url);

/** Secrets the bench signs with and crmflow (and the ceiling servers) verify with. */
export interface SigningSecrets {
  shopify: string;
  form: string;
  meta: string;
  twilio: string;
}

/** One pre-signed webhook delivery, ready to post. */
export interface BenchEvent {
  connector: 'shopify' | 'twilio' | 'meta' | 'form';
  /** `/webhooks/<connector>` */
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  /** The inbox `external_id` crmflow derives for it: joins the run back to this delivery. */
  externalId: string;
}

export interface CorpusOptions {
  size: number;
  secrets: SigningSecrets;
  /** Base URL Twilio "called": crmflow's `CRMFLOW_PUBLIC_URL`. */
  publicUrl: string;
  /** Distinct people behind the events; default size / 4 (so about four events per person). */
  people?: number;
  /** Makes ids unique across runs on the same database; default a timestamp. */
  runTag?: string;
  seed?: number;
}

function fixture(vendor: string, file: string): any {
  return JSON.parse(readFileSync(new URL(`${vendor}/${file}`, VENDOR_FIXTURES), 'utf8'));
}

/** mulberry32: a small seeded PRNG, so a corpus is the same on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Person {
  n: number;
  first: string;
  last: string;
  email: string;
  /** E.164 */
  phone: string;
  shopifyCustomerId: string;
}

const FIRST = ['Maria', 'Jon', 'Ana', 'Li', 'Sam', 'Noor', 'Ivan', 'Zoe', 'Omar', 'Eva', 'Raj', 'Kim'];
const LAST = ['Garcia', 'Snow', 'Souza', 'Wei', 'Okafor', 'Haddad', 'Petrov', 'Martin', 'Nguyen', 'Berg'];

function person(n: number): Person {
  return {
    n,
    first: FIRST[n % FIRST.length]!,
    last: LAST[Math.floor(n / FIRST.length) % LAST.length]!,
    email: `person${n}@bench.example`,
    // 415-2xx-xxxx: a possible US number for every n below 10 million.
    phone: `+1415${String(2_000_000 + n).padStart(7, '0')}`,
    shopifyCustomerId: String(7_000_000_000 + n),
  };
}

const hmacBase64 = (secret: string, body: Buffer) => createHmac('sha256', secret).update(body).digest('base64');
const hmacHex = (secret: string, body: Buffer) => createHmac('sha256', secret).update(body).digest('hex');

/**
 * Builds `size` signed deliveries from the real vendor samples: 40% Shopify orders, 20% Twilio final call statuses,
 * 20% WhatsApp messages, 20% form leads, about people overlapping on purpose. Each person is known by email (orders,
 * some leads), phone (calls, WhatsApp, some orders and leads) and a Shopify customer id; an event that carries two of
 * them links records created separately before, so identity resolution attaches identities and merges customers.
 */
export function buildCorpus(options: CorpusOptions): BenchEvent[] {
  const rand = random(options.seed ?? 42);
  const people = Math.max(10, options.people ?? Math.floor(options.size / 4));
  const tag = options.runTag ?? Date.now().toString(36);
  const order = fixture('shopify', 'orders_create.json');
  const call = fixture('twilio', 'incoming_voice_call_ringing.json');
  const whatsapp = fixture('meta', 'whatsapp_text_message.json');
  const lead = JSON.parse(readFileSync(FORM_SAMPLE, 'utf8'));
  const twilioUrl = new URL('/webhooks/twilio', options.publicUrl).toString();
  const baseTime = Date.parse('2026-03-01T00:00:00Z');
  const events: BenchEvent[] = [];

  for (let i = 0; i < options.size; i++) {
    const who = person(Math.floor(rand() * people));
    const at = new Date(baseTime + i * 1000);
    const pick = rand();
    const id = `${tag}-${i}`;
    if (pick < 0.4) {
      const withPhone = rand() < 0.5;
      const orderGid = `gid://shopify/Order/${tag}${i}`;
      const body = Buffer.from(
        JSON.stringify({
          ...order,
          id: 9_000_000_000 + i,
          admin_graphql_api_id: orderGid,
          name: `#B${i}`,
          order_number: 1000 + i,
          email: who.email,
          contact_email: who.email,
          phone: withPhone ? who.phone : null,
          created_at: at.toISOString(),
          updated_at: at.toISOString(),
          total_price: (10 + (i % 90)).toFixed(2),
          customer: {
            ...order.customer,
            id: Number(who.shopifyCustomerId),
            admin_graphql_api_id: `gid://shopify/Customer/${who.shopifyCustomerId}`,
            email: who.email,
            phone: withPhone ? who.phone : null,
            first_name: who.first,
            last_name: who.last,
          },
        }),
      );
      events.push({
        connector: 'shopify',
        path: '/webhooks/shopify',
        headers: {
          'content-type': 'application/json',
          'x-shopify-topic': 'orders/create',
          'x-shopify-hmac-sha256': hmacBase64(options.secrets.shopify, body),
          'x-shopify-shop-domain': 'bench.myshopify.com',
        },
        body,
        externalId: `orders/create:${orderGid}:${at.toISOString()}`,
      });
    } else if (pick < 0.6) {
      const status = ['completed', 'no-answer', 'busy'][Math.floor(rand() * 3)]!;
      const params = new URLSearchParams({
        ...call,
        CallSid: `CA${id}`,
        From: who.phone,
        Caller: who.phone,
        CallStatus: status,
        CallbackSource: 'call-progress-events',
        SequenceNumber: '1',
        Timestamp: at.toUTCString(),
        ...(status === 'completed' ? { CallDuration: String(5 + (i % 300)) } : {}),
      });
      const body = Buffer.from(params.toString());
      events.push({
        connector: 'twilio',
        path: '/webhooks/twilio',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': twilioSignature(options.secrets.twilio, twilioUrl, params),
        },
        body,
        externalId: `CA${id}:${status}`,
      });
    } else if (pick < 0.8) {
      const waId = who.phone.slice(1);
      const messageId = `wamid.${id}`;
      const value = whatsapp.entry[0].changes[0].value;
      const body = Buffer.from(
        JSON.stringify({
          ...whatsapp,
          entry: [
            {
              ...whatsapp.entry[0],
              changes: [
                {
                  field: 'messages',
                  value: {
                    ...value,
                    contacts: [{ profile: { name: `${who.first} ${who.last}` }, wa_id: waId }],
                    messages: [
                      {
                        ...value.messages[0],
                        from: waId,
                        id: messageId,
                        timestamp: String(Math.floor(at.getTime() / 1000)),
                        text: { body: `Question ${i}` },
                      },
                    ],
                  },
                },
              ],
            },
          ],
        }),
      );
      events.push({
        connector: 'meta',
        path: '/webhooks/meta',
        headers: {
          'content-type': 'application/json',
          'x-hub-signature-256': `sha256=${hmacHex(options.secrets.meta, body)}`,
        },
        body,
        externalId: messageId,
      });
    } else {
      const shape = rand();
      const body = Buffer.from(
        JSON.stringify({
          ...lead,
          submission_id: `lead-${id}`,
          name: `${who.first} ${who.last}`,
          email: shape < 0.8 ? who.email : undefined,
          phone: shape > 0.3 ? who.phone : undefined,
          submitted_at: at.toISOString(),
        }),
      );
      events.push({
        connector: 'form',
        path: '/webhooks/form',
        headers: {
          'content-type': 'application/json',
          'x-crmflow-signature': `sha256=${hmacHex(options.secrets.form, body)}`,
        },
        body,
        externalId: `lead-${id}`,
      });
    }
  }
  return events;
}

/** Shopify orders only, signed: the load of the ceiling servers. */
export function shopifyOrders(corpus: BenchEvent[]): BenchEvent[] {
  return corpus.filter((event) => event.connector === 'shopify');
}
