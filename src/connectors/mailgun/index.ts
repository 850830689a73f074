import { defineConnector } from '../define-connector.js';
import type { EmailPayload } from '../shared/email-message.js';
import { readBeside, readJsonBeside } from '../shared/files.js';
import { mailgunVerifier, parseMailgun } from './webhook.js';

/**
 * Mail routed through Mailgun: an inbound route whose action is `forward("https://<crmflow>/webhooks/mailgun")`.
 * Mailgun posts each email parsed (urlencoded, or multipart with attachments); the events are those of the `email`
 * connector, so workflows and mappings treat both alike.
 */
export default defineConnector({
  id: 'mailgun',
  family: 'email',
  summary: 'Inbound email through Mailgun routes (signed HTTP posts), on the sender’s timeline.',
  secrets: {
    signing_key: {
      description: 'Mailgun’s HTTP webhook signing key (Sending → Webhooks); comma-separate new,old while rotating.',
      env: {
        name: 'MAILGUN_WEBHOOK_SIGNING_KEY',
        demo: 'demo-mailgun-signing-key',
        description: 'Mailgun HTTP webhook signing key: signs inbound-route posts to `/webhooks/mailgun`.',
      },
    },
    own_addresses: { description: 'Our own addresses, comma-separated, never answered automatically.', optional: true },
  },
  webhook: {
    // Mailgun reads 200 as delivered and 406 as rejected; anything else is retried for 8 hours.
    acknowledge: { status: 200, contentType: 'application/json', body: '{"received":true}' },
    signature: {
      name: 'signature',
      in: 'body',
      description:
        'hex HMAC-SHA256 of the `timestamp` and `token` form fields with the signing key; stale timestamps and replayed tokens are refused.',
    },
    verify: mailgunVerifier(),
    parse: parseMailgun,
  },
  events: {
    'message.received': {
      summary:
        'An email arrived through a Mailgun route; `stripped-text` (the reply without its quoted part) is its text. Auto-replies, bounces and list mail are never answered automatically.',
      mapping: readBeside(import.meta.url, '../shared/email-message.jsonata'),
      sample: readJsonBeside(import.meta.url, 'samples/inbound_reply.json'),
    },
  },
  channelOf: (event) => (event.type === 'message.received' ? 'email' : undefined),
  inboundMessage: (event) => {
    if (event.type !== 'message.received') return undefined;
    const email = event.payload as EmailPayload;
    return {
      channel: 'email',
      address: email.from?.address ?? '',
      text: email.text,
      automated: email.automated ?? undefined,
    };
  },
});
