import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseQuery } from 'node:querystring';
import { BadRequestError, type WebhookRequest } from '../../src/connectors/define-connector.js';
import meta from '../../src/connectors/meta/index.js';
import { fixtureBytes } from '../helpers/sign.js';
import { webhookRequest } from '../helpers/vendor-api.js';
import type { MetaMessage } from '../../src/connectors/meta/webhook.js';

const fixture = (file: string) => fixtureBytes('meta', file);
const connectorSample = (file: string) =>
  readFileSync(new URL(`../../src/connectors/meta/samples/${file}`, import.meta.url));

const SECRETS = {
  app_secret: 'c0ffee-app-secret',
  verify_token: 'crmflow-verify-4f9a',
  access_token: '',
  whatsapp_phone_number_id: '',
};
const PAGE_ID = '104578132315417';
const PSID = '6945284213287045';

const webhook = meta.webhook!;

function sign(body: Buffer | string, secret = SECRETS.app_secret): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

function post(
  body: Buffer | string,
  headers: Record<string, string | undefined> = { 'x-hub-signature-256': sign(body) },
): WebhookRequest {
  return webhookRequest('meta', body, { 'content-type': 'application/json', ...headers });
}

/** A GET as the HTTP layer hands it over: Express 5 parses the query string with node:querystring. */
function get(search: string): WebhookRequest {
  return {
    method: 'GET',
    headers: {},
    query: parseQuery(search) as Record<string, string | undefined>,
    rawBody: Buffer.alloc(0),
    publicUrl: `https://crm.example.com/webhooks/meta?${search}`,
  };
}

/** Meta documents the Messenger `messaging[]` event, not the POST around it: wrap it in the documented envelope. */
function messengerDelivery(): Buffer {
  const event = fixture('messenger_text_message_event.json')
    .toString('utf8')
    .replaceAll('<PSID>', PSID)
    .replaceAll('<PAGE_ID>', PAGE_ID);
  return Buffer.from(`{"object":"page","entry":[{"id":"${PAGE_ID}","time":1458692752600,"messaging":[${event}]}]}`);
}

const payloads = (request: WebhookRequest) =>
  webhook.parse(request, SECRETS).map((event) => event.payload as MetaMessage);

describe('meta webhook signature (X-Hub-Signature-256)', () => {
  it.each([
    ['whatsapp', fixture('whatsapp_text_message.json')],
    ['messenger', messengerDelivery()],
    ['instagram', connectorSample('instagram_text_message.json')],
  ])('accepts the %s sample signed with the App Secret over the raw bytes', (_, body) => {
    expect(webhook.verify!(post(body), SECRETS)).toBe(true);
  });

  it('rejects a wrong secret, a tampered body, a missing header and a legacy sha1 header', () => {
    const body = fixture('whatsapp_text_message.json');
    expect(webhook.verify!(post(body, { 'x-hub-signature-256': sign(body, 'another-secret') }), SECRETS)).toBe(false);
    const tampered = Buffer.from(body.toString('utf8').replace('Does it come', 'Does it cone'));
    expect(webhook.verify!(post(tampered, { 'x-hub-signature-256': sign(body) }), SECRETS)).toBe(false);
    expect(webhook.verify!(post(body, {}), SECRETS)).toBe(false);
    const sha1 = `sha1=${createHmac('sha1', SECRETS.app_secret).update(body).digest('hex')}`;
    expect(webhook.verify!(post(body, { 'x-hub-signature': sha1 }), SECRETS)).toBe(false);
    expect(webhook.verify!(post(body, { 'x-hub-signature-256': sign(body).slice('sha256='.length) }), SECRETS)).toBe(
      false,
    );
  });

  it('accepts the previous secret while the App Secret is rotated', () => {
    const body = fixture('whatsapp_text_message.json');
    const rotating = { ...SECRETS, app_secret: `new-secret, ${SECRETS.app_secret}` };
    expect(webhook.verify!(post(body), rotating)).toBe(true);
    expect(webhook.verify!(post(body, { 'x-hub-signature-256': sign(body, 'new-secret') }), rotating)).toBe(true);
  });
});

describe('meta GET verification handshake', () => {
  it('echoes hub.challenge as text/plain when hub.mode is subscribe and the verify token matches', () => {
    const answer = webhook.handshake!(
      get(`hub.mode=subscribe&hub.verify_token=${SECRETS.verify_token}&hub.challenge=1158201444`),
      SECRETS,
    );
    expect(answer).toEqual({ status: 200, contentType: 'text/plain', body: '1158201444' });
  });

  it.each([
    ['a wrong token', 'hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1158201444'],
    ['no token', 'hub.mode=subscribe&hub.challenge=1158201444'],
    ['another mode', `hub.mode=unsubscribe&hub.verify_token=${SECRETS.verify_token}&hub.challenge=1158201444`],
    [
      'a repeated token',
      `hub.mode=subscribe&hub.verify_token=${SECRETS.verify_token}&hub.verify_token=x&hub.challenge=1`,
    ],
    ['no query at all', ''],
  ])('refuses %s with 403', (_, search) => {
    expect(webhook.handshake!(get(search), SECRETS)).toMatchObject({ status: 403 });
  });

  it('refuses every GET when no verify token is configured', () => {
    const answer = webhook.handshake!(get('hub.mode=subscribe&hub.verify_token=&hub.challenge=1'), {
      ...SECRETS,
      verify_token: '',
    });
    expect(answer).toMatchObject({ status: 403 });
  });

  it('leaves POST deliveries to verify and parse', () => {
    expect(webhook.handshake!(post(fixture('whatsapp_text_message.json')), SECRETS)).toBeUndefined();
  });
});

describe('meta deliveries → message.received events', () => {
  it('turns the WhatsApp sample into one event keyed by the wamid, with the contact name and the time Meta gives', () => {
    const events = webhook.parse(post(fixture('whatsapp_text_message.json')), SECRETS);
    expect(events).toEqual([
      {
        type: 'message.received',
        externalId: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=',
        occurredAt: '2025-06-08T20:59:43.000Z',
        payload: expect.objectContaining({
          channel: 'whatsapp',
          account_id: '106540352242922',
          sender_id: '16505551234',
          contact_name: 'Sheena Nelson',
          type: 'text',
          text: 'Does it come in another color?',
          whatsapp: expect.objectContaining({
            business_account_id: '102290129340398',
            display_phone_number: '15550783881',
          }),
        }),
      },
    ]);
  });

  it('turns the Messenger sample into one event keyed by the mid', () => {
    const [event, ...rest] = webhook.parse(post(messengerDelivery()), SECRETS);
    expect(rest).toEqual([]);
    expect(event).toMatchObject({
      type: 'message.received',
      externalId: 'mid.1457764197618:41d102a3e1ae206a38',
      occurredAt: '2016-03-23T00:25:52.478Z',
    });
    expect(event!.payload).toMatchObject({
      channel: 'messenger',
      account_id: PAGE_ID,
      sender_id: PSID,
      contact_name: null,
      text: 'hello, world!',
    });
    expect((event!.payload as MetaMessage).message).toMatchObject({
      quick_reply: { payload: '<DEVELOPER_DEFINED_PAYLOAD>' },
    });
  });

  it('turns the Instagram sample into one event for the Instagram account', () => {
    expect(payloads(post(connectorSample('instagram_text_message.json')))).toEqual([
      expect.objectContaining({
        channel: 'instagram',
        account_id: '17841405309211844',
        sender_id: '1253948651987631',
        type: 'text',
      }),
    ]);
  });

  it('splits a batched Messenger delivery into one event per customer message, skipping echoes and receipts', () => {
    const otherPage = '231967480027633';
    const body = JSON.stringify({
      object: 'page',
      entry: [
        {
          id: PAGE_ID,
          time: 1749416400000,
          messaging: [
            {
              sender: { id: PSID },
              recipient: { id: PAGE_ID },
              timestamp: 1749416399000,
              message: { mid: 'm_first', text: 'Hello' },
            },
            {
              sender: { id: PSID },
              recipient: { id: PAGE_ID },
              timestamp: 1749416399500,
              message: {
                mid: 'm_photo',
                attachments: [{ type: 'image', payload: { url: 'https://scontent.example/p.jpg' } }],
              },
            },
            {
              sender: { id: PAGE_ID },
              recipient: { id: PSID },
              timestamp: 1749416399600,
              message: { mid: 'm_echo', is_echo: true, app_id: 1517776481860111, text: 'Hi!' },
            },
            {
              sender: { id: PSID },
              recipient: { id: PAGE_ID },
              delivery: { mids: ['m_echo'], watermark: 1749416399700 },
            },
            {
              sender: { id: PSID },
              recipient: { id: PAGE_ID },
              timestamp: 1749416399800,
              read: { watermark: 1749416399700 },
            },
            {
              sender: { id: PSID },
              recipient: { id: PAGE_ID },
              timestamp: 1749416399900,
              postback: { title: 'Start', payload: 'GET_STARTED' },
            },
          ],
        },
        {
          id: otherPage,
          time: 1749416400100,
          messaging: [
            {
              sender: { id: '7012' },
              recipient: { id: otherPage },
              timestamp: 1749416400050,
              message: { mid: 'm_other', text: 'Hey' },
            },
          ],
        },
        {
          id: otherPage,
          time: 1749416400200,
          standby: [
            {
              sender: { id: '7013' },
              recipient: { id: otherPage },
              timestamp: 1749416400150,
              message: { mid: 'm_standby', text: 'Anyone?' },
            },
          ],
        },
      ],
    });
    const events = webhook.parse(post(body), SECRETS);
    expect(events.map((event) => event.externalId)).toEqual(['m_first', 'm_photo', 'm_other', 'm_standby']);
    expect(events.map((event) => (event.payload as MetaMessage).account_id)).toEqual([
      PAGE_ID,
      PAGE_ID,
      otherPage,
      otherPage,
    ]);
    expect(events[1]!.payload as MetaMessage).toMatchObject({ type: 'image', text: null });
    // A redelivery of the same bytes yields the same ids, which the inbox de-duplicates on.
    expect(webhook.parse(post(body), SECRETS)).toEqual(events);
  });

  it('skips Instagram echoes and unsend notices, which reuse message ids', () => {
    const body = JSON.stringify({
      object: 'instagram',
      entry: [
        {
          id: '17841405309211844',
          time: 1749416400000,
          messaging: [
            {
              sender: { id: '17841405309211844' },
              recipient: { id: '1253948651987631' },
              timestamp: 1749416399000,
              message: { mid: 'ig_echo', text: 'Yes!', is_echo: true },
            },
            {
              sender: { id: '1253948651987631' },
              recipient: { id: '17841405309211844' },
              timestamp: 1749416399100,
              message: { mid: 'ig_1', is_deleted: true },
            },
            {
              sender: { id: '1253948651987631' },
              recipient: { id: '17841405309211844' },
              timestamp: 1749416399200,
              message: { mid: 'ig_2', is_unsupported: true },
            },
          ],
        },
      ],
    });
    expect(payloads(post(body)).map((payload) => [payload.message_id, payload.type])).toEqual([
      ['ig_2', 'unsupported'],
    ]);
  });

  it('splits a batched WhatsApp delivery per message, matching each to its contact, and ignores statuses', () => {
    const metadata = { display_phone_number: '15550783881', phone_number_id: '106540352242922' };
    const body = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: '102290129340398',
          changes: [
            {
              field: 'messages',
              value: {
                messaging_product: 'whatsapp',
                metadata,
                contacts: [
                  { profile: { name: 'Sheena Nelson' }, wa_id: '16505551234' },
                  { profile: { name: 'Luis Ortega' }, wa_id: '5215512345678' },
                ],
                messages: [
                  {
                    from: '5215512345678',
                    id: 'wamid.A',
                    timestamp: '1749416390',
                    type: 'image',
                    image: { caption: 'Esta talla', mime_type: 'image/jpeg', id: '1003383421387256' },
                  },
                  {
                    from: '16505551234',
                    id: 'wamid.B',
                    timestamp: '1749416391',
                    type: 'interactive',
                    interactive: { type: 'button_reply', button_reply: { id: 'yes', title: 'Yes please' } },
                  },
                  {
                    from: '16505551234',
                    id: 'wamid.C',
                    timestamp: '1749416392',
                    type: 'system',
                    system: { body: 'User changed number', type: 'user_changed_number' },
                  },
                ],
              },
            },
            {
              field: 'messages',
              value: {
                messaging_product: 'whatsapp',
                metadata,
                statuses: [
                  { id: 'wamid.OUT', status: 'delivered', timestamp: '1749416393', recipient_id: '16505551234' },
                ],
              },
            },
          ],
        },
      ],
    });
    const events = webhook.parse(post(body), SECRETS);
    expect(events.map((event) => [event.externalId, event.occurredAt])).toEqual([
      ['wamid.A', '2025-06-08T20:59:50.000Z'],
      ['wamid.B', '2025-06-08T20:59:51.000Z'],
    ]);
    expect(
      events
        .map((event) => event.payload as MetaMessage)
        .map((payload) => [payload.contact_name, payload.type, payload.text]),
    ).toEqual([
      ['Luis Ortega', 'image', 'Esta talla'],
      ['Sheena Nelson', 'interactive', 'Yes please'],
    ]);
  });

  it('acknowledges objects the connector does not handle with no events', () => {
    expect(
      webhook.parse(
        post(JSON.stringify({ object: 'permissions', entry: [{ id: '1', time: 1, changes: [{ field: 'email' }] }] })),
        SECRETS,
      ),
    ).toEqual([]);
  });

  it.each([
    ['a non-Meta body', '{"hello":"world"}'],
    ['invalid JSON', '{"object":'],
    [
      'a message without an id',
      JSON.stringify({
        object: 'page',
        entry: [{ id: PAGE_ID, messaging: [{ sender: { id: PSID }, timestamp: 1, message: { text: 'x' } }] }],
      }),
    ],
    [
      'a message without a time',
      JSON.stringify({
        object: 'whatsapp_business_account',
        entry: [
          {
            id: '1',
            changes: [
              {
                field: 'messages',
                value: { metadata: { phone_number_id: '2' }, messages: [{ id: 'wamid.X', from: '1' }] },
              },
            ],
          },
        ],
      }),
    ],
  ])('answers 400 for %s', (_, body) => {
    expect(() => webhook.parse(post(body), SECRETS)).toThrow(BadRequestError);
  });
});
