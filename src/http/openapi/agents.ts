import {
  apiOperation,
  badRequest,
  bodyTooLarge,
  integer,
  json,
  type JsonSchema,
  notFound,
  type PathItemObject,
  record,
  ref,
  string,
} from './common.js';

/** OpenAPI: Agents and their availability. Spread into the document by src/http/openapi.ts. */
export const agentsSchemas: Record<string, JsonSchema> = {
  Agent: record(
    'An agent as declared in workflows.yaml, with the run-time availability and open leads (lifecycle lead or opportunity).',
    {
      id: string,
      name: string,
      email: string,
      phone: string,
      time_zone: string,
      working_hours: record('Outside these hours the agent gets no new leads.', {
        days: { type: 'array', items: string },
        from: string,
        to: string,
      }),
      capacity: integer,
      languages: { type: 'array', items: string },
      skills: { type: 'array', items: string },
      available: { type: 'boolean' },
      open_leads: integer,
    },
    ['email', 'phone', 'time_zone', 'working_hours', 'capacity', 'languages', 'skills'],
  ),
  AgentList: record('Every declared agent.', { agents: { type: 'array', items: ref('Agent') } }),
  AgentAvailability: record('The availability now in force.', { agent_id: string, available: { type: 'boolean' } }),
};

export const agentsPaths: Record<string, PathItemObject> = {
  '/api/agents': {
    get: apiOperation({
      operationId: 'listAgents',
      summary: 'Agents with availability and open leads',
      tags: ['agents'],
      responses: { '200': { description: 'Every agent declared in workflows.yaml.', content: json(ref('AgentList')) } },
    }),
  },
  '/api/agents/{id}/availability': {
    put: apiOperation({
      operationId: 'setAgentAvailability',
      summary: 'Switch an agent on or off for new leads, without a restart',
      tags: ['agents'],
      parameters: [{ name: 'id', in: 'path', required: true, description: 'The agent id.', schema: string }],
      requestBody: {
        description: 'Whether the agent takes new leads.',
        required: true,
        content: json(record('The new availability.', { available: { type: 'boolean' } })),
      },
      responses: {
        '200': { description: 'Saved; assignments from now on follow it.', content: json(ref('AgentAvailability')) },
        '400': badRequest,
        '404': notFound('agent'),
        '413': bodyTooLarge,
      },
    }),
  },
};
