import { AUDIT_ACTIONS } from '../../operations/audit-log.js';
import {
  apiOperation,
  badRequest,
  beforeParameter,
  dateTime,
  integer,
  json,
  type JsonSchema,
  limitParameter,
  nullableInteger,
  nullableString,
  type PathItemObject,
  record,
  ref,
} from './common.js';

/** OpenAPI: The audit log. Spread into the document by src/http/openapi.ts. */
export const auditSchemas: Record<string, JsonSchema> = {
  AuditEntry: record('One human action. The log is append-only: no route changes or deletes an entry.', {
    id: integer,
    at: dateTime,
    actor: {
      type: 'string',
      description: 'The dashboard user, `api-token` for bearer-token calls, or the name typed at a failed sign-in.',
    },
    role: { ...nullableString, description: '`viewer`, `support` or `admin`; null for a failed sign-in.' },
    action: { enum: [...AUDIT_ACTIONS] },
    target: {
      ...nullableString,
      description:
        'What was acted on: `run:<id>`, `message:<id>`, `workflow:<id>`, `agent:<id>`, `task:<id>`, `customer:<id>`, `suggestion:<id>`.',
    },
    details: { type: 'object', description: 'Facts about the action (e.g. `available`, `job_id`, `via`).' },
    ip: { ...nullableString, description: 'The client address (behind a loopback proxy: the forwarded one).' },
  }),
  AuditList: record('A page of the audit log, newest first.', {
    entries: { type: 'array', items: ref('AuditEntry') },
    next_before: {
      ...nullableInteger,
      description: 'Pass as `before` for the next page; null when this page is empty.',
    },
  }),
};

export const auditPaths: Record<string, PathItemObject> = {
  '/api/audit': {
    get: apiOperation({
      operationId: 'listAudit',
      summary: 'The audit log of human actions, newest first, keyset-paginated',
      description:
        'Sign-ins (and failed ones), sign-outs, run retries, replays and cancellations, message resends, polls, availability changes, CLI replays and backfills, from the dashboard, this API and the CLI. Read only: the table refuses updates and deletes. On the dashboard only admins see it (`/audit`).',
      tags: ['audit'],
      parameters: [beforeParameter('entries'), limitParameter(50, 500)],
      responses: { '200': { description: 'A page of entries.', content: json(ref('AuditList')) }, '400': badRequest },
    }),
  },
};
