import { MESSAGE_STATUSES } from '../../operations/messages.js';
import {
  apiOperation,
  badRequest,
  beforeParameter,
  bodyTooLarge,
  customerIdParameter,
  dateTime,
  errorResponse,
  idParameter,
  integer,
  json,
  type JsonSchema,
  limitParameter,
  notFound,
  nullableDateTime,
  nullableInteger,
  nullableString,
  type PathItemObject,
  record,
  ref,
  string,
} from './common.js';

/** OpenAPI: Outbound messages and resend. Spread into the document by src/http/openapi.ts. */
const message = record('An outbound message, recorded before it is sent.', {
  id: integer,
  idempotency_key: { type: 'string', description: 'Derived from the run and step: a message is never sent twice.' },
  customer_id: nullableInteger,
  run_id: nullableInteger,
  channel: string,
  transport: {
    type: 'string',
    description:
      'What carried it: `smtp`, a connector (`twilio`, `meta`), or `outbox` in demo mode (kept here, not delivered).',
  },
  recipient: string,
  subject: nullableString,
  body: string,
  status: { enum: MESSAGE_STATUSES },
  status_reason: nullableString,
  provider_id: {
    ...nullableString,
    description: 'The id the transport gave the message (SMTP Message-ID, vendor message id).',
  },
  attempts: integer,
  created_at: dateTime,
  sent_at: nullableDateTime,
  agent_id: {
    ...nullableString,
    description: 'The agent who sent it from crmflow; null: automated (a workflow’s reply).',
  },
  email_message_id: {
    ...nullableString,
    description:
      'The Message-ID header of an email, stored before sending: replies that name it join the conversation.',
  },
});

export const messagesSchemas: Record<string, JsonSchema> = {
  ResendResult: record(
    'What the resend did.',
    {
      message_id: integer,
      status: { enum: ['sent', 'failed', 'uncertain'] },
      reason: { type: 'string', description: 'Why it failed or is uncertain again.' },
    },
    ['reason'],
  ),
  Message: message,
  MessageList: record('Outbound messages, newest first.', { messages: { type: 'array', items: ref('Message') } }),
};

export const messagesPaths: Record<string, PathItemObject> = {
  '/api/messages': {
    get: apiOperation({
      operationId: 'listMessages',
      summary: 'Outbound messages, newest first (in demo mode: the local outbox)',
      description:
        '`status=uncertain` lists the messages whose delivery is unknown (a vendor timeout or reset after sending): they are never resent automatically.',
      tags: ['messages'],
      parameters: [
        {
          name: 'status',
          in: 'query',
          description: 'Only messages with this status.',
          schema: { enum: MESSAGE_STATUSES },
        },
        customerIdParameter('messages'),
        beforeParameter('messages'),
        limitParameter(50, 500),
      ],
      responses: {
        '200': { description: 'A page of messages.', content: json(ref('MessageList')) },
        '400': badRequest,
      },
    }),
  },
  '/api/messages/{id}/resend': {
    post: apiOperation({
      operationId: 'resendMessage',
      summary: 'Send an uncertain message again, once a person has checked it did not arrive',
      description:
        'Takes no request body. Sends the recorded text to the recorded recipient through the same transport and answers with the outcome. Audited before sending.',
      tags: ['messages'],
      parameters: [idParameter('message')],
      responses: {
        '200': { description: 'The outcome of the resend.', content: json(ref('ResendResult')) },
        '400': badRequest,
        '404': notFound('message'),
        '409': errorResponse(
          'The message is not uncertain (sent, failed, skipped, or resent by someone else meanwhile).',
          ['not_uncertain'],
        ),
        '413': bodyTooLarge,
      },
    }),
  },
};
