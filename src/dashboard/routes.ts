import { fileURLToPath } from 'node:url';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import { isConsentChannel } from '../customers/consent.js';
import { normalizeEmail, normalizePhone } from '../customers/normalize.js';
import type { JobData } from '../engine/queues.js';
import { HttpError } from '../http/errors.js';
import { cancelRun, replayRun, retryRun } from '../http/run-actions.js';
import type { ConnectorSignals } from '../observability/connector-signals.js';
import { setPiiFields } from './mask.js';
import { bullBoardPolicy } from '../http/security-headers.js';
import { listAgentStatus, setAgentAvailability } from '../store/assignments.js';
import { listAudit, recordAudit } from '../store/audit.js';
import { setCustomerConsent } from '../store/consents.js';
import { customerIdsFor, findCustomers, loadCustomerDetail, loadCustomerSummary } from '../store/customer-queries.js';
import { CustomerChangeError, unmergeCustomer } from '../store/customers.js';
import { getInboxEvent } from '../store/inbox.js';
import { decideSuggestion, listSuggestions } from '../store/merge-suggestions.js';
import type { Pool } from '../store/pool.js';
import { connectorHealth, latestFailures, runsPerMinute, workflowStats } from '../store/run-stats.js';
import { getRun, listRuns, listStepRecords, type RunFilter } from '../store/runs.js';
import type { ConfigFileState } from '../workflows/file-check.js';
import type { LoadedConfig } from '../workflows/load.js';
import {
  createDashboardAuth,
  createLoginThrottle,
  requireCsrf,
  requireRole,
  requireSession,
  safeNext,
  sameOrigin,
  sessionOf,
  setSessionCookie,
  TOKEN_USER,
  type DashboardUser,
} from './auth.js';
import type { Html } from './html.js';
import { streamRuns, parseWatch } from './sse.js';
import { agentsPage } from './views/agents.js';
import { auditPage } from './views/audit.js';
import { customerDetailPage, customersPage, suggestionsPage } from './views/customers.js';
import { loginPage, messagePage, type PageContext } from './views/layout.js';
import { overviewPage, QUEUE_STATES } from './views/overview.js';
import { PERIODS, RUN_STATUSES, runDetailPage, runRow, runsPage, type RunsQuery } from './views/runs.js';
import { workflowsPage } from './views/workflows.js';
import { customerContactPages } from './pages/customer-contacts.js';
import { contactNotice } from './views/customer-contacts.js';
import type { PersonContactServices } from '../operations/person-contact.js';

export interface DashboardOptions {
  pool: Pool;
  queue: Queue<JobData>;
  config: LoadedConfig;
  defaultRegion: string;
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
  /** The outbound path and timeline for a support user's own messages and logged calls; absent: those forms answer 409. */
  contacts?: PersonContactServices;
}

const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));
const PAGE_SIZE = 50;

/** Dashboard pages are never cached (the app's helmet sets the other security headers, CSP included). */
function pageHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.set('Cache-Control', 'no-store');
  next();
}

function send(res: Response, page: Html, status = 200): void {
  res.status(status).type('html').send(page.value);
}

function text(value: unknown): string {
  return typeof value === 'string' ? value.trim().slice(0, 200) : '';
}

function idParam(value: unknown): number | undefined {
  return typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
}

/**
 * The support-staff dashboard: server-rendered pages behind a login, a live run stream, and bull-board under
 * `/admin/queues` for admins. Mounted at the root of the app, after the API and webhooks.
 */
export function dashboardRouter(options: DashboardOptions): Router {
  const { pool, config } = options;
  setPiiFields(options.piiFields ?? []);
  const auth = createDashboardAuth({ users: options.users, secretKey: options.secretKey, apiToken: options.apiToken });
  const throttle = createLoginThrottle();
  const session = requireSession(auth);
  const form = express.urlencoded({ extended: false, limit: '10kb' });
  const workflowIds = config.workflows.map((workflow) => workflow.id);
  const connectorIds = [...config.connectors.keys()];
  const router = Router();
  const context = (req: Request, res: Response): PageContext => {
    const current = sessionOf(res);
    return { session: current, csrf: auth.csrfToken(current), path: req.path };
  };

  router.use('/assets', express.static(PUBLIC_DIR, { index: false, maxAge: '10m', fallthrough: false }));

  router.get('/login', pageHeaders, (req, res) => {
    const next = safeNext(req.query.next);
    if (auth.read(req)) return res.redirect(303, next);
    send(res, loginPage({ next, demo: options.demoUser }));
  });

  router.post('/login', pageHeaders, form, async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const next = safeNext(body.next);
    const key = req.ip ?? 'unknown';
    if (!sameOrigin(req)) return send(res, loginPage({ next, error: 'This sign-in came from another site.' }), 403);
    if (throttle.blocked(key)) return send(res, loginPage({ next, error: 'Too many failed sign-ins. Wait a few minutes and try again.', demo: options.demoUser }), 429);
    let signedIn: { name: string; role: DashboardUser['role'] } | undefined;
    if (typeof body.token === 'string' && body.token !== '') {
      if (auth.checkToken(body.token)) signedIn = { name: TOKEN_USER, role: 'admin' };
    } else if (typeof body.username === 'string' && typeof body.password === 'string') {
      signedIn = auth.checkPassword(body.username, body.password);
    }
    if (!signedIn) {
      throttle.fail(key);
      const tried = typeof body.username === 'string' && body.token === undefined ? body.username.slice(0, 64) : TOKEN_USER;
      options.logger.warn({ user: tried, ip: req.ip }, 'dashboard sign-in failed');
      await recordAudit(pool, { actor: tried, role: null, action: 'login_failed', ip: req.ip ?? null, details: { with: tried === TOKEN_USER ? 'token' : 'password' } });
      return send(res, loginPage({ next, error: 'Wrong user name, password or token.', demo: options.demoUser }), 401);
    }
    throttle.succeed(key);
    setSessionCookie(req, res, auth.seal(auth.issue(signedIn.name, signedIn.role)));
    options.logger.info({ user: signedIn.name, role: signedIn.role }, 'dashboard sign-in');
    await recordAudit(pool, { actor: signedIn.name, role: signedIn.role, action: 'login', ip: req.ip ?? null, details: { with: signedIn.name === TOKEN_USER ? 'token' : 'password' } });
    res.redirect(303, next);
  });

  router.post('/logout', session, form, requireCsrf(auth), async (req, res) => {
    const { user, role } = sessionOf(res);
    await recordAudit(pool, { actor: user, role, action: 'logout', ip: req.ip ?? null });
    setSessionCookie(req, res, undefined);
    res.redirect(303, '/login');
  });

  router.get('/', session, pageHeaders, async (req, res) => {
    const [counts, perMinute, workflows, failures, connectors] = await Promise.all([
      options.queue
        .getJobCounts(...QUEUE_STATES)
        .then((result) => ({ name: options.queue.name, counts: result }))
        .catch((error: Error) => ({ name: options.queue.name, error: error.message })),
      runsPerMinute(pool),
      workflowStats(pool, workflowIds),
      latestFailures(pool),
      connectorHealth(pool, connectorIds),
    ]);
    // Redis away: the overview still renders, without the signals.
    const signals = await options.signals.read(connectorIds).catch(() => undefined);
    send(res, overviewPage(context(req, res), { queue: counts, perMinute, now: new Date(), workflows, failures, connectors, signals }));
  });

  const runsQuery = (query: Record<string, unknown>): RunsQuery => ({
    workflow: workflowIds.includes(text(query.workflow)) ? text(query.workflow) : '',
    status: (RUN_STATUSES as readonly string[]).includes(text(query.status)) ? text(query.status) : '',
    connector: connectorIds.includes(text(query.connector)) ? text(query.connector) : '',
    customer: text(query.customer),
    period: text(query.period) in PERIODS ? text(query.period) : '',
  });

  /** The store filter for a runs query; null when the customer named matches nobody (no runs, say so). */
  const runFilter = async (query: RunsQuery): Promise<Omit<RunFilter, 'limit'> | null> => {
    const filter: Omit<RunFilter, 'limit'> = {
      workflow: query.workflow || undefined,
      status: query.status || undefined,
      connector: query.connector || undefined,
    };
    const ms = PERIODS[query.period]?.ms;
    if (ms) filter.since = new Date(Date.now() - ms);
    if (query.customer) {
      const raw = query.customer.replace(/^#/, '');
      const values = [raw, raw.toLowerCase(), normalizeEmail(raw), normalizePhone(raw, options.defaultRegion)].filter((value): value is string => !!value);
      const ids = await customerIdsFor(pool, { id: idParam(raw), values });
      if (ids.length === 0) return null;
      filter.customerIds = ids;
    }
    return filter;
  };

  router.get('/runs', session, pageHeaders, async (req, res) => {
    const query = runsQuery(req.query);
    const before = idParam(req.query.before);
    const filter = await runFilter(query);
    const runs = filter ? await listRuns(pool, { ...filter, before, limit: PAGE_SIZE }) : [];
    send(
      res,
      runsPage(context(req, res), {
        query,
        runs,
        before,
        workflows: workflowIds,
        connectors: connectorIds,
        nextBefore: runs.length === PAGE_SIZE ? runs.at(-1)!.id : null,
        notice: filter ? undefined : `No customer matches “${query.customer}”.`,
      }),
    );
  });

  router.get('/events', session, async (req, res) => {
    const filter = req.query.new === '0' ? null : await runFilter(runsQuery(req.query));
    streamRuns(req, res, {
      pool,
      filter,
      after: idParam(req.query.after) ?? 0,
      watch: parseWatch(req.query.watch),
      render: (run) => runRow(run).value,
      isDraining: options.isDraining,
    });
  });

  const RUN_NOTICES: Record<string, string> = {
    retried: 'Retry queued: this page updates when the run changes.',
    replayed: 'Replay queued: the event runs through the current workflow as a new run (see Runs).',
    cancelled: 'Run cancelled: no later step will start and it will not be retried.',
    not_failed: 'Only failed runs can be retried; this run is no longer failed.',
    not_cancellable: 'Only queued, running, waiting or failed runs can be cancelled.',
    not_replayable: 'This run cannot be replayed (no stored event, or its workflow is gone).',
    workflow_gone: 'This run cannot be replayed: its workflow is no longer in workflows.yaml.',
    bad_request: 'Give a reason (1 to 500 characters).',
  };

  router.get('/runs/:id', session, pageHeaders, async (req, res) => {
    const id = idParam(req.params.id);
    const run = id === undefined ? undefined : await getRun(pool, id);
    if (!run) return send(res, messagePage(context(req, res), 'Run not found', `There is no run ${req.params.id}.`), 404);
    const [steps, event] = await Promise.all([listStepRecords(pool, run.id), run.inboxEventId === null ? undefined : getInboxEvent(pool, run.inboxEventId)]);
    const workflow = config.workflows.find((candidate) => candidate.id === run.workflow);
    // Steps as the run's version had them would need the old file; the current ones are shown when the version matches.
    const plannedSteps = workflow && workflow.version === run.workflowVersion ? workflow.steps.map((step) => ({ id: step.id, type: step.definition.type })) : [];
    const replayable = run.inboxEventId !== null && workflowIds.includes(run.workflow);
    send(res, runDetailPage(context(req, res), { run, steps, plannedSteps, event, replayable, notice: RUN_NOTICES[text(req.query.notice)] }));
  });

  /**
   * A run action from the run page (support role, CSRF-checked, audited): redirects back to the run with a notice;
   * a 409 or 400 becomes that notice.
   */
  const runAction = (action: 'retry' | 'replay' | 'cancel', perform: (id: number, req: Request) => Promise<{ details: Record<string, unknown>; notice: string }>) =>
    router.post(`/runs/:id/${action}`, session, form, requireCsrf(auth), requireRole('support'), async (req, res) => {
      const id = idParam(req.params.id);
      if (id === undefined) return void res.status(404).type('text/plain').send('no such run');
      try {
        const { details, notice } = await perform(id, req);
        const { user, role } = sessionOf(res);
        options.logger.info({ run_id: id, user, ...details }, `run ${action} from the dashboard`);
        await recordAudit(pool, { actor: user, role, action: `run.${action}`, target: `run:${id}`, ip: req.ip ?? null, details: { ...details, via: 'dashboard' } });
        res.redirect(303, `/runs/${id}?notice=${notice}`);
      } catch (error) {
        if (error instanceof HttpError && (error.status === 409 || error.status === 400)) return res.redirect(303, `/runs/${id}?notice=${error.code}`);
        if (error instanceof HttpError && error.status === 404) return void res.status(404).type('text/plain').send(error.message);
        throw error;
      }
    });
  runAction('retry', async (id) => ({ details: { job_id: (await retryRun(pool, options.queue, id)).jobId }, notice: 'retried' }));
  runAction('replay', async (id) => {
    const { jobId, replay } = await replayRun(pool, options.queue, id, new Set(workflowIds));
    return { details: { job_id: jobId, replay }, notice: 'replayed' };
  });
  runAction('cancel', async (id, req) => {
    const reason = (req.body as { reason?: unknown }).reason;
    await cancelRun(pool, id, reason);
    return { details: { reason: String(reason).trim() }, notice: 'cancelled' };
  });

  router.get('/customers', session, pageHeaders, async (req, res) => {
    const q = text(req.query.q);
    const found = new Map<number, Awaited<ReturnType<typeof findCustomers>>[number]>();
    if (q) {
      const raw = q.replace(/^#/, '');
      const byId = idParam(raw) === undefined ? undefined : await loadCustomerSummary(pool, idParam(raw)!);
      if (byId) found.set(byId.id, byId);
      const identity = raw.includes('@') ? normalizeEmail(raw) : /^[+(\d][\d\s().-]{5,}$/.test(raw) ? normalizePhone(raw, options.defaultRegion) : undefined;
      for (const customer of await findCustomers(pool, { q: identity ?? raw, limit: 50 })) found.set(customer.id, customer);
    }
    send(res, customersPage(context(req, res), { q, customers: [...found.values()], agents: config.agents }));
  });

  router.get('/customers/:id', session, pageHeaders, async (req, res) => {
    const id = idParam(req.params.id);
    const customer = id === undefined ? undefined : await loadCustomerDetail(pool, id);
    if (!customer) return send(res, messagePage(context(req, res), 'Customer not found', `There is no customer ${req.params.id}.`), 404);
    const notice = text(req.query.notice) === 'unmerged' ? 'Merge undone: both customers are as they were before it.' : contactNotice(text(req.query.notice));
    send(res, customerDetailPage(context(req, res), { customer, agents: config.agents, notice }));
  });

  router.use(customerContactPages({ ...options, auth, session }));

  // Support staff record what a customer said (on the phone, at the counter): audited like the API's consent route.
  router.post('/customers/:id/consent', session, form, requireCsrf(auth), requireRole('support'), async (req, res) => {
    const id = idParam(req.params.id);
    const customer = id === undefined ? undefined : await loadCustomerSummary(pool, id);
    const { channel, granted } = req.body as { channel?: unknown; granted?: unknown };
    if (!customer) return void res.status(404).type('text/plain').send('no such customer');
    if (!isConsentChannel(channel) || (granted !== 'true' && granted !== 'false')) return void res.status(400).type('text/plain').send('channel and granted are required');
    const { user, role } = sessionOf(res);
    const addresses = await setCustomerConsent(pool, customer, { channel, granted: granted === 'true', source: `dashboard (${user})`, actor: user });
    await recordAudit(pool, { actor: user, role, action: 'customer.consent', target: `customer:${customer.id}`, ip: req.ip ?? null, details: { channel, granted: granted === 'true', addresses: addresses.length, via: 'dashboard' } });
    res.redirect(303, `/customers/${customer.id}`);
  });

  router.post('/customers/:id/unmerge', session, form, requireCsrf(auth), requireRole('admin'), async (req, res) => {
    const id = idParam(req.params.id);
    const mergeId = idParam((req.body as { merge_id?: unknown } | undefined)?.merge_id);
    if (id === undefined || mergeId === undefined) return void res.status(404).type('text/plain').send('no such merge');
    const { user, role } = sessionOf(res);
    try {
      const result = await unmergeCustomer(pool, id, { mergeId }, user);
      await recordAudit(pool, { actor: user, role, action: 'customer.unmerge', target: `customer:${result.keptId}`, ip: req.ip ?? null, details: { merge_id: result.mergeId, merged_id: result.mergedId, restored: result.restored, via: 'dashboard' } });
      res.redirect(303, `/customers/${id}?notice=unmerged`);
    } catch (error) {
      if (!(error instanceof CustomerChangeError)) throw error;
      send(res, messagePage(context(req, res), 'Merge not undone', error.message), error.status);
    }
  });

  const SUGGESTION_NOTICES: Record<string, string> = {
    accepted: 'Merged. The merge can be undone from the customer page.',
    rejected: 'Remembered as different people: never suggested nor merged by a rule again.',
  };

  router.get('/merge-suggestions', session, pageHeaders, async (req, res) => {
    const suggestions = await listSuggestions(pool, { status: 'open', limit: PAGE_SIZE });
    send(res, suggestionsPage(context(req, res), { suggestions, notice: SUGGESTION_NOTICES[text(req.query.notice)] }));
  });

  for (const [verb, decision] of [['accept', 'accepted'], ['reject', 'rejected']] as const) {
    router.post(`/merge-suggestions/:id/${verb}`, session, form, requireCsrf(auth), requireRole('admin'), async (req, res) => {
      const id = idParam(req.params.id);
      if (id === undefined) return void res.status(404).type('text/plain').send('no such suggestion');
      const { user, role } = sessionOf(res);
      try {
        const decided = await decideSuggestion(pool, id, decision, user);
        await recordAudit(pool, { actor: user, role, action: `merge_suggestion.${verb}`, target: `suggestion:${id}`, ip: req.ip ?? null, details: { customer_a: decided.customer_a, customer_b: decided.customer_b, ...(decided.merge_id ? { merge_id: decided.merge_id } : {}), via: 'dashboard' } });
        res.redirect(303, `/merge-suggestions?notice=${decision}`);
      } catch (error) {
        if (!(error instanceof CustomerChangeError)) throw error;
        send(res, messagePage(context(req, res), 'Suggestion not decided', error.message), error.status);
      }
    });
  }

  router.get('/workflows', session, pageHeaders, async (req, res) => {
    const stats = await workflowStats(pool, workflowIds);
    send(res, workflowsPage(context(req, res), { file: config.file, workflows: config.workflows, stats: new Map(stats.map((row) => [row.workflow, row])), onDisk: options.checkConfigFile?.() }));
  });

  const AGENT_NOTICES: Record<string, string> = { saved: 'Availability saved: new leads follow it from now on.' };

  router.get('/agents', session, pageHeaders, async (req, res) => {
    const status = await listAgentStatus(pool, [...config.agents.keys()]);
    send(res, agentsPage(context(req, res), { agents: [...config.agents.values()], status: new Map(status.map((row) => [row.agent_id, row])), notice: AGENT_NOTICES[text(req.query.notice)] }));
  });

  router.post('/agents/:id/availability', session, form, requireCsrf(auth), requireRole('admin'), async (req, res) => {
    const agent = config.agents.get(String(req.params.id));
    const available = (req.body as { available?: unknown }).available;
    if (!agent) return void res.status(404).type('text/plain').send('no such agent');
    if (available !== 'true' && available !== 'false') return void res.status(400).type('text/plain').send('available must be true or false');
    const { user, role } = sessionOf(res);
    await setAgentAvailability(pool, agent.id, available === 'true', user);
    await recordAudit(pool, { actor: user, role, action: 'agent.availability', target: `agent:${agent.id}`, ip: req.ip ?? null, details: { available: available === 'true', via: 'dashboard' } });
    res.redirect(303, '/agents?notice=saved');
  });

  router.get('/audit', session, requireRole('admin'), pageHeaders, async (req, res) => {
    const entries = await listAudit(pool, { before: idParam(req.query.before), limit: PAGE_SIZE });
    send(res, auditPage(context(req, res), { entries, nextBefore: entries.length === PAGE_SIZE ? entries.at(-1)!.id : null }));
  });

  // Raw queue operations: bull-board, for admins. Its own API has no CSRF token: SameSite=Lax keeps the session
  // cookie off cross-site requests, and a browser's cross-site Origin is refused here as well.
  const board = new ExpressAdapter();
  board.setBasePath('/admin/queues');
  createBullBoard({ queues: [new BullMQAdapter(options.queue)], serverAdapter: board, options: { uiConfig: { boardTitle: 'crmflow queues' } } });
  router.use(
    '/admin/queues',
    session,
    requireRole('admin'),
    bullBoardPolicy(),
    (req, res, next) => {
      if (req.method !== 'GET' && req.method !== 'HEAD' && (!req.headers.origin || !sameOrigin(req))) {
        return void res.status(403).type('text/plain').send('cross-site request refused');
      }
      next();
    },
    board.getRouter(),
  );

  return router;
}
