import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import nock from 'nock';
import meta from '../../src/connectors/meta/index.js';
import type { MetaSecrets } from '../../src/connectors/meta/webhook.js';
import { VendorAuthError } from '../../src/connectors/shared/vendor-http.js';
import { memoryConnectorContext, useNock } from '../helpers/vendor-api.js';

const GRAPH = meta.api!.defaultUrl;
const SECRETS: MetaSecrets = {
  app_secret: 'c0ffee-app-secret',
  verify_token: 'crmflow-verify-4f9a',
  access_token: 'EAAGm0PX4ZCpsBAPageToken',
  whatsapp_phone_number_id: '106540352242922',
};
const PROOF = createHmac('sha256', SECRETS.app_secret).update(SECRETS.access_token).digest('hex');
const send = meta.actions!.send_message!;

const context = (secrets: Partial<MetaSecrets> = {}) =>
  memoryConnectorContext<MetaSecrets>({ secrets: { ...SECRETS, ...secrets }, apiUrl: GRAPH }).context;

useNock();

describe('meta send_message', () => {
  it('replies on Messenger through the Send API with the Page token as bearer and messaging_type RESPONSE', async () => {
    const scope = nock(GRAPH, {
      reqheaders: { authorization: `Bearer ${SECRETS.access_token}`, 'content-type': /application\/json/ },
    })
      .post('/v21.0/me/messages', {
        recipient: { id: '6945284213287045' },
        messaging_type: 'RESPONSE',
        message: { text: 'Thanks, we will call you back today.' },
      })
      .query({ appsecret_proof: PROOF })
      .reply(200, {
        recipient_id: '6945284213287045',
        message_id: 'm_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P',
      });
    const result = await send.run(
      context(),
      { channel: 'messenger', recipient: '6945284213287045', text: 'Thanks, we will call you back today.' },
      'run-1:step-3',
    );
    expect(result).toEqual({
      providerId: 'm_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P',
    });
    expect(scope.isDone()).toBe(true);
  });

  it('accepts the scoped instagram_igsid identity value as recipient and sends the bare IGSID', async () => {
    const scope = nock(GRAPH)
      .post('/v21.0/me/messages', {
        recipient: { id: '1253948651987631' },
        messaging_type: 'RESPONSE',
        message: { text: 'Yes, size M is in stock.' },
      })
      .query(true)
      .reply(200, { recipient_id: '1253948651987631', message_id: 'aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQx' });
    const result = await send.run(
      context(),
      { channel: 'instagram', recipient: '17841405309211844:1253948651987631', text: 'Yes, size M is in stock.' },
      'k',
    );
    expect(result.providerId).toBe('aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQx');
    expect(scope.isDone()).toBe(true);
  });

  it('sends an approved WhatsApp template (the only message allowed outside the 24-hour window); refuses one on Messenger', async () => {
    const scope = nock(GRAPH)
      .post('/v21.0/106540352242922/messages', {
        messaging_product: 'whatsapp',
        recipient_type: 'individual',
        to: '16505551234',
        type: 'template',
        template: { name: 'order_update', language: { code: 'es_MX' } },
      })
      .query({ appsecret_proof: PROOF })
      .reply(200, {
        messaging_product: 'whatsapp',
        contacts: [{ input: '16505551234', wa_id: '16505551234' }],
        messages: [{ id: 'wamid.template-1', message_status: 'accepted' }],
      });
    const input = meta.channels!.whatsapp!.templateInput!(
      '+16505551234',
      { name: 'order_update', language: 'es_MX' },
      undefined,
    );
    expect(await send.run(context(), input, 'k')).toEqual({ providerId: 'wamid.template-1' });
    expect(scope.isDone()).toBe(true);
    await expect(
      send.run(
        context(),
        { channel: 'messenger', recipient: '6945284213287045', template: { name: 'order_update', language: 'en_US' } },
        'k',
      ),
    ).rejects.toThrow('meta send_message: templates are sent on whatsapp only');
  });

  it('sends a WhatsApp text from the configured phone number id and returns the wamid', async () => {
    const scope = nock(GRAPH, { reqheaders: { authorization: `Bearer ${SECRETS.access_token}` } })
      .post('/v21.0/106540352242922/messages', {
        messaging_product: 'whatsapp',
        recipient_type: 'individual',
        to: '+16505551234',
        type: 'text',
        text: { body: 'It also comes in green and navy.' },
      })
      .query({ appsecret_proof: PROOF })
      .reply(200, {
        messaging_product: 'whatsapp',
        contacts: [{ input: '+16505551234', wa_id: '16505551234' }],
        messages: [{ id: 'wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA' }],
      });
    const result = await send.run(
      context(),
      { channel: 'whatsapp', recipient: '+16505551234', text: 'It also comes in green and navy.' },
      'k',
    );
    expect(result).toEqual({ providerId: 'wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA' });
    expect(scope.isDone()).toBe(true);
  });

  it('sends from the phone_number_id given in the input (the number the customer wrote to)', async () => {
    const scope = nock(GRAPH)
      .post('/v21.0/200000000000001/messages')
      .query(true)
      .reply(200, { messages: [{ id: 'wamid.Z' }] });
    const result = await send.run(
      context({ whatsapp_phone_number_id: '' }),
      { channel: 'whatsapp', recipient: '16505551234', text: 'Hi', phone_number_id: '200000000000001' },
      'k',
    );
    expect(result.providerId).toBe('wamid.Z');
    expect(scope.isDone()).toBe(true);
  });

  it('waits out a 429 Retry-After and sends the message once', async () => {
    const scope = nock(GRAPH)
      .post('/v21.0/me/messages')
      .query(true)
      .reply(
        429,
        { error: { message: 'Calls to this api have exceeded the rate limit.', code: 613 } },
        { 'Retry-After': '0' },
      )
      .post('/v21.0/me/messages')
      .query(true)
      .reply(200, { recipient_id: '6945284213287045', message_id: 'm_after_429' });
    const result = await send.run(
      context(),
      { channel: 'messenger', recipient: '6945284213287045', text: 'Hello again' },
      'k',
    );
    expect(result.providerId).toBe('m_after_429');
    expect(scope.isDone()).toBe(true);
  });

  it('fails at once with VendorAuthError when Meta rejects the token', async () => {
    const scope = nock(GRAPH)
      .post('/v21.0/me/messages')
      .query(true)
      .once()
      .reply(401, {
        error: { message: 'Error validating access token: Session has expired', type: 'OAuthException', code: 190 },
      });
    await expect(send.run(context(), { channel: 'messenger', recipient: '1', text: 'x' }, 'k')).rejects.toBeInstanceOf(
      VendorAuthError,
    );
    expect(scope.isDone()).toBe(true);
  });

  it('refuses without a token, a WhatsApp sender number or a known channel, before calling Meta', async () => {
    await expect(
      send.run(context({ access_token: '' }), { channel: 'messenger', recipient: '1', text: 'x' }, 'k'),
    ).rejects.toThrow(/access_token/);
    await expect(
      send.run(context({ whatsapp_phone_number_id: '' }), { channel: 'whatsapp', recipient: '1', text: 'x' }, 'k'),
    ).rejects.toThrow(/phone_number_id/);
    await expect(send.run(context(), { channel: 'sms', recipient: '1', text: 'x' }, 'k')).rejects.toThrow(
      /channel must be one of/,
    );
  });
});
