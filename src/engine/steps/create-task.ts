import { DURATION_SCHEMA, parseDuration } from '../../workflows/duration.js';
import type { CompiledTemplate } from '../../workflows/template.js';
import { defineStep } from './define-step.js';

interface CreateTaskConfig {
  title: string;
  notes?: string;
  due_in: string | number;
  overdue_after?: string | number;
  agent?: string;
}

interface CompiledCreateTask {
  title: CompiledTemplate;
  notes?: CompiledTemplate;
  dueInMs: number;
  overdueAfterMs: number;
  agent?: string;
}

export default defineStep<CreateTaskConfig, CompiledCreateTask>({
  type: 'create_task',
  // stop: a database error heals on retry; the task is created once.
  onError: 'stop',
  summary:
    "Creates a follow-up task (once per run, even when retried) for the customer's owner or a given agent, due `due_in` from now. At the due time the engine event task.due fires, and task.overdue `overdue_after` later if the task is still open; workflows can start `on:` either. Tasks are listed and completed through /api/tasks.",
  schema: {
    type: 'object',
    properties: {
      title: { type: 'string', description: 'Template, e.g. `Call back {{ $customer.phone }}`.' },
      notes: { type: 'string', description: 'Template with details for the agent.' },
      due_in: { ...DURATION_SCHEMA, description: 'When the task is due, from now, e.g. 2h.' },
      overdue_after: {
        ...DURATION_SCHEMA,
        description: 'How long after the due time an open task is overdue (default 1h).',
      },
      agent: { type: 'string', description: 'An agent id; default the customer’s owner ($owner).' },
    },
    required: ['title', 'due_in'],
    additionalProperties: false,
  },
  examples: [
    { title: 'Call back {{ $customer.phone }}', due_in: '2h' },
    {
      title: 'Send the quote to {{ $customer.name }}',
      notes: '{{ $record.attributes.company }}',
      due_in: '1d',
      overdue_after: '4h',
      agent: 'ann',
    },
  ],
  compile: (config, context) => {
    if (config.agent !== undefined && !context.agents.has(config.agent)) {
      return context.fail(
        `unknown agent "${config.agent}"; declared agents: ${[...context.agents.keys()].join(', ') || '(none)'}`,
        'agent',
      );
    }
    return {
      title: context.template('title', config.title),
      notes: config.notes === undefined ? undefined : context.template('notes', config.notes),
      dueInMs: parseDuration(config.due_in)!,
      overdueAfterMs: parseDuration(config.overdue_after ?? '1h')!,
      agent: config.agent,
    };
  },
  run: async (compiled, context) => {
    const dueAt = new Date(Date.now() + compiled.dueInMs);
    const task = await context.services.createTask({
      idempotencyKey: context.idempotencyKey,
      customerId: context.state.customer?.id ?? null,
      runId: context.runId,
      agentId: compiled.agent ?? context.state.owner?.id ?? context.state.customer?.owner_agent_id ?? null,
      title: await compiled.title.render(context.payload, context.bindings),
      notes: compiled.notes ? await compiled.notes.render(context.payload, context.bindings) : null,
      dueAt,
      overdueAt: new Date(dueAt.getTime() + compiled.overdueAfterMs),
    });
    return { output: { task_id: task.taskId, created: task.created, agent_id: task.agentId, due_at: task.dueAt } };
  },
});
