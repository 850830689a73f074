import { steps as stepRegistry } from '../../engine/steps/registry.js';
import { triggers as triggerRegistry } from '../../engine/triggers/registry.js';
import { triggerFieldsSchema } from '../../workflows/schema.js';
import {
  apiOperation,
  badRequest,
  bodyTooLarge,
  errorResponse,
  json,
  type JsonSchema,
  notFound,
  type PathItemObject,
  record,
  ref,
  string,
} from './common.js';

/** OpenAPI: The loaded workflows and poll. Spread into the document by src/http/openapi.ts. */
const workflow = record('A loaded workflow.', {
  id: string,
  name: { type: 'string', description: 'The `name:` in workflows.yaml, else the id.' },
  enabled: { type: 'boolean' },
  version: { type: 'string', description: 'Hash of the definition; runs record it as `workflow_version`.' },
  trigger: {
    oneOf: [...triggerRegistry.values()].map(triggerFieldsSchema),
    description: 'The trigger as written in workflows.yaml.',
  },
  steps: { type: 'array', items: record('A step.', { id: string, type: { enum: [...stepRegistry.keys()] } }) },
});

export const workflowsSchemas: Record<string, JsonSchema> = {
  Workflow: workflow,
  WorkflowList: record('The workflows loaded from workflows.yaml.', {
    workflows: { type: 'array', items: ref('Workflow') },
  }),
  PollQueued: record('A pull is queued (a no-op if one is already running for the same resource).', {
    workflow: string,
    job_id: { type: 'string', description: 'BullMQ job id.' },
    status: { const: 'queued' },
  }),
};

export const workflowsPaths: Record<string, PathItemObject> = {
  '/api/workflows': {
    get: apiOperation({
      operationId: 'listWorkflows',
      summary: 'The loaded workflows',
      tags: ['workflows'],
      responses: {
        '200': {
          description: 'Every workflow in workflows.yaml, disabled ones included.',
          content: json(ref('WorkflowList')),
        },
      },
    }),
  },
  '/api/workflows/{id}/poll': {
    post: apiOperation({
      operationId: 'pollWorkflow',
      summary: 'Run a poll workflow’s pull now',
      description: 'Takes no request body. A disabled workflow’s pull is queued but does nothing.',
      tags: ['workflows'],
      parameters: [{ name: 'id', in: 'path', required: true, description: 'The workflow id.', schema: string }],
      responses: {
        '202': { description: 'Queued.', content: json(ref('PollQueued')) },
        '400': badRequest,
        '404': notFound('workflow'),
        '409': errorResponse('The workflow is not started by a poll trigger, or it is disabled.', [
          'not_a_poll',
          'disabled',
        ]),
        '413': bodyTooLarge,
      },
    }),
  },
};
