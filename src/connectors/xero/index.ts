import { defineConnector, type EventSpec } from '../define-connector.js';
import { readBeside, readJsonBeside } from '../shared/files.js';
import { DEFAULT_TOKEN_URL, enrichXero } from './api.js';
import { contacts, invoices } from './pull.js';
import { eventType, RESOURCES, resourcePayload, VERBS, type Category, type XeroEventType } from './resources.js';
import { handshakeXero, parseXero, verifyXero } from './webhook.js';

/** The tenant of the shared webhook sample: samples are what the mappings receive, an object plus its tenant. */
const SAMPLE_TENANT_ID = 'c2cc9b6e-9458-4c7d-93cc-f02b81b0594f';

const events: Record<string, EventSpec> = Object.fromEntries(
  (Object.keys(RESOURCES) as Category[]).flatMap((resource) => {
    const spec = RESOURCES[resource];
    const event: Omit<EventSpec, 'summary'> = {
      mapping: readBeside(import.meta.url, `mappings/${spec.noun}.jsonata`),
      sample: resourcePayload(
        SAMPLE_TENANT_ID,
        readJsonBeside(import.meta.url, `samples/${spec.sample}.json`) as Record<string, unknown>,
      ),
    };
    return (Object.keys(VERBS) as XeroEventType[]).map((type) => [
      eventType(resource, type),
      { summary: `A ${spec.noun} was ${VERBS[type]} in Xero (the full object is fetched).`, ...event },
    ]);
  }),
);

/**
 * Xero Accounting. Webhooks carry only ids: `parse` stores one thin event per item and `enrich` (in the worker) reads
 * the contact or invoice over the API with OAuth2 tokens that Xero rotates on every refresh.
 */
export default defineConnector({
  id: 'xero',
  family: 'accounting',
  summary:
    'Xero contacts and invoices: signed webhooks (with the intent-to-receive check) enriched over the API, and paged pulls.',
  secrets: {
    webhook_key: {
      description: 'Webhooks signing key (Xero developer portal → app → Webhooks); signs `x-xero-signature`.',
      env: {
        name: 'XERO_WEBHOOK_KEY',
        demo: 'demo-xero-webhook-key',
        description: 'Xero webhooks signing key (`x-xero-signature`).',
      },
    },
    client_id: {
      description: "The app's OAuth2 client id.",
      env: { name: 'XERO_CLIENT_ID', demo: 'demo-xero-client-id', description: 'Xero app OAuth2 client id.' },
    },
    client_secret: {
      description: "The app's OAuth2 client secret.",
      env: {
        name: 'XERO_CLIENT_SECRET',
        demo: 'demo-xero-client-secret',
        description: 'Xero app OAuth2 client secret.',
      },
    },
    refresh_token: {
      description:
        'Refresh token from connecting the app (offline_access scope). Rotated tokens are then persisted; set a new one to re-authorize.',
      optional: true,
      env: {
        name: 'XERO_REFRESH_TOKEN',
        demo: 'demo-xero-refresh-token',
        description: 'Xero refresh token (offline_access); rotated tokens are then stored encrypted.',
      },
    },
    tenant_id: {
      description: 'Organisation (tenant) id to pull from; needed only for the `contacts` and `invoices` pulls.',
      optional: true,
      env: {
        name: 'XERO_TENANT_ID',
        secret: false,
        description: 'Xero organisation (tenant) id, for the `contacts`/`invoices` pulls (secret `tenant_id`).',
      },
    },
    token_url: { description: `OAuth2 token endpoint; default ${DEFAULT_TOKEN_URL}.`, optional: true },
  },
  webhook: {
    // Xero expects a plain 200 with no body for every delivery.
    acknowledge: { status: 200, body: '' },
    handshake: (request, secrets) => handshakeXero(request, secrets.webhook_key),
    signature: { name: 'x-xero-signature', description: 'base64 HMAC-SHA256 of the body with the webhooks key.' },
    verify: (request, secrets) => verifyXero(request, secrets.webhook_key),
    parse: (request) => parseXero(request),
  },
  events,
  // 60 calls per minute per organisation.
  api: {
    defaultUrl: 'https://api.xero.com',
    env: 'XERO_API_URL',
    envDescription: 'Xero API base URL.',
    rateLimit: { requests: 60, perSeconds: 60 },
  },
  enrich: enrichXero,
  pull: { contacts, invoices },
});
