import type { ActionSpec, ConnectorContext, ReplyTemplate } from '../define-connector.js';
import { hmacSha256 } from '../shared/hmac.js';
import { contextClient } from '../shared/vendor-http.js';
import type { MetaChannel, MetaSecrets } from './webhook.js';

/** The Graph API version crmflow is written and tested against. */
export const GRAPH_VERSION = 'v21.0';

const CHANNELS: readonly MetaChannel[] = ['messenger', 'instagram', 'whatsapp'];

/** Input of `send_message`. */
export interface SendMessageInput {
  channel: MetaChannel;
  /** PSID / IGSID, or the scoped identity value `<account id>:<id>`; for WhatsApp the number or `wa_id`. */
  recipient: string;
  /** Free-form text, allowed within 24 hours of the customer's last message. */
  text?: string;
  /** WhatsApp only: an approved message template, the only thing Meta delivers outside the 24-hour window. */
  template?: ReplyTemplate;
  /** WhatsApp only: the number to send from; default the `whatsapp_phone_number_id` secret. */
  phone_number_id?: string;
}

/**
 * Sends a text on Messenger, Instagram or WhatsApp. Meta accepts free-form text only inside the 24-hour window after
 * the customer's last message (outside it Messenger needs a message tag and WhatsApp a template), hence
 * `messaging_type: RESPONSE`.
 *
 * Meta's Send API has no idempotency key, so `idempotencyKey` cannot be passed on: at-most-once rests on the engine
 * recording the send before it is made, and on sends with an unknown outcome not being retried (`sideEffect`).
 */
export const sendMessage: ActionSpec<MetaSecrets> = {
  summary:
    'Sends a text message to a customer on Messenger, Instagram or WhatsApp (within 24 hours of their last message), or an approved WhatsApp template (at any time).',
  input: {
    type: 'object',
    properties: {
      channel: {
        enum: CHANNELS,
        description: 'Where to send: the channel the customer wrote on (`channel` of message.received).',
      },
      recipient: {
        type: 'string',
        minLength: 1,
        description:
          'Messenger PSID / Instagram IGSID (or the identity value "<account id>:<id>"), or the WhatsApp number / wa_id.',
      },
      text: {
        type: 'string',
        minLength: 1,
        description: 'The message (Messenger and Instagram allow 2000 characters, WhatsApp 4096).',
      },
      template: {
        type: 'object',
        description:
          'WhatsApp only, instead of text: an approved template, e.g. {"name": "hello_world", "language": "en_US"}.',
        properties: { name: { type: 'string', minLength: 1 }, language: { type: 'string', minLength: 1 } },
        required: ['name', 'language'],
        additionalProperties: false,
      },
      phone_number_id: {
        type: 'string',
        minLength: 1,
        description: 'WhatsApp only: the business number id to send from; default the whatsapp_phone_number_id secret.',
      },
    },
    required: ['channel', 'recipient'],
    oneOf: [{ required: ['text'] }, { required: ['template'] }],
    additionalProperties: false,
  },
  run: async (context, input) => {
    const message = readInput(input);
    const token = context.secrets.access_token;
    if (!token) throw new Error('meta send_message needs the access_token secret (a Page or system-user token)');
    const client = contextClient(context, { headers: { authorization: `Bearer ${token}` } });
    const params = appSecretProof(context, token);
    if (message.channel === 'whatsapp') {
      const phoneNumberId = message.phone_number_id ?? context.secrets.whatsapp_phone_number_id;
      if (!phoneNumberId)
        throw new Error('meta send_message on whatsapp needs phone_number_id or the whatsapp_phone_number_id secret');
      const response = await client.request<{ messages?: Array<{ id?: string }> }>(
        {
          method: 'POST',
          url: `/${GRAPH_VERSION}/${encodeURIComponent(phoneNumberId)}/messages`,
          params,
          data: {
            messaging_product: 'whatsapp',
            recipient_type: 'individual',
            to: message.recipient,
            ...(message.template
              ? {
                  type: 'template',
                  template: { name: message.template.name, language: { code: message.template.language } },
                }
              : { type: 'text', text: { body: message.text } }),
          },
          signal: context.signal,
        },
        { sideEffect: true },
      );
      return { providerId: response.data.messages?.[0]?.id ?? null };
    }
    // `me` is the Page (or Instagram account) the token belongs to: a Page token speaks for one Page only.
    const response = await client.request<{ message_id?: string }>(
      {
        method: 'POST',
        url: `/${GRAPH_VERSION}/me/messages`,
        params,
        data: {
          recipient: { id: scopedId(message.recipient) },
          messaging_type: 'RESPONSE',
          message: { text: message.text },
        },
        signal: context.signal,
      },
      { sideEffect: true },
    );
    return { providerId: response.data.message_id ?? null };
  },
};

function readInput(input: Record<string, unknown>): SendMessageInput {
  const { channel, recipient, text, template, phone_number_id: phoneNumberId } = input;
  if (!CHANNELS.includes(channel as MetaChannel))
    throw new Error(`meta send_message: channel must be one of ${CHANNELS.join(', ')}`);
  if (typeof recipient !== 'string' || recipient.trim() === '')
    throw new Error('meta send_message: recipient is required');
  if (phoneNumberId !== undefined && typeof phoneNumberId !== 'string')
    throw new Error('meta send_message: phone_number_id must be a string');
  const base = {
    channel: channel as MetaChannel,
    recipient: recipient.trim(),
    ...(phoneNumberId ? { phone_number_id: phoneNumberId } : {}),
  };
  if (template !== undefined) {
    const { name, language } = template as Partial<ReplyTemplate>;
    if (channel !== 'whatsapp') throw new Error('meta send_message: templates are sent on whatsapp only');
    if (typeof name !== 'string' || typeof language !== 'string' || !name || !language)
      throw new Error('meta send_message: template needs name and language');
    return { ...base, template: { name, language } };
  }
  if (typeof text !== 'string' || text === '') throw new Error('meta send_message: text is required');
  return { ...base, text };
}

/** A PSID / IGSID from either the bare id or crmflow's scoped identity value `<account id>:<id>`. */
function scopedId(recipient: string): string {
  return recipient.slice(recipient.lastIndexOf(':') + 1);
}

/**
 * `appsecret_proof` (HMAC-SHA256 of the token keyed with the app secret), which Meta requires when the app enables
 * "Require App Secret" and accepts otherwise. During a rotation the first listed secret is the current one.
 */
function appSecretProof(context: ConnectorContext<MetaSecrets>, token: string): Record<string, string> {
  const secret = context.secrets.app_secret?.split(',')[0]?.trim();
  return secret ? { appsecret_proof: hmacSha256(secret, token, 'hex') } : {};
}

/** Reads who the access token speaks for (`crmflow doctor`). */
export async function checkToken(context: ConnectorContext<MetaSecrets>): Promise<string> {
  const token = context.secrets.access_token;
  if (!token) return 'webhooks only (no access_token for replies)';
  const client = contextClient(context, { headers: { authorization: `Bearer ${token}` } });
  const { data } = await client.request<{ id?: string; name?: string }>({
    url: `/${GRAPH_VERSION}/me`,
    params: { fields: 'id,name', ...appSecretProof(context, token) },
    signal: context.signal,
  });
  return `token of "${data.name ?? data.id ?? '?'}"`;
}
