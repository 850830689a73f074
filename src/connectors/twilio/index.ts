import { defineConnector } from '../define-connector.js';
import { parseFormBody } from '../shared/body.js';
import { readBeside, readJsonBeside } from '../shared/files.js';
import { sendSms } from './actions.js';
import { checkAccount } from './client.js';
import { eventsFromParams } from './events.js';
import { listCalls } from './pull.js';
import { verifyTwilioSignature } from './signature.js';

const callMapping = readBeside(import.meta.url, 'mappings/call.jsonata');

/**
 * Twilio voice status callbacks and incoming messages. Point the number's (or the API call's) StatusCallback and the
 * messaging webhook at `/webhooks/twilio`; not the voice URL, which must answer with TwiML.
 */
export default defineConnector({
  id: 'twilio',
  family: 'telephony',
  summary:
    'Twilio calls (completed and missed, from status callbacks) and incoming SMS/WhatsApp; send SMS; pull call logs.',
  secrets: {
    account_sid: {
      description: 'The Account SID (AC...): API user name and the account the webhooks belong to.',
      env: {
        name: 'TWILIO_ACCOUNT_SID',
        demo: 'ACdemo00000000000000000000000000000',
        description: 'Twilio Account SID (AC...).',
      },
    },
    auth_token: {
      description:
        "The account's auth token: signs webhooks and authenticates API calls; comma-separate new,old while rotating.",
      env: {
        name: 'TWILIO_AUTH_TOKEN',
        demo: 'demo-twilio-token',
        description:
          'Twilio auth token: signs webhooks (`X-Twilio-Signature`, over `CRMFLOW_PUBLIC_URL`) and authenticates API calls.',
      },
    },
    from_number: {
      description: 'Default sender for send_sms (E.164 Twilio number, or whatsapp:+...).',
      optional: true,
      env: {
        name: 'TWILIO_FROM_NUMBER',
        demo: '+15005550006',
        description: 'Your Twilio number that SMS replies are sent from (E.164).',
      },
    },
  },
  webhook: {
    // Twilio reads the answer to an incoming message as TwiML: an empty <Response/> sends nothing back.
    acknowledge: { status: 200, contentType: 'text/xml', body: '<?xml version="1.0" encoding="UTF-8"?><Response/>' },
    signature: {
      name: 'X-Twilio-Signature',
      description: 'base64 HMAC-SHA1 over the *public* URL (`CRMFLOW_PUBLIC_URL`) and the sorted POST parameters.',
    },
    verify: (request, secrets) => verifyTwilioSignature(request, secrets.auth_token),
    parse: (request) => eventsFromParams(parseFormBody(request.rawBody), new Date().toISOString()),
  },
  events: {
    'call.completed': {
      summary: 'A call ended after being answered; the payload has CallDuration in seconds.',
      mapping: callMapping,
      sample: readJsonBeside(import.meta.url, 'samples/call_completed.json'),
    },
    'call.missed': {
      summary: 'A call ended unanswered: busy, no-answer, failed or canceled.',
      mapping: callMapping,
      sample: readJsonBeside(import.meta.url, 'samples/call_missed.json'),
    },
    'message.received': {
      summary:
        'An SMS, MMS or WhatsApp message came in; opt-out keywords (STOP...) set attributes.opt_out and revoke the number’s consent for the channel (START grants it again).',
      mapping: readBeside(import.meta.url, 'mappings/message.jsonata'),
      sample: readJsonBeside(import.meta.url, 'samples/incoming_sms.json'),
    },
  },
  // Twilio allows about 100 concurrent REST requests per account.
  api: {
    defaultUrl: 'https://api.twilio.com',
    env: 'TWILIO_API_URL',
    envDescription: 'Twilio REST API base URL.',
    rateLimit: { requests: 100, perSeconds: 1 },
  },
  pull: {
    calls: {
      summary: 'Finished calls from the call log (StartTime>= the last day seen), as call.completed / call.missed.',
      list: listCalls,
    },
  },
  actions: { send_sms: sendSms },
  check: checkAccount,
  channels: {
    sms: { identity: 'phone', action: 'send_sms', input: (to, body) => ({ to, body }), refuses: smsRefusal },
  },
  channelOf: (event) =>
    event.type === 'message.received' &&
    !String((event.payload as { From?: string }).From ?? '').startsWith('whatsapp:')
      ? 'sms'
      : undefined,
  inboundMessage: (event) => {
    if (event.type !== 'message.received') return undefined;
    const {
      From: from = '',
      Body: body = null,
      OptOutType: optOutType,
    } = event.payload as { From?: string; Body?: string; OptOutType?: string };
    const whatsapp = from.startsWith('whatsapp:');
    // With Advanced Opt-Out, Twilio names the keyword class (STOP, START, HELP) even for custom keywords.
    return {
      channel: whatsapp ? 'whatsapp' : 'sms',
      address: whatsapp ? from.slice('whatsapp:'.length) : from,
      text: optOutType || body,
    };
  },
});

/** Twilio's sender rules: a Messages API call needs a From number, and refuses bodies over 1600 characters. */
function smsRefusal(input: Record<string, unknown>, secrets: Record<string, string>): string | undefined {
  if (!input.from && !secrets.from_number) return 'no sender: set the twilio from_number secret (TWILIO_FROM_NUMBER)';
  const length = String(input.body ?? '').length;
  return length > 1600 ? `the SMS body has ${length} characters; Twilio refuses more than 1600` : undefined;
}
