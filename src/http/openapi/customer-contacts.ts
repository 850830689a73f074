import { REPLY_CHANNELS } from '../../operations/agent-reply.js';
import {
  apiOperation,
  bodyTooLarge,
  errorResponse,
  idParameter,
  integer,
  json,
  type JsonSchema,
  notFound,
  type PathItemObject,
  record,
  ref,
  string,
} from './common.js';

/** OpenAPI: people's own contacts with a customer (an agent's message, a call or note logged by hand). Spread into the document by src/http/openapi.ts. */
const invalid = errorResponse('Invalid input (with the reason), or the actor is not an agent and named none.', [
  'bad_request',
  'no_agent',
  'unknown_agent',
  'no_address',
]);
const forbidden = errorResponse('Only an admin (the API token) may act as another agent.', ['forbidden']);
const agentId: JsonSchema = {
  type: 'string',
  description: 'The agent who acts. The API token is no person: it must name one.',
};

export const customerContactsSchemas: Record<string, JsonSchema> = {
  AgentMessage: record('The agent’s message, recorded and on the timeline.', {
    message_id: integer,
    status: { enum: ['sent', 'uncertain'] },
    agent_id: string,
    channel: { enum: [...REPLY_CHANNELS] },
    timeline_event_id: integer,
  }),
  LoggedContact: record('The call or note on the timeline.', {
    timeline_event_id: integer,
    type: { enum: ['call.completed', 'note.added'] },
    agent_id: string,
  }),
};

export const customerContactsPaths: Record<string, PathItemObject> = {
  '/api/customers/{id}/messages': {
    post: apiOperation({
      operationId: 'sendAgentMessage',
      summary: 'An agent answers the customer on a channel',
      description:
        'Goes out through the outbound path of workflow replies (consent, Meta’s 24-hour window, recorded before it is sent, `uncertain` when the vendor may have acted), recorded as sent by the agent, and lands on the timeline as `message.sent` by them: a contact by a person (meets an SLA; starts `message.sent` workflows). The same `Idempotency-Key` header sends once. Audited.',
      tags: ['customers'],
      parameters: [
        idParameter('customer'),
        {
          name: 'Idempotency-Key',
          in: 'header',
          description: 'Retrying with the same key never sends twice.',
          schema: { type: 'string', maxLength: 200 },
        },
      ],
      requestBody: {
        description: 'The message, and the agent when the caller is the API token.',
        required: true,
        content: json(
          record(
            'A message to send.',
            {
              channel: { enum: [...REPLY_CHANNELS] },
              text: { type: 'string', maxLength: 4000 },
              subject: {
                type: 'string',
                maxLength: 200,
                description: 'Email only; default “Message from <agent name>”.',
              },
              agent_id: agentId,
            },
            ['subject', 'agent_id'],
          ),
          { channel: 'email', subject: 'Your quote', text: 'Hi, here is the quote you asked for.', agent_id: 'alice' },
        ),
      },
      responses: {
        '201': {
          description: 'Sent, or `uncertain` (the vendor may have it: check before resending).',
          content: json(ref('AgentMessage')),
        },
        '400': invalid,
        '403': forbidden,
        '404': notFound('customer'),
        '409': errorResponse(
          'Not sent, with the reason: opted out, outside Meta’s window, no address on the channel, refused by the vendor. The attempt stays recorded.',
          ['message_skipped', 'message_failed', 'conflict'],
        ),
        '413': bodyTooLarge,
      },
    }),
  },
  '/api/customers/{id}/contacts': {
    post: apiOperation({
      operationId: 'logContact',
      summary: 'Log a call or a note by hand',
      description:
        'A call is `call.completed` by the agent on the timeline (a contact by a person, like a call through Twilio); a note is `note.added`. Audited.',
      tags: ['customers'],
      parameters: [idParameter('customer')],
      requestBody: {
        description: 'What happened, and the agent when the caller is the API token.',
        required: true,
        content: json(
          record(
            'A call or note.',
            {
              kind: { enum: ['call', 'note'] },
              text: { type: 'string', maxLength: 4000 },
              occurred_at: { type: 'string', format: 'date-time', description: 'Default now; not in the future.' },
              duration_seconds: { type: 'integer', minimum: 0, maximum: 86400 },
              agent_id: agentId,
            },
            ['occurred_at', 'duration_seconds', 'agent_id'],
          ),
          { kind: 'call', text: 'Called back, wants a demo.', duration_seconds: 240, agent_id: 'bob' },
        ),
      },
      responses: {
        '201': { description: 'On the timeline.', content: json(ref('LoggedContact')) },
        '400': invalid,
        '403': forbidden,
        '404': notFound('customer'),
        '413': bodyTooLarge,
      },
    }),
  },
};
