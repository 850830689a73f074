import type { CompiledTemplate } from '../../workflows/template.js';
import { defineStep } from './define-step.js';

interface LogConfig {
  message: string;
  level?: 'debug' | 'info' | 'warn' | 'error';
}

export default defineStep<LogConfig, { message: CompiledTemplate; level: NonNullable<LogConfig['level']> }>({
  type: 'log',
  // continue: a log line is never worth failing a run.
  onError: 'continue',
  summary: 'Writes a templated line to the log and the run record.',
  schema: {
    type: 'object',
    properties: {
      message: { type: 'string', description: 'Text with {{ expression }} placeholders.' },
      level: { enum: ['debug', 'info', 'warn', 'error'], default: 'info' },
    },
    required: ['message'],
    additionalProperties: false,
  },
  examples: [{ message: 'New order {{ name }} from {{ $customer.email }}' }],
  compile: (config, context) => ({
    message: context.template('message', config.message),
    level: config.level ?? 'info',
  }),
  run: async (compiled, context) => {
    const message = await compiled.message.render(context.payload, context.bindings);
    context.logger[compiled.level]({ step: context.stepId }, message);
    return { output: { message } };
  },
});
