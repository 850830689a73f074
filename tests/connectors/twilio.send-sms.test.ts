import nock from 'nock';
import { describe, expect, it } from 'vitest';
import { VendorAuthError } from '../../src/connectors/shared/vendor-http.js';
import twilio from '../../src/connectors/twilio/index.js';
import { basicAuth, memoryConnectorContext, useNock } from '../helpers/vendor-api.js';

const API = 'https://api.twilio.com';
const SID = 'ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
const MESSAGES = `/2010-04-01/Accounts/${SID}/Messages.json`;

const context = (fromNumber = '+15558675310') =>
  memoryConnectorContext({
    secrets: { account_sid: SID, auth_token: 'new-token,old-token', from_number: fromNumber },
    apiUrl: API,
  }).context;

const sendSms = twilio.actions!.send_sms!;

useNock();

describe('twilio send_sms', () => {
  it('posts the form Twilio expects with basic auth and the idempotency token, and returns the Message SID', async () => {
    let body = '';
    nock(API, {
      reqheaders: {
        authorization: basicAuth(SID, 'new-token'),
        'content-type': 'application/x-www-form-urlencoded',
        'i-twilio-idempotency-token': 'run-42:step-3',
      },
    })
      .post(MESSAGES)
      .reply(201, (_uri, raw) => {
        body = String(raw);
        return {
          sid: 'SMffffffffffffffffffffffffffffffff',
          status: 'queued',
          to: '+15017122661',
          from: '+15558675310',
          body: 'Your order shipped & is on its way',
        };
      });

    const result = await sendSms.run(
      context(),
      { to: '+15017122661', body: 'Your order shipped & is on its way' },
      'run-42:step-3',
    );
    expect(result).toEqual({ providerId: 'SMffffffffffffffffffffffffffffffff' });
    expect(body).toBe('To=%2B15017122661&From=%2B15558675310&Body=Your+order+shipped+%26+is+on+its+way');
  });

  it('uses the input sender over the from_number secret', async () => {
    nock(API)
      .post(MESSAGES, { To: 'whatsapp:+15017122661', From: 'whatsapp:+14155238886', Body: 'Hi' })
      .reply(201, { sid: 'SM1' });
    expect(
      await sendSms.run(context(), { to: 'whatsapp:+15017122661', from: 'whatsapp:+14155238886', body: 'Hi' }, 'k1'),
    ).toEqual({ providerId: 'SM1' });
  });

  it('needs a sender and reports rejected credentials as VendorAuthError', async () => {
    await expect(sendSms.run(context(''), { to: '+15017122661', body: 'Hi' }, 'k2')).rejects.toThrow(
      /TWILIO_FROM_NUMBER/,
    );
    nock(API).post(MESSAGES).reply(401, { code: 20003, message: 'Authenticate' });
    await expect(sendSms.run(context(), { to: '+15017122661', body: 'Hi' }, 'k3')).rejects.toBeInstanceOf(
      VendorAuthError,
    );
  });
});
