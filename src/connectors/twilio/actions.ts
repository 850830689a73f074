import type { ActionSpec } from '../define-connector.js';
import { twilioClient, type TwilioSecrets } from './client.js';

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

export const sendSms: ActionSpec<TwilioSecrets> = {
  summary:
    'Sends an SMS (or WhatsApp message with whatsapp: numbers) through the Messages API; returns the Message SID.',
  input: {
    type: 'object',
    properties: {
      to: {
        type: 'string',
        minLength: 1,
        description: 'Recipient in E.164, e.g. +15558675310 (or whatsapp:+15558675310).',
      },
      body: {
        type: 'string',
        minLength: 1,
        maxLength: 1600,
        description: 'Message text; Twilio splits long texts into segments.',
      },
      from: {
        type: 'string',
        minLength: 1,
        description: 'Your Twilio number or sender; default the from_number secret.',
      },
    },
    required: ['to', 'body'],
    additionalProperties: false,
  },
  run: async (context, input, idempotencyKey) => {
    const to = text(input.to);
    const body = text(input.body);
    const from = text(input.from) ?? text(context.secrets.from_number);
    if (!to || !body) throw new Error('twilio send_sms: `to` and `body` are required');
    if (!from) throw new Error('twilio send_sms: give `from` or set the from_number secret (TWILIO_FROM_NUMBER)');
    const { client, accountPath, auth } = twilioClient(context);
    const response = await client.request<{ sid?: string }>(
      {
        method: 'POST',
        url: `${accountPath}/Messages.json`,
        data: new URLSearchParams({ To: to, From: from, Body: body }).toString(),
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          // The run's stable key, in the header Twilio uses for idempotency tokens. Twilio documents this header on the
          // webhooks it sends, not as de-duplication by the Messages API, so at-most-once does not rest on it: a send
          // whose outcome is unknown (timeout, reset) is not retried (`sideEffect`) but recorded as uncertain.
          'I-Twilio-Idempotency-Token': idempotencyKey,
        },
        auth,
        signal: context.signal,
      },
      { sideEffect: true },
    );
    return { providerId: response.data.sid ?? null };
  },
};
