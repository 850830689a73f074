import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BadRequestError, type WebhookRequest } from '../../src/connectors/define-connector.js';
import twilio from '../../src/connectors/twilio/index.js';
import { twilioSignature, urlVariants } from '../../src/connectors/twilio/signature.js';
import { fixtureJson, webhookRequest } from '../helpers/vendor-api.js';

const TOKEN = 'twilio-test-token';
const SECRETS = { account_sid: 'ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', auth_token: TOKEN, from_number: '' };
const PUBLIC_URL = 'https://crm.example.com/webhooks/twilio';

type Params = Record<string, string>;
const fixture = (file: string): Params => fixtureJson('twilio', file);
const SMS = fixture('incoming_sms.json');
const RINGING = fixture('incoming_voice_call_ringing.json');
const COMPLETED = twilio.events['call.completed']!.sample as Params;
const MISSED = twilio.events['call.missed']!.sample as Params;

/** Twilio's scheme, written out independently: URL, then name+value of every parameter sorted by name. */
function sign(url: string, params: Params, token = TOKEN): string {
  const data =
    url +
    Object.keys(params)
      .sort()
      .map((name) => name + params[name])
      .join('');
  return createHmac('sha1', token).update(data).digest('base64');
}

function request(params: Params, signature: string | undefined, publicUrl = PUBLIC_URL): WebhookRequest {
  const headers = {
    'content-type': 'application/x-www-form-urlencoded',
    'user-agent': 'TwilioProxy/1.1',
    'x-twilio-signature': signature,
  };
  return webhookRequest('twilio', new URLSearchParams(params).toString(), headers, { publicUrl });
}

/** What the HTTP layer does: verify (401), then parse. */
function deliver(req: WebhookRequest, secrets = SECRETS) {
  if (!twilio.webhook!.verify!(req, secrets)) return { status: 401, events: [] };
  return { status: 202, events: twilio.webhook!.parse(req, secrets) };
}

describe('twilio signature', () => {
  const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
  const params = new URLSearchParams({
    CallSid: 'CA1234567890ABCDE',
    Caller: '+14158675309',
    Digits: '1234',
    From: '+14158675309',
    To: '+18005551212',
  });

  it("reproduces the vectors of Twilio's own request-validator tests", () => {
    expect(twilioSignature('12345', url, params)).toBe('RSOYDt4T1cUTdK1PDd93/VVr8B8=');
    const repeated = new URLSearchParams([
      ['Sid', 'CA123'],
      ['SidAccount', 'AC123'],
      ['Digits', '5678'],
      ['Digits', '1234'],
      ['Digits', '1234'],
    ]);
    expect(twilioSignature('12345', url, repeated)).toBe('IK+Dwps556ElfBT0I3Rgjkr1wJU=');
  });

  it('accepts the URL with or without the default port, as Twilio helpers do', () => {
    expect(urlVariants('https://mycompany.com:1234/myapp.php?foo=1')).toEqual([
      'https://mycompany.com:1234/myapp.php?foo=1',
      'https://mycompany.com/myapp.php?foo=1',
      'https://mycompany.com:443/myapp.php?foo=1',
    ]);
    const body = Object.fromEntries(params) as Params;
    // 'kvajT1Ptam85bY51eRf/AJRuM3w=' is Twilio's vector for the same request signed with an explicit :443.
    expect(
      deliver(request(body, 'kvajT1Ptam85bY51eRf/AJRuM3w=', url), { ...SECRETS, auth_token: '12345' }).status,
    ).toBe(202);
  });

  it('accepts the shared SMS sample signed over the public URL', () => {
    expect(deliver(request(SMS, sign(PUBLIC_URL, SMS))).status).toBe(202);
  });

  it('rejects a signature over the internal URL, a wrong token, a tampered parameter and a missing header', () => {
    expect(deliver(request(SMS, sign('http://127.0.0.1:3000/webhooks/twilio', SMS))).status).toBe(401);
    expect(deliver(request(SMS, sign(PUBLIC_URL, SMS, 'another-token'))).status).toBe(401);
    expect(deliver(request({ ...SMS, Body: 'Send me a refund' }, sign(PUBLIC_URL, SMS))).status).toBe(401);
    expect(deliver(request({ ...SMS, Extra: 'x' }, sign(PUBLIC_URL, SMS))).status).toBe(401);
    expect(deliver(request(SMS, undefined)).status).toBe(401);
  });

  it('accepts the previous auth token while it is rotated', () => {
    expect(
      deliver(request(SMS, sign(PUBLIC_URL, SMS, 'old-token')), { ...SECRETS, auth_token: `${TOKEN},old-token` })
        .status,
    ).toBe(202);
  });
});

describe('twilio webhook events', () => {
  it('turns an incoming SMS into message.received keyed by MessageSid, keeping every parameter', () => {
    const { events } = deliver(request(SMS, sign(PUBLIC_URL, SMS)));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'message.received',
      externalId: 'SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
      payload: SMS,
    });
    expect(Date.parse(events[0]!.occurredAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('still delivers STOP as message.received (the mapping marks the opt-out)', () => {
    const stop = { ...SMS, Body: 'STOP', MessageSid: 'SMdddddddddddddddddddddddddddddddd' };
    expect(deliver(request(stop, sign(PUBLIC_URL, stop))).events.map((event) => event.type)).toEqual([
      'message.received',
    ]);
  });

  it('stores nothing for a ringing voice request, but only once its signature is checked', () => {
    expect(deliver(request(RINGING, sign(PUBLIC_URL, RINGING)))).toEqual({ status: 202, events: [] });
    expect(deliver(request(RINGING, 'bm9wZQ==')).status).toBe(401);
  });

  it('turns a completed status callback into call.completed at its Timestamp', () => {
    const { events } = deliver(request(COMPLETED, sign(PUBLIC_URL, COMPLETED)));
    expect(events).toEqual([
      {
        type: 'call.completed',
        externalId: 'CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:completed',
        occurredAt: '2023-01-10T18:24:32.000Z',
        payload: COMPLETED,
      },
    ]);
  });

  it.each(['no-answer', 'busy', 'failed', 'canceled'])('turns a %s status callback into call.missed', (status) => {
    const params = { ...MISSED, CallStatus: status };
    const { events } = deliver(request(params, sign(PUBLIC_URL, params)));
    expect(events.map((event) => [event.type, event.externalId])).toEqual([
      ['call.missed', `CAcccccccccccccccccccccccccccccccc:${status}`],
    ]);
  });

  it('keeps the id across redeliveries and falls back to the receipt time without Timestamp', () => {
    const again = deliver(request(COMPLETED, sign(PUBLIC_URL, COMPLETED))).events[0]!;
    expect(again.externalId).toBe('CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:completed');
    const untimed: Params = { ...COMPLETED };
    delete untimed.Timestamp;
    const before = Date.now();
    const event = deliver(request(untimed, sign(PUBLIC_URL, untimed))).events[0]!;
    expect(Date.parse(event.occurredAt)).toBeGreaterThanOrEqual(before - 1000);
  });

  it('ignores outbound message status callbacks and rejects bodies that are neither calls nor messages', () => {
    const status = {
      MessageSid: 'SMeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee',
      MessageStatus: 'delivered',
      SmsStatus: 'delivered',
      AccountSid: SECRETS.account_sid,
    };
    expect(deliver(request(status, sign(PUBLIC_URL, status))).events).toEqual([]);
    const other = { Foo: 'bar' };
    expect(() => deliver(request(other, sign(PUBLIC_URL, other)))).toThrow(BadRequestError);
  });
});
