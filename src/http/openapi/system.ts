import { errorResponse, json, type JsonSchema, type PathItemObject, PUBLIC, record, ref, string } from './common.js';

/** OpenAPI: Health, readiness, metrics and this document. Spread into the document by src/http/openapi.ts. */
export const systemSchemas: Record<string, JsonSchema> = {
  Error: record('The one error shape of every JSON error answer.', {
    error: record('What went wrong.', {
      code: { type: 'string', description: 'Stable, machine-readable, snake_case.', examples: ['not_found'] },
      message: { type: 'string', description: 'For humans; may change.' },
    }),
  }),
  Health: record('The process is up.', { status: { const: 'ok' } }),
  Readiness: record('Result of each dependency check: `ok`, `timeout` or the error message.', {
    postgres: string,
    redis: string,
  }),
  Draining: record('This instance is shutting down.', { status: { const: 'shutting down' } }),
  OpenApi: {
    type: 'object',
    description: 'This document.',
    properties: {
      openapi: { const: '3.1.0' },
      info: { type: 'object' },
      paths: { type: 'object' },
      components: { type: 'object' },
    },
    required: ['openapi', 'info', 'paths', 'components'],
  },
};

export const systemPaths: Record<string, PathItemObject> = {
  '/healthz': {
    get: {
      operationId: 'getHealth',
      summary: 'Liveness',
      tags: ['health'],
      security: PUBLIC,
      responses: { '200': { description: 'The process answers HTTP.', content: json(ref('Health')) } },
    },
  },
  '/readyz': {
    get: {
      operationId: 'getReadiness',
      summary: 'Readiness: PostgreSQL and Redis answer (each checked with a 2 s timeout)',
      tags: ['health'],
      security: PUBLIC,
      responses: {
        '200': {
          description: 'Both answer.',
          content: json(record('Both checks passed.', { postgres: { const: 'ok' }, redis: { const: 'ok' } }), {
            postgres: 'ok',
            redis: 'ok',
          }),
        },
        '503': {
          description:
            'A dependency does not answer (the failing check carries `timeout` or the error message), or the instance is shutting down.',
          content: json({ oneOf: [ref('Readiness'), ref('Draining')] }),
        },
      },
    },
  },
  '/metrics': {
    get: {
      operationId: 'getMetrics',
      summary: 'Prometheus metrics',
      description:
        'Prometheus text exposition (format 0.0.4): crmflow counters (runs, webhooks, outbound messages, pulls, merges), the queue depth read from Redis on each scrape, and Node process metrics. Protected by `CRMFLOW_METRICS_TOKEN` as a bearer token when set; when it is not set, only loopback clients are answered. Counts are per process.',
      tags: ['health'],
      security: [{ metricsToken: [] }, {}],
      responses: {
        '200': {
          description: 'The metrics.',
          content: {
            'text/plain': {
              schema: { type: 'string' },
              example: '# HELP crmflow_runs_started_total Workflow run attempts started...\n',
            },
          },
        },
        '401': errorResponse('`CRMFLOW_METRICS_TOKEN` is set and the request does not carry it.', ['unauthorized'], {
          'WWW-Authenticate': { description: '`Bearer`', schema: string },
        }),
        '403': errorResponse('No `CRMFLOW_METRICS_TOKEN` is set and the client is not on loopback.', ['forbidden']),
      },
    },
  },
  '/api/openapi.json': {
    get: {
      operationId: 'getOpenApi',
      summary: 'This OpenAPI 3.1 description',
      description: 'Public: the document holds no secrets.',
      tags: ['meta'],
      security: PUBLIC,
      responses: { '200': { description: 'The document.', content: json(ref('OpenApi')) } },
    },
  },
};
