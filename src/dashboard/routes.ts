import { fileURLToPath } from 'node:url';
import express, { Router } from 'express';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ConnectorSignals } from '../observability/connector-signals.js';
import type { OperationContext } from '../operations/context.js';
import type { PersonContactServices } from '../operations/person-contact.js';
import type { ConfigFileState } from '../workflows/file-check.js';
import { createDashboardAuth, type DashboardUser } from './auth.js';
import { setPiiFields } from './mask.js';
import { adminQueuesPages } from './pages/admin-queues.js';
import { agentsPages } from './pages/agents.js';
import { reportsPages } from './pages/reports.js';
import { auditPages } from './pages/audit.js';
import { customerContactPages } from './pages/customer-contacts.js';
import { casesPages } from './pages/cases.js';
import { customersPages } from './pages/customers.js';
import { handOverPages } from './pages/hand-over.js';
import { createPageKit } from './pages/kit.js';
import { mergeSuggestionsPages } from './pages/merge-suggestions.js';
import { overviewPages } from './pages/overview.js';
import { pipelinePages } from './pages/pipeline.js';
import { runsPages } from './pages/runs.js';
import { segmentsPages } from './pages/segments.js';
import { sessionPages } from './pages/session.js';
import { workflowsPages } from './pages/workflows.js';

/** What the dashboard's pages receive: the operation context (every page reads and acts through operations) and its own settings. */
export interface DashboardOptions extends OperationContext {
  logger: Logger;
  /** Who may sign in with a password (`CRMFLOW_USERS`, or the demo user). */
  users: DashboardUser[];
  /** `CRMFLOW_SECRET_KEY`: session cookies are signed with a key derived from it. */
  secretKey: string;
  /** `CRMFLOW_API_TOKEN`: also signs in, as an admin. */
  apiToken: string;
  /** Demo mode with the demo user: the login page says how to sign in. */
  demoUser?: boolean;
  /** `CRMFLOW_PII_FIELDS`: masked wherever payloads are shown. */
  piiFields?: string[];
  isDraining?: () => boolean;
  /** Signature failures and last errors per connector (shared through Redis). */
  signals: ConnectorSignals;
  /** Compares workflows.yaml on disk with the running configuration; absent: not shown. */
  checkConfigFile?: () => ConfigFileState;
  /** Where failed sign-ins are counted (shared by every process). */
  redis: Redis;
  /** The outbound path and timeline for a support user's own messages and logged calls; absent: those forms answer 409. */
  contacts?: PersonContactServices;
}

const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));

/**
 * The support-staff dashboard: server-rendered pages behind a login, a live run stream, and bull-board under
 * `/admin/queues` for admins. Mounted at the root of the app, after the API and webhooks. Each page's routes live in
 * `pages/<page>.ts`, mounted here with one line.
 */
export function dashboardRouter(options: DashboardOptions): Router {
  setPiiFields(options.piiFields ?? []);
  const kit = createPageKit(
    createDashboardAuth({ users: options.users, secretKey: options.secretKey, apiToken: options.apiToken }),
  );
  const router = Router();
  router.use('/assets', express.static(PUBLIC_DIR, { index: false, maxAge: '10m', fallthrough: false }));

  router.use(sessionPages(options, kit));
  router.use(overviewPages(options, kit));
  router.use(runsPages(options, kit));
  router.use(customersPages(options, kit));
  router.use(customerContactPages(options, kit));
  router.use(mergeSuggestionsPages(options, kit));
  router.use(pipelinePages(options, kit));
  router.use(workflowsPages(options, kit));
  router.use(agentsPages(options, kit));
  router.use(handOverPages(options, kit));
  router.use(auditPages(options, kit));
  router.use(reportsPages(options, kit));
  router.use(casesPages(options, kit));
  router.use(segmentsPages(options, kit));
  router.use(adminQueuesPages(options, kit));
  return router;
}
