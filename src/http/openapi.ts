import { errorResponse, string, type OpenApiDocument } from './openapi/common.js';
import { agentsPaths, agentsSchemas } from './openapi/agents.js';
import { auditPaths, auditSchemas } from './openapi/audit.js';
import { casesPaths, casesSchemas } from './openapi/cases.js';
import { customerContactsPaths, customerContactsSchemas } from './openapi/customer-contacts.js';
import { customersPaths, customersSchemas } from './openapi/customers.js';
import { dealsPaths, dealsSchemas } from './openapi/deals.js';
import { handOverPaths, handOverSchemas } from './openapi/hand-over.js';
import { messagesPaths, messagesSchemas } from './openapi/messages.js';
import { reportsPaths, reportsSchemas } from './openapi/reports.js';
import { runsPaths, runsSchemas } from './openapi/runs.js';
import { segmentsPaths, segmentsSchemas } from './openapi/segments.js';
import { systemPaths, systemSchemas } from './openapi/system.js';
import { tasksPaths, tasksSchemas } from './openapi/tasks.js';
import { webhooksPaths, webhooksSchemas } from './openapi/webhooks.js';
import { workflowsPaths, workflowsSchemas } from './openapi/workflows.js';

export type * from './openapi/common.js';
export { webhookHeaderParameters, webhookSignatureTable } from './openapi/webhooks.js';

/**
 * The OpenAPI 3.1 description of crmflow's HTTP API, served at `GET /api/openapi.json`: each resource's paths and
 * component schemas live in `openapi/<resource>.ts`, beside its routes, and are spread in here with one line each.
 *
 * Component schemas are JSON Schema 2020-12 and describe the responses exactly as the handlers send them today
 * (objects are closed with `additionalProperties: false`): `tests/http.openapi.test.ts` validates the real response of
 * every route against them, so a field added, renamed or retyped in a handler or in the SQL fails a test until it is
 * described here.
 */
/** The document's tags (one per resource file), in the order readers see them. */
const TAGS: Record<string, string> = {
  health: 'Liveness, readiness and metrics.',
  webhooks: 'Vendor deliveries, verified by signature.',
  customers: 'The unified customer records.',
  runs: 'Workflow runs and their step records.',
  messages: 'Outbound replies.',
  workflows: 'The workflows loaded from workflows.yaml.',
  agents: 'Sales agents and their availability.',
  tasks: 'Follow-up tasks created by workflows.',
  audit: 'Who did what, when, from where.',
  deals: 'Sales pipeline deals and forecasts.',
  reports: 'KPI reports from the record: leads, conversion, speed, value, retention.',
  cases: 'Service cases, their threads and satisfaction ratings.',
  segments: 'Segments declared in workflows.yaml and their members.',
  meta: 'This description.',
};

export const openApiDocument: OpenApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'crmflow',
    version: '0.1.0',
    description:
      'Signed vendor webhooks in, one unified customer record out. `/api/*` needs `Authorization: Bearer $CRMFLOW_API_TOKEN` (except this document); webhooks are authenticated by vendor signatures; `/healthz` and `/readyz` are public. Every JSON error is `{"error": {"code", "message"}}`. API request bodies are limited to 100 kB, webhook bodies to 1 MB.',
    license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
  },
  jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
  tags: Object.entries(TAGS).map(([name, description]) => ({ name, description })),
  paths: {
    ...systemPaths,
    ...webhooksPaths,
    ...customersPaths,
    ...customerContactsPaths,
    ...runsPaths,
    ...messagesPaths,
    ...workflowsPaths,
    ...agentsPaths,
    ...tasksPaths,
    ...auditPaths,
    ...reportsPaths,
    ...dealsPaths,
    ...casesPaths,
    ...segmentsPaths,
    ...handOverPaths,
  },
  components: {
    schemas: {
      ...systemSchemas,
      ...webhooksSchemas,
      ...customersSchemas,
      ...customerContactsSchemas,
      ...runsSchemas,
      ...messagesSchemas,
      ...workflowsSchemas,
      ...agentsSchemas,
      ...tasksSchemas,
      ...auditSchemas,
      ...reportsSchemas,
      ...dealsSchemas,
      ...casesSchemas,
      ...segmentsSchemas,
      ...handOverSchemas,
    },
    responses: {
      Unauthorized: errorResponse('Missing or wrong bearer token.', ['unauthorized'], {
        'WWW-Authenticate': { description: '`Bearer`', schema: string },
      }),
      Internal: errorResponse('An unexpected error (details are logged, never sent).', ['internal']),
    },
    securitySchemes: {
      apiToken: { type: 'http', scheme: 'bearer', description: 'The value of `CRMFLOW_API_TOKEN`.' },
      metricsToken: { type: 'http', scheme: 'bearer', description: 'The value of `CRMFLOW_METRICS_TOKEN`.' },
    },
  },
};
