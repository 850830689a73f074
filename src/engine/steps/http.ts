import type { AxiosResponse } from 'axios';
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

/** Redirects followed, each to the same scheme, host and port as the URL the step called. */
const MAX_REDIRECTS = 5;
/** Largest answer (as JSON) kept in the run record and given to later steps; a larger one is recorded as truncated. */
export const MAX_STORED_ANSWER_CHARS = 64 * 1024;

export default defineStep<HttpConfig, CompiledHttp>({
  type: 'http',
  // stop: an outage of the called system heals on retry.
  onError: 'stop',
  summary:
    'Calls an HTTP endpoint. Sends `Idempotency-Key` (stable across retries of the step). 5xx, 429 and network errors are retried; other 4xx fail the run. ' +
    'Placeholder values in the URL are URL-encoded. Loopback, private, link-local and metadata addresses are refused unless the host is in ' +
    '`CRMFLOW_HTTP_ALLOW_HOSTS`; redirects are followed only within the same host; answers over 1 MiB fail the step. ' +
    'Output: `{status, data}` (`data` null and `truncated: true` when the answer is over 64 KiB as JSON).',
  schema: {
    type: 'object',
    properties: {
      method: { enum: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], default: 'POST' },
      url: {
        type: 'string',
        description: 'Template with {{ expression }} placeholders (their values are URL-encoded).',
      },
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
    headers: Object.entries(config.headers ?? {}).map(([name, value]) => [
      name,
      context.template(`headers.${name}`, value),
    ]),
    body: config.body === undefined ? undefined : context.expression('body', config.body),
  }),
  run: async (compiled, context) => {
    const url = await compiled.url.render(context.payload, context.bindings, encodeURIComponent);
    const headers: Record<string, string> = { 'idempotency-key': context.idempotencyKey };
    for (const [name, template] of compiled.headers)
      headers[name] = await template.render(context.payload, context.bindings);
    let method: string = compiled.method;
    let data = compiled.body ? await compiled.body.evaluate(context.payload, context.bindings) : undefined;
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      throw new StepError(`${method}: "${url.slice(0, 80)}" is not a URL`, false);
    }
    // Errors name the origin only: a path or query may itself be a credential (a Slack webhook URL).
    const where = () => `${method} ${target.origin}`;
    let response: AxiosResponse;
    for (let hop = 0; ; hop++) {
      try {
        response = await context.services.http.request({
          method,
          url: target.toString(),
          headers,
          data,
          signal: context.signal,
          validateStatus: () => true,
        });
      } catch (error) {
        const reason = error as Error & { code?: string };
        if (reason.name === 'BlockedRequestError') throw new StepError(`${where()}: ${reason.message}`, false);
        if (reason.code === 'ERR_BAD_RESPONSE' && /maxContentLength/.test(reason.message))
          throw new StepError(`${where()}: the answer is larger than allowed`, false);
        throw new StepError(`${where()}: ${reason.message}`, true);
      }
      const location = response.headers.location;
      if (response.status < 300 || response.status >= 400 || typeof location !== 'string') break;
      const next = new URL(location, target);
      // Another host would receive the step's headers (credentials included) and could be an internal one: never followed.
      if (next.origin !== target.origin)
        throw new StepError(`${where()} redirected to another host (${next.origin}): not followed`, false);
      if (hop >= MAX_REDIRECTS) throw new StepError(`${where()}: more than ${MAX_REDIRECTS} redirects`, false);
      if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === 'POST')) {
        method = 'GET';
        data = undefined;
      }
      target = next;
    }
    if (response.status === 429 || response.status >= 500)
      throw new StepError(`${where()} answered ${response.status}`, true);
    if (response.status >= 400)
      throw new StepError(
        `${where()} answered ${response.status}: ${JSON.stringify(response.data ?? null).slice(0, 300)}`,
        false,
      );
    const answer = JSON.stringify(response.data ?? null);
    if (answer.length > MAX_STORED_ANSWER_CHARS)
      return { output: { status: response.status, data: null, truncated: true, size: answer.length } };
    return { output: { status: response.status, data: response.data ?? null } };
  },
});
