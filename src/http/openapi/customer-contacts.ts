import type { JsonSchema, PathItemObject, ResponseObject } from '../openapi.js';
import { REPLY_CHANNELS } from '../../operations/agent-reply.js';

const schema = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const error = (description: string, codes: string[]): ResponseObject => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error', properties: { error: { properties: { code: { enum: codes } } } } } } },
});
const common = {
  '400': error('Invalid input (with the reason), or the actor is not an agent and named none.', [
    'bad_request',
    'invalid',
    'no_agent',
    'unknown_agent',
    'no_address',
  ]),
  '401': { $ref: '#/components/responses/Unauthorized' },
  '403': error('Only an admin (the API token) may act as another agent.', ['forbidden']),
  '404': error('No such customer.', ['not_found']),
  '500': { $ref: '#/components/responses/Internal' },
};
const idParameter = { name: 'id', in: 'path' as const, required: true, description: 'The customer id.', schema: { type: 'integer', minimum: 0 } };
const agentId = { type: 'string', description: 'The agent who acts. The API token is no person: it must name one.' };

export const customerContactsPaths: Record<string, PathItemObject> = {
  '/api/customers/{id}/messages': {
    post: {
      operationId: 'sendAgentMessage',
      summary: 'An agent answers the customer on a channel',
      description:
        'Goes out through the outbound path of workflow replies (consent, Meta’s 24-hour window, recorded before it is sent, `uncertain` when the vendor may have acted), recorded as sent by the agent, and lands on the timeline as `message.sent` by them: a contact by a person (meets an SLA; starts `message.sent` workflows). The same `Idempotency-Key` header sends once. Audited.',
      tags: ['customers'],
      security: [{ apiToken: [] }],
      parameters: [
        idParameter,
        { name: 'Idempotency-Key', in: 'header', description: 'Retrying with the same key never sends twice.', schema: { type: 'string', maxLength: 200 } },
      ],
      requestBody: {
        description: 'The message, and the agent when the caller is the API token.',
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              properties: {
                channel: { enum: [...REPLY_CHANNELS] },
                text: { type: 'string', maxLength: 4000 },
                subject: { type: 'string', description: 'Email only; default “Message from <agent name>”.' },
                agent_id: agentId,
              },
              required: ['channel', 'text'],
              additionalProperties: false,
            },
          },
        },
      },
      responses: {
        '201': {
          description: 'Sent, or `uncertain` (the vendor may have it: check before resending).',
          content: { 'application/json': { schema: schema('AgentMessage') } },
        },
        ...common,
        '409': error(
          'Not sent, with the reason: opted out, outside Meta’s window, no address on the channel, refused by the vendor. The attempt stays recorded.',
          ['message_skipped', 'message_failed'],
        ),
      },
    },
  },
  '/api/customers/{id}/contacts': {
    post: {
      operationId: 'logContact',
      summary: 'Log a call or a note by hand',
      description:
        'A call is `call.completed` by the agent on the timeline (a contact by a person, like a call through Twilio); a note is `note.added`. Audited.',
      tags: ['customers'],
      security: [{ apiToken: [] }],
      parameters: [idParameter],
      requestBody: {
        description: 'What happened, and the agent when the caller is the API token.',
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              properties: {
                kind: { enum: ['call', 'note'] },
                text: { type: 'string', maxLength: 4000 },
                occurred_at: { type: 'string', format: 'date-time', description: 'Default now; not in the future.' },
                duration_seconds: { type: 'integer', minimum: 0, maximum: 86400 },
                agent_id: agentId,
              },
              required: ['kind', 'text'],
              additionalProperties: false,
            },
          },
        },
      },
      responses: { '201': { description: 'On the timeline.', content: { 'application/json': { schema: schema('LoggedContact') } } }, ...common },
    },
  },
};

export const customerContactsSchemas: Record<string, JsonSchema> = {
  AgentMessage: {
    type: 'object',
    properties: {
      message_id: { type: 'integer' },
      status: { enum: ['sent', 'uncertain'] },
      agent_id: { type: 'string' },
      channel: { enum: [...REPLY_CHANNELS] },
      timeline_event_id: { type: 'integer' },
    },
    required: ['message_id', 'status', 'agent_id', 'channel', 'timeline_event_id'],
    additionalProperties: false,
  },
  LoggedContact: {
    type: 'object',
    properties: { timeline_event_id: { type: 'integer' }, type: { enum: ['call.completed', 'note.added'] }, agent_id: { type: 'string' } },
    required: ['timeline_event_id', 'type', 'agent_id'],
    additionalProperties: false,
  },
};
