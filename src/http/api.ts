import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { safeEqual } from '../connectors/shared/hmac.js';
import type { OperationContext } from '../operations/context.js';
import type { PersonContactServices } from '../operations/person-contact.js';
import { agentsApi } from './api/agents.js';
import { auditApi } from './api/audit.js';
import { customerContactsApi } from './api/customer-contacts.js';
import { casesApi } from './api/cases.js';
import { customersApi } from './api/customers.js';
import { dealsApi } from './api/deals.js';
import { handOverApi } from './api/hand-over.js';
import { mergeSuggestionsApi } from './api/merge-suggestions.js';
import { messagesApi } from './api/messages.js';
import { reportsApi } from './api/reports.js';
import { runsApi } from './api/runs.js';
import { segmentsApi } from './api/segments.js';
import { tasksApi } from './api/tasks.js';
import { workflowsApi } from './api/workflows.js';
import { sendError } from './errors.js';

/**
 * What every resource's routes receive: the operation context (each route calls an operation with it and the API
 * token's actor) and the token itself. Resource routers live in `api/<resource>.ts` and answer in snake_case.
 */
export interface ApiOptions extends OperationContext {
  apiToken: string;
  /** The outbound path and timeline for people's own contacts (agent messages, logged calls); absent: 409 on those routes. */
  contacts?: PersonContactServices;
}

/** Bearer-token check on every API route. */
export function requireToken(token: string) {
  return (req: Request, res: Response, next: NextFunction) => {
    const header = req.headers.authorization ?? '';
    const given = header.startsWith('Bearer ') ? header.slice(7) : undefined;
    if (!safeEqual(token, given))
      return sendError(res, 401, 'unauthorized', 'send Authorization: Bearer <CRMFLOW_API_TOKEN>', {
        'WWW-Authenticate': 'Bearer',
      });
    next();
  };
}

export function apiRouter(options: ApiOptions): Router {
  const router = Router();
  router.use(requireToken(options.apiToken));
  // Bodies are read only for authenticated callers.
  router.use(express.json({ limit: '100kb' }));

  router.use(customersApi(options));
  router.use(mergeSuggestionsApi(options));
  router.use(runsApi(options));
  router.use(messagesApi(options));
  router.use(workflowsApi(options));
  router.use(agentsApi(options));
  router.use(tasksApi(options));
  router.use(auditApi(options));
  router.use(dealsApi(options));
  router.use(reportsApi(options));
  router.use(handOverApi(options));
  router.use(customerContactsApi(options));
  router.use(casesApi(options));
  router.use(segmentsApi(options));

  router.use((_req, res) => sendError(res, 404, 'not_found', 'no such API route'));
  return router;
}
