import { TASK_STATUSES } from '../../operations/tasks.js';
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

/** OpenAPI: Follow-up tasks. Spread into the document by src/http/openapi.ts. */
const taskProperties: Record<string, JsonSchema> = {
  id: integer,
  agent_id: {
    ...nullableString,
    description: 'The agent it is for (the owner when the task was created, unless the step named one).',
  },
  title: string,
  notes: nullableString,
  status: { enum: TASK_STATUSES },
  due_at: { ...dateTime, description: 'task.due fires at this time.' },
  overdue_at: { ...dateTime, description: 'task.overdue fires at this time if the task is still open.' },
  created_at: dateTime,
  completed_at: nullableDateTime,
};

export const customerTask = record(
  'A follow-up task for the customer (create_task), newest first (at most 100).',
  taskProperties,
);

const task = record('A follow-up task made by a create_task step.', {
  ...taskProperties,
  customer_id: nullableInteger,
  run_id: { ...nullableInteger, description: 'The run that created it.' },
  completed_by: { ...nullableString, description: 'Who completed it (`api-token` through this API).' },
});

export const tasksSchemas: Record<string, JsonSchema> = {
  Task: task,
  TaskList: record('Tasks, newest first.', {
    tasks: { type: 'array', items: ref('Task') },
    next_before: {
      ...nullableInteger,
      description: 'Pass as `before` for the next page; null when this page is empty.',
    },
  }),
};

export const tasksPaths: Record<string, PathItemObject> = {
  '/api/tasks': {
    get: apiOperation({
      operationId: 'listTasks',
      summary: 'Follow-up tasks, newest first, keyset-paginated',
      tags: ['tasks'],
      parameters: [
        { name: 'agent_id', in: 'query', description: 'Only the tasks of this agent.', schema: string },
        {
          name: 'status',
          in: 'query',
          description: 'A task status (other values match nothing).',
          schema: { enum: TASK_STATUSES },
        },
        customerIdParameter('tasks'),
        beforeParameter('tasks'),
        limitParameter(50, 500),
      ],
      responses: { '200': { description: 'A page of tasks.', content: json(ref('TaskList')) }, '400': badRequest },
    }),
  },
  '/api/tasks/{id}/complete': {
    post: apiOperation({
      operationId: 'completeTask',
      summary: 'Mark an open task done',
      description: 'Takes no request body. Audited. A done task fires no task.due or task.overdue any more.',
      tags: ['tasks'],
      parameters: [idParameter('task')],
      responses: {
        '200': { description: 'The task, now done.', content: json(ref('Task')) },
        '400': badRequest,
        '404': notFound('task'),
        '409': errorResponse('The task is not open (done or cancelled).', ['not_open']),
        '413': bodyTooLarge,
      },
    }),
  },
};
