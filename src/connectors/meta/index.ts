import { defineConnector } from '../define-connector.js';
import { readBeside, readJsonBeside } from '../shared/files.js';
import { checkToken, sendMessage } from './actions.js';
import { handshake, parse, parseDelivery, verify, type MetaMessage } from './webhook.js';

/** Outside 24 hours after the customer's last message, Meta accepts only approved templates (WhatsApp) or tagged messages. */
const CUSTOMER_SERVICE_WINDOW = { hours: 24, rule: "Meta's 24-hour window" };

/**
 * Meta's messaging channels on one webhook URL: Messenger (`object: "page"`), Instagram (`"instagram"`) and the
 * WhatsApp Cloud API (`"whatsapp_business_account"`), all deliveries of the same Meta app signed with its App Secret.
 */
export default defineConnector({
  id: 'meta',
  family: 'social',
  summary:
    'Messenger, Instagram and WhatsApp Cloud API messages via one signed Meta app webhook; replies through the Graph API.',
  secrets: {
    app_secret: {
      description:
        "The Meta app's App Secret (signs every webhook); list the new one first, then the previous one, comma-separated, while rotating.",
      env: {
        name: 'META_APP_SECRET',
        demo: 'demo-meta-app-secret',
        description:
          'App Secret of your Meta app; signs Messenger, Instagram and WhatsApp webhooks (`X-Hub-Signature-256`).',
      },
    },
    verify_token: {
      description: 'Any string you choose and also type into the Meta dashboard as the webhook Verify Token.',
      env: {
        name: 'META_VERIFY_TOKEN',
        demo: 'demo-meta-verify-token',
        description: 'Any string, also typed into the Meta dashboard as the webhook Verify Token.',
      },
    },
    access_token: {
      description: 'Page access token or WhatsApp system-user token, for send_message.',
      optional: true,
      env: {
        name: 'META_ACCESS_TOKEN',
        demo: 'demo-meta-access-token',
        description: 'Page access token or WhatsApp system-user token for replies through the Graph API.',
      },
    },
    whatsapp_phone_number_id: {
      description: 'WhatsApp business phone number id send_message sends from by default.',
      optional: true,
    },
  },
  webhook: {
    signature: {
      name: 'X-Hub-Signature-256',
      description: '`sha256=<hex HMAC-SHA256 of the body>` with the App Secret.',
    },
    handshake,
    verify,
    parse,
  },
  events: {
    'message.received': {
      summary:
        'A customer sent a message on Messenger, Instagram or WhatsApp (one event per message; echoes and receipts are skipped).',
      mapping: readBeside(import.meta.url, 'mappings/message.jsonata'),
      // The stored payload of Meta's documented WhatsApp text message, derived by the parser itself.
      sample: parseDelivery(readJsonBeside(import.meta.url, 'samples/whatsapp_text_message.json'))[0]!.payload,
    },
  },
  api: { defaultUrl: 'https://graph.facebook.com', env: 'META_GRAPH_URL', envDescription: 'Meta Graph API base URL.' },
  actions: { send_message: sendMessage },
  check: checkToken,
  channels: {
    messenger: {
      identity: 'messenger_psid',
      action: 'send_message',
      input: (recipient, text) => ({ channel: 'messenger', recipient, text }),
      replyWindow: CUSTOMER_SERVICE_WINDOW,
    },
    instagram: {
      identity: 'instagram_igsid',
      action: 'send_message',
      input: (recipient, text) => ({ channel: 'instagram', recipient, text }),
      replyWindow: CUSTOMER_SERVICE_WINDOW,
    },
    whatsapp: {
      identity: 'phone',
      action: 'send_message',
      input: (recipient, text, trigger) => ({
        channel: 'whatsapp',
        recipient: recipient.replace(/^\+/, ''),
        text,
        ...answeringNumber(trigger),
      }),
      replyWindow: CUSTOMER_SERVICE_WINDOW,
      templateInput: (recipient, template, trigger) => ({
        channel: 'whatsapp',
        recipient: recipient.replace(/^\+/, ''),
        template,
        ...answeringNumber(trigger),
      }),
    },
  },
  channelOf: (event) => (event.payload as Partial<MetaMessage> | undefined)?.channel,
  inboundMessage: (event) => {
    const message = event.payload as Partial<MetaMessage> | undefined;
    if (event.type !== 'message.received' || !message?.channel || !message.sender_id) return undefined;
    // The same values the mapping gives the customer's identities: `+<wa_id>`, `<account id>:<scoped id>`.
    const address =
      message.channel === 'whatsapp' ? `+${message.sender_id}` : `${message.account_id}:${message.sender_id}`;
    return { channel: message.channel, address, text: message.text ?? null };
  },
});

/** Answer from the business number the customer wrote to, when the reply answers a WhatsApp message. */
function answeringNumber(trigger: { payload: unknown } | undefined): { phone_number_id?: string } {
  const inbound = trigger?.payload as Partial<MetaMessage> | undefined;
  return inbound?.channel === 'whatsapp' && inbound.account_id ? { phone_number_id: inbound.account_id } : {};
}
