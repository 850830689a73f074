import {
  apiOperation,
  bodyTooLarge,
  errorResponse,
  json,
  type JsonSchema,
  type PathItemObject,
  record,
  ref,
  string,
} from './common.js';

/** OpenAPI: hand-overs of an agent's book and the former agents who still own customers. Spread into the document by src/http/openapi.ts. */
export const handOverPaths: Record<string, PathItemObject> = {
  '/api/agents/former': {
    get: apiOperation({
      operationId: 'listFormerAgents',
      summary: 'Agents removed from workflows.yaml who still own customers or open tasks',
      tags: ['agents'],
      responses: {
        '200': {
          description: 'Owners to hand over (empty when there are none).',
          content: json(ref('FormerAgentList')),
        },
      },
    }),
  },
  '/api/agents/{id}/hand-over': {
    post: apiOperation({
      operationId: 'handOverAgent',
      summary:
        "Move an agent's customers, open tasks, pending SLAs, open deals and cases to another agent or a pool, in one transaction (audited)",
      tags: ['agents'],
      parameters: [
        {
          name: 'id',
          in: 'path',
          required: true,
          description: 'The agent handed over: declared, or a former agent who still owns customers.',
          schema: string,
        },
      ],
      requestBody: {
        description:
          'Exactly one of `to_agent` and `to_pool`. A pool deals the customers in turn among its members who can take leads.',
        required: true,
        content: json({
          type: 'object',
          properties: { to_agent: string, to_pool: string },
          additionalProperties: false,
        }),
      },
      responses: {
        '200': { description: 'Handed over; repeating it moves nothing more.', content: json(ref('HandOver')) },
        '400': errorResponse('Neither or both of `to_agent` and `to_pool`, or an agent handed to themselves.', [
          'bad_request',
        ]),
        '404': errorResponse('No such agent or pool.', ['not_found']),
        '409': errorResponse('Nobody in the target can take customers now (switched off).', ['no_agent']),
        '413': bodyTooLarge,
      },
    }),
  },
};

const count = (description: string): JsonSchema => ({ type: 'integer', minimum: 0, description });

export const handOverSchemas: Record<string, JsonSchema> = {
  HandOver: record('What a hand-over moved.', {
    from: string,
    to: { type: 'array', items: string, description: 'The agents who took the customers.' },
    customers: count('Customers now owned by `to` (every stage).'),
    tasks: count('Open tasks moved (each to its customer’s new owner).'),
    slas: count('Pending SLAs carried over to the new owners, with their due times.'),
    deals: count('Open deals moved (each to its customer’s new owner).'),
    cases: count('Open or waiting cases moved (each to its customer’s new owner).'),
  }),
  FormerAgentList: record('Owners that are no longer declared agents.', {
    agents: {
      type: 'array',
      items: record('A former agent and what they still own.', {
        agent_id: string,
        customers: count('Customers they own.'),
        open_tasks: count('Open tasks assigned to them.'),
      }),
    },
  }),
};
