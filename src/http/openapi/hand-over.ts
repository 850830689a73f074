import type { JsonSchema, PathItemObject } from '../openapi.js';

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: JsonSchema) => ({ 'application/json': { schema } });
const error = (description: string, codes: string[]) => ({
  description,
  content: json({ $ref: '#/components/schemas/Error', properties: { error: { properties: { code: { enum: codes } } } } }),
});
const common = { '401': { $ref: '#/components/responses/Unauthorized' }, '500': { $ref: '#/components/responses/Internal' } };

export const handOverPaths: Record<string, PathItemObject> = {
  '/api/agents/former': {
    get: {
      operationId: 'listFormerAgents',
      summary: 'Agents removed from workflows.yaml who still own customers or open tasks',
      tags: ['agents'],
      security: [{ apiToken: [] }],
      responses: { '200': { description: 'Owners to hand over (empty when there are none).', content: json(ref('FormerAgentList')) }, ...common },
    },
  },
  '/api/agents/{id}/hand-over': {
    post: {
      operationId: 'handOverAgent',
      summary: "Move an agent's customers, open tasks and pending SLAs to another agent or a pool, in one transaction (audited)",
      tags: ['agents'],
      security: [{ apiToken: [] }],
      parameters: [{ name: 'id', in: 'path', required: true, description: 'The agent handed over: declared, or a former agent who still owns customers.', schema: { type: 'string' } }],
      requestBody: {
        description: 'Exactly one of `to_agent` and `to_pool`. A pool deals the customers in turn among its members who can take leads.',
        required: true,
        content: json({ type: 'object', properties: { to_agent: { type: 'string' }, to_pool: { type: 'string' } }, additionalProperties: false }),
      },
      responses: {
        '200': { description: 'Handed over; repeating it moves nothing more.', content: json(ref('HandOver')) },
        '400': error('Neither or both of `to_agent` and `to_pool`, or an agent handed to themselves.', ['bad_request']),
        '404': error('No such agent or pool.', ['not_found']),
        '409': error('Nobody in the target can take customers now (switched off).', ['no_agent']),
        '413': error('The request body of an authenticated call is larger than the 100 kB API limit.', ['payload_too_large']),
        ...common,
      },
    },
  },
};

const count = (description: string): JsonSchema => ({ type: 'integer', minimum: 0, description });

export const handOverSchemas: Record<string, JsonSchema> = {
  HandOver: {
    type: 'object',
    description: 'What a hand-over moved.',
    properties: {
      from: { type: 'string' },
      to: { type: 'array', items: { type: 'string' }, description: 'The agents who took the customers.' },
      customers: count('Customers now owned by `to` (every stage).'),
      tasks: count('Open tasks moved (each to its customer’s new owner).'),
      slas: count('Pending SLAs carried over to the new owners, with their due times.'),
    },
    required: ['from', 'to', 'customers', 'tasks', 'slas'],
    additionalProperties: false,
  },
  FormerAgentList: {
    type: 'object',
    description: 'Owners that are no longer declared agents.',
    properties: {
      agents: {
        type: 'array',
        items: {
          type: 'object',
          properties: { agent_id: { type: 'string' }, customers: count('Customers they own.'), open_tasks: count('Open tasks assigned to them.') },
          required: ['agent_id', 'customers', 'open_tasks'],
          additionalProperties: false,
        },
      },
    },
    required: ['agents'],
    additionalProperties: false,
  },
};
