import { defineConnector, type EventSpec } from '../define-connector.js';
import { readBeside, readJsonBeside } from '../shared/files.js';
import { DEFAULT_TOKEN_URL, enrichQuickBooks, entityPayload } from './api.js';
import { ENTITIES, eventType, VERBS, type EntityName } from './entities.js';
import { changes } from './pull.js';
import { parseQuickBooks, verifyQuickBooks } from './webhook.js';

/** The realm of the shared webhook sample: samples are what the mappings receive, an entity plus its realm. */
const SAMPLE_REALM_ID = '1185883450';

const events: Record<string, EventSpec> = Object.fromEntries(
  (Object.keys(ENTITIES) as EntityName[]).flatMap((name) => {
    const spec = ENTITIES[name];
    const response = readJsonBeside(import.meta.url, `samples/${spec.sample}.json`) as Record<
      EntityName,
      Record<string, unknown>
    >;
    const event: Omit<EventSpec, 'summary'> = {
      mapping: readBeside(import.meta.url, `mappings/${spec.noun}.jsonata`),
      sample: entityPayload(SAMPLE_REALM_ID, response[name]),
    };
    return spec.operations.map((operation) => [
      eventType(name, operation),
      {
        summary: `A ${spec.noun} was ${VERBS[operation]} in QuickBooks Online (the full ${name} is fetched).`,
        ...event,
      },
    ]);
  }),
);

/**
 * QuickBooks Online. Webhooks carry only entity ids: `parse` stores one thin event per changed entity and `enrich`
 * (in the worker) reads the entity over the Accounting API with OAuth2 tokens that Intuit rotates on every refresh.
 */
export default defineConnector({
  id: 'quickbooks',
  family: 'accounting',
  summary:
    'QuickBooks Online customers, invoices and payments: signed change webhooks enriched over the API, and CDC pulls.',
  secrets: {
    verifier_token: {
      description: "The app's webhook Verifier Token (Intuit developer portal → Webhooks); signs `intuit-signature`.",
      env: {
        name: 'QUICKBOOKS_VERIFIER_TOKEN',
        demo: 'demo-quickbooks-verifier',
        description: 'QuickBooks webhook Verifier Token (`intuit-signature`).',
      },
    },
    client_id: {
      description: "The app's OAuth2 client id.",
      env: {
        name: 'QUICKBOOKS_CLIENT_ID',
        demo: 'demo-quickbooks-client-id',
        description: 'QuickBooks app OAuth2 client id.',
      },
    },
    client_secret: {
      description: "The app's OAuth2 client secret.",
      env: {
        name: 'QUICKBOOKS_CLIENT_SECRET',
        demo: 'demo-quickbooks-client-secret',
        description: 'QuickBooks app OAuth2 client secret.',
      },
    },
    refresh_token: {
      description:
        'Refresh token from authorizing the app for the company. Rotated tokens are then persisted; set a new one to re-authorize.',
      optional: true,
      env: {
        name: 'QUICKBOOKS_REFRESH_TOKEN',
        demo: 'demo-quickbooks-refresh-token',
        description:
          'Refresh token from authorizing the company; rotated tokens are then stored encrypted. Set a new one to re-authorize.',
      },
    },
    realm_id: {
      description: 'Company (realm) id to pull from; needed only for the `changes` pull.',
      optional: true,
      env: {
        name: 'QUICKBOOKS_REALM_ID',
        secret: false,
        description: 'QuickBooks company (realm) id, for the `changes` pull (secret `realm_id`).',
      },
    },
    token_url: { description: `OAuth2 token endpoint; default ${DEFAULT_TOKEN_URL}.`, optional: true },
  },
  webhook: {
    signature: { name: 'intuit-signature', description: 'base64 HMAC-SHA256 of the body with the Verifier Token.' },
    verify: (request, secrets) => verifyQuickBooks(request, secrets.verifier_token),
    parse: (request) => parseQuickBooks(request),
  },
  events,
  // Accounting API: 500 requests per minute per company.
  api: {
    defaultUrl: 'https://quickbooks.api.intuit.com',
    env: 'QUICKBOOKS_API_URL',
    envDescription: 'QuickBooks Accounting API base URL (sandbox: https://sandbox-quickbooks.api.intuit.com).',
    rateLimit: { requests: 500, perSeconds: 60 },
  },
  enrich: enrichQuickBooks,
  pull: { changes },
});
