import type { CompiledExpression } from '../../workflows/expression.js';
import type { CompiledTemplate } from '../../workflows/template.js';
import { defineStep, StepError } from './define-step.js';

interface HttpConfig {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  body?: string;
}

interface CompiledHttp {
  method: NonNullable<HttpConfig['method']>;
  url: CompiledTemplate;
  headers: Array<[string, CompiledTemplate]>;
  body?: CompiledExpression;
}

export default defineStep<HttpConfig, CompiledHttp>({
  type: 'http',
  // stop: an outage of the called system heals on retry.
  onError: 'stop',
  summary:
    'Calls an HTTP endpoint. Sends `Idempotency-Key` (stable across retries of the step). 5xx, 429 and network errors are retried; other 4xx fail the run. Output: `{status, data}`.',
  schema: {
    type: 'object',
    properties: {
      method: { enum: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], default: 'POST' },
      url: { type: 'string', description: 'Template with {{ expression }} placeholders.' },
      headers: { type: 'object', additionalProperties: { type: 'string' }, description: 'Header templates.' },
      body: { type: 'string', description: 'JSONata giving the JSON body.' },
    },
    required: ['url'],
    additionalProperties: false,
  },
  examples: [{ method: 'POST', url: 'https://hooks.example.com/crm', body: '{ "customer": $customer.id }' }],
  compile: (config, context) => ({
    method: config.method ?? 'POST',
    url: context.template('url', config.url),
    headers: Object.entries(config.headers ?? {}).map(([name, value]) => [name, context.template(`headers.${name}`, value)]),
    body: config.body === undefined ? undefined : context.expression('body', config.body),
  }),
  run: async (compiled, context) => {
    const url = await compiled.url.render(context.payload, context.bindings);
    const headers: Record<string, string> = { 'idempotency-key': context.idempotencyKey };
    for (const [name, template] of compiled.headers) headers[name] = await template.render(context.payload, context.bindings);
    const data = compiled.body ? await compiled.body.evaluate(context.payload, context.bindings) : undefined;
    let response;
    try {
      response = await context.services.http.request({ method: compiled.method, url, headers, data, signal: context.signal, validateStatus: () => true });
    } catch (error) {
      throw new StepError(`${compiled.method} ${url}: ${(error as Error).message}`, true);
    }
    if (response.status === 429 || response.status >= 500) throw new StepError(`${compiled.method} ${url} answered ${response.status}`, true);
    if (response.status >= 400) throw new StepError(`${compiled.method} ${url} answered ${response.status}: ${JSON.stringify(response.data).slice(0, 300)}`, false);
    return { output: { status: response.status, data: response.data ?? null } };
  },
});
