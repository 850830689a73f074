import type { ConnectorDefinition } from '../../connectors/define-connector.js';
import { connectors as connectorRegistry } from '../../connectors/registry.js';
import {
  anyJson,
  errorContent,
  errorResponse,
  integer,
  json,
  type JsonSchema,
  type OperationObject,
  type ParameterObject,
  type PathItemObject,
  PUBLIC,
  record,
  ref,
  responseRef,
  RETRY_AFTER,
  string,
} from './common.js';

/** OpenAPI: Vendor webhooks (signature table and headers from the connector registry) and the public unsubscribe link. Spread into the document by src/http/openapi.ts. */
const connectorIds = [...connectorRegistry.keys()];

/** One row per connector that receives webhooks: its signature header and how the signature is computed (from the registry). */
export function webhookSignatureTable(definitions: Iterable<ConnectorDefinition>): string {
  const rows = [...definitions].flatMap(({ id, webhook }) => {
    if (!webhook) return [];
    const where = webhook.signature?.in === 'body' ? ' (form field)' : '';
    const how = webhook.signature
      ? `\`${webhook.signature.name}\`${where}: ${webhook.signature.description}`
      : `unsigned: ${webhook.unsigned}`;
    return [`| \`${id}\` | ${how.replace(/\|/g, '\\|')} |`];
  });
  return ['| connector | signature header |', '| --- | --- |', ...rows].join('\n');
}

/** Every header a webhook delivery may carry, per connector (from the registry). */
export function webhookHeaderParameters(definitions: Iterable<ConnectorDefinition>): ParameterObject[] {
  return [...definitions].flatMap(({ id, webhook }) =>
    webhook
      ? [
          ...(webhook.signature?.in === 'body' ? [] : webhook.signature ? [webhook.signature] : []),
          ...(webhook.headers ?? []),
        ].map((spec) => header(spec.name, `${id}: ${spec.description}`))
      : [],
  );
}

const header = (name: string, description: string): ParameterObject => ({
  name,
  in: 'header',
  description,
  schema: string,
});

const WEBHOOK_DESCRIPTION = `Vendors post here; no API token. Each connector checks **its vendor's signature over the raw request bytes**
(timing-safe HMAC; never over re-serialized JSON) before anything is parsed or stored:

${webhookSignatureTable(connectorRegistry.values())}

A verified delivery is parsed into events, stored in the PostgreSQL inbox (once per vendor event id: a redelivery is a
duplicate and runs nothing) and queued, and only then acknowledged: **202** with the counts. Some vendors want their own
answer instead: Twilio gets an empty TwiML \`<Response/>\` (200, \`text/xml\`), Xero an empty 200. Handshakes are
answered before the signature check: WooCommerce's unsigned \`webhook_id=<id>\` ping (200 \`ok\`) and Xero's
intent-to-receive (an empty \`events\` list: 200 when signed right, else 401, both with an empty body).

Bodies are limited to 1 MB. Errors use the JSON error shape unless a vendor handshake says otherwise.`;

const connectorParameter: ParameterObject = {
  name: 'connector',
  in: 'path',
  required: true,
  description: `A connector configured under \`connectors:\` in workflows.yaml; shipped: ${connectorIds.map((id) => `\`${id}\``).join(', ')}.`,
  schema: { type: 'string', examples: connectorIds },
};

const webhookHeaders = webhookHeaderParameters(connectorRegistry.values());

const TWIML_ACK = '<?xml version="1.0" encoding="UTF-8"?><Response/>';

const webhookUnavailable = errorResponse(
  'Not stored, retry later: PostgreSQL is unavailable (`unavailable`) or this instance is shutting down (`shutting_down`). Vendors redeliver.',
  ['unavailable', 'shutting_down'],
  RETRY_AFTER,
);

const receiveWebhook: OperationObject = {
  operationId: 'receiveWebhook',
  summary: 'Receive a signed vendor webhook',
  description: WEBHOOK_DESCRIPTION,
  tags: ['webhooks'],
  security: PUBLIC,
  parameters: [connectorParameter, ...webhookHeaders],
  requestBody: {
    description: 'The vendor’s delivery, read as raw bytes (signatures cover the exact bytes), at most 1 MB.',
    required: true,
    content: {
      'application/json': { schema: anyJson('Vendor JSON (Shopify, WooCommerce, Meta, QuickBooks, Xero, form).') },
      'application/x-www-form-urlencoded': {
        schema: { type: 'object', description: 'Form fields (Twilio, form, WooCommerce handshake, Mailgun).' },
      },
      'multipart/form-data': {
        schema: { type: 'object', description: 'Form fields and attachments (Mailgun, for mail with attachments).' },
      },
    },
  },
  responses: {
    '200': {
      description:
        'A vendor-specific acknowledgement or handshake answer: Twilio gets empty TwiML (`text/xml`); Xero an empty body; WooCommerce’s `webhook_id` ping `ok`; Xero’s signed intent-to-receive an empty body; Mailgun `{"received":true}` (it reads 200 as delivered).',
      content: {
        'application/json': { schema: { type: 'object' }, example: { received: true } },
        'text/xml': { schema: { type: 'string' }, example: TWIML_ACK },
        'text/plain': { schema: { type: 'string' }, example: '' },
      },
    },
    '202': {
      description: 'Stored (and queued).',
      content: json(ref('WebhookAccepted'), { received: 1, stored: 1, duplicates: 0, inbox_ids: [42] }),
    },
    '400': errorResponse(
      'The body cannot be read (with the parser’s reason: invalid JSON or UTF-8, missing topic, unreadable event time...). Nothing stored.',
      ['bad_request', 'aborted'],
    ),
    '401': {
      description:
        'Missing or invalid signature; nothing stored. Xero’s badly signed intent-to-receive gets an empty `text/plain` body.',
      content: {
        ...errorContent(['bad_signature']),
        'text/plain': { schema: { type: 'string', maxLength: 0 } },
      },
    },
    '404': errorResponse(
      'No such connector is configured (`unknown_connector`), or it does not receive webhooks (`no_webhooks`).',
      ['unknown_connector', 'no_webhooks'],
    ),
    '413': errorResponse('The body is larger than 1 MB.', ['payload_too_large']),
    '415': errorResponse('Unsupported `Content-Encoding` or charset.', ['unsupported_encoding']),
    '500': responseRef('Internal'),
    '503': webhookUnavailable,
  },
};

const unsubscribeToken: ParameterObject = {
  name: 'token',
  in: 'path',
  required: true,
  description: 'From the `List-Unsubscribe` header or the link at the end of the email.',
  schema: string,
};

const webhookHandshake: OperationObject = {
  operationId: 'webhookHandshake',
  summary: 'Answer a vendor subscription check',
  description:
    'Only Meta uses GET: `?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…` is answered with the challenge as `text/plain` when the token matches `META_VERIFY_TOKEN`, else 403. Other connectors answer 405.',
  tags: ['webhooks'],
  security: PUBLIC,
  parameters: [
    connectorParameter,
    { name: 'hub.mode', in: 'query', description: 'meta: `subscribe`.', schema: string },
    {
      name: 'hub.verify_token',
      in: 'query',
      description: 'meta: the Verify Token typed into the Meta dashboard.',
      schema: string,
    },
    { name: 'hub.challenge', in: 'query', description: 'meta: echoed back on success.', schema: string },
  ],
  responses: {
    '200': {
      description: 'The challenge, verbatim.',
      content: { 'text/plain': { schema: { type: 'string', minLength: 1 } } },
    },
    '400': { description: '`hub.challenge` is missing.', content: { 'text/plain': { schema: string } } },
    '403': {
      description: '`hub.mode` or `hub.verify_token` does not match.',
      content: { 'text/plain': { schema: string } },
    },
    '404': errorResponse('No such connector is configured, or it does not receive webhooks.', [
      'unknown_connector',
      'no_webhooks',
    ]),
    '405': errorResponse('The connector has no GET handshake: webhooks are delivered with POST.', [
      'method_not_allowed',
    ]),
    '500': responseRef('Internal'),
    '503': errorResponse('This instance is shutting down.', ['shutting_down'], RETRY_AFTER),
  },
};

export const webhooksSchemas: Record<string, JsonSchema> = {
  WebhookAccepted: record('The delivery is stored (and queued, or queued by the reconciler once Redis answers).', {
    received: {
      type: 'integer',
      minimum: 0,
      description: 'Events parsed from the delivery (a batched delivery has several; ignored items none).',
    },
    stored: { type: 'integer', minimum: 0, description: 'Events new to the inbox.' },
    duplicates: { type: 'integer', minimum: 0, description: 'Events already stored earlier: they do not run again.' },
    inbox_ids: { type: 'array', items: integer, description: 'Inbox ids of the stored events.' },
  }),
};

export const webhooksPaths: Record<string, PathItemObject> = {
  '/webhooks/{connector}': { get: webhookHandshake, post: receiveWebhook },
  '/unsubscribe/{token}': {
    get: {
      operationId: 'showUnsubscribe',
      summary: 'The unsubscribe page of an auto-reply email link',
      description:
        'Public: the HMAC-signed token (CRMFLOW_SECRET_KEY) is the credential. Changes nothing (mail scanners fetch links); its form POSTs back.',
      tags: ['messages'],
      security: PUBLIC,
      parameters: [unsubscribeToken],
      responses: {
        '200': { description: 'A confirmation form.', content: { 'text/html': { schema: string } } },
        '404': errorResponse('A forged, altered or malformed token. Nothing changed.', ['not_found']),
      },
    },
    post: {
      operationId: 'unsubscribe',
      summary: 'Revoke the email consent of the link’s address (RFC 8058 one-click)',
      description:
        'What `List-Unsubscribe-Post: List-Unsubscribe=One-Click` mail clients and the page’s form send; the body is not read. Repeating it changes nothing more.',
      tags: ['messages'],
      security: PUBLIC,
      parameters: [unsubscribeToken],
      responses: {
        '200': {
          description: 'Unsubscribed: no auto-reply email goes to the address any more.',
          content: { 'text/html': { schema: string } },
        },
        '404': errorResponse('A forged, altered or malformed token. Nothing changed.', ['not_found']),
      },
    },
  },
};
