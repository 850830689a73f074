import { describe, expect, it } from 'vitest';
import { readableError } from '../src/dashboard/readable-error.js';

describe('readable errors for support staff', () => {
  it('says what went wrong without request lines, vendor URLs or JSON bodies', () => {
    const cases: Array<[string, string]> = [
      [
        'step sms_to_caller (reply): sms reply failed: POST /2010-04-01/Accounts/AC0123/Messages.json: getaddrinfo ENOTFOUND api.twilio.com after 4 attempts',
        "step sms_to_caller (reply): sms reply failed: could not reach api.twilio.com (its name does not resolve): check the network and the connector's API URL (tried 4 times)",
      ],
      [
        'step reply (reply): whatsapp reply failed: POST /v21.0/1065/messages: 400 {"error":{"message":"(#131030) Recipient phone number not in allowed list","type":"OAuthException"}}',
        'step reply (reply): whatsapp reply failed: the request was refused (400): (#131030) Recipient phone number not in allowed list',
      ],
      [
        'step sms (reply): sms reply failed: POST /2010-04-01/Accounts/AC0123/Messages.json: 400 {"code":21610,"message":"Attempt to send to unsubscribed recipient, see https://www.twilio.com/docs/errors/21610"}',
        'step sms (reply): sms reply failed: the request was refused (400): Attempt to send to unsubscribed recipient, see www.twilio.com',
      ],
      [
        "step sms (reply): sms reply failed: POST /x: 401 — check the connector's credentials",
        "step sms (reply): sms reply failed: the credentials were refused (401): check the connector's secrets",
      ],
      [
        'step reply (reply): email to a@b.example failed: connect ECONNREFUSED 127.0.0.1:25',
        'step reply (reply): email to a@b.example failed: 127.0.0.1:25 refused the connection: is it running, and is the URL right?',
      ],
      [
        'step notify (http): POST https://hooks.example.com/T0/B1?token=zzz answered 503',
        'step notify (http): the other side had a server error (503)',
      ],
      ['event chain limit: 3 chained events (limit 2)', 'event chain limit: 3 chained events (limit 2)'],
    ];
    for (const [raw, readable] of cases) expect(readableError(raw)).toBe(readable);
  });
});
