import { randomUUID } from 'node:crypto';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { Queue } from 'bullmq';
import type { CaseServices } from '../../engine/case-services.js';
import type { JobData } from '../../engine/queues.js';
import type { Actor } from '../../operations/context.js';
import {
  assignCaseOperation,
  caseDetail,
  caseFigures,
  listCaseQueue,
  noteCase,
  replyToCase,
  setCaseStatusOperation,
  type CaseOperationContext,
} from '../../operations/cases.js';
import { HTTP_STATUS_OF, OperationError } from '../../operations/errors.js';
import type { Pool } from '../../store/pool.js';
import { memberId } from '../../workflows/config-types.js';
import type { LoadedConfig } from '../../workflows/load.js';
import { requireRole, sessionOf } from '../auth.js';
import type { Html } from '../html.js';
import { CASE_QUEUES, caseDetailPage, casesPage, type CaseQueue } from '../views/cases.js';
import { messagePage, type PageContext } from '../views/layout.js';

export interface CasePagesOptions {
  pool: Pool;
  queue: Queue<JobData>;
  config: LoadedConfig;
  defaultRegion: string;
  cases?: CaseServices;
  /** The dashboard's own middleware: signed-in users, the CSRF check, urlencoded forms. */
  session: RequestHandler;
  csrf: RequestHandler;
  form: RequestHandler;
  context: (req: Request, res: Response) => PageContext;
}

/** The period of the figures on the queue page. */
const FIGURES_DAYS = 30;

const NOTICES: Record<string, string> = {
  replied: 'Reply sent to the customer.',
  noted: 'Note added.',
  status: 'Status changed.',
  assigned: 'Owner changed.',
};

function send(res: Response, page: Html, status = 200): void {
  res.status(status).set('Cache-Control', 'no-store').type('html').send(page.value);
}

/** The Cases queue and case pages; every action is one operation of src/operations/cases.ts. */
export function casePages(options: CasePagesOptions): Router {
  const router = Router();
  const { config } = options;
  const context = (): CaseOperationContext => {
    if (!options.cases) throw new OperationError('not_found', 'cases are not available in this process');
    return { pool: options.pool, queue: options.queue, config, defaultRegion: options.defaultRegion, now: options.cases.now, cases: options.cases };
  };
  /** The agent a dashboard user is: the agent with that id, or with that email. */
  const agentOf = (user: string) => [...config.agents.values()].find((agent) => agent.id === user || agent.email?.toLowerCase() === user.toLowerCase())?.id;
  const actorOf = (req: Request, res: Response): Actor => ({ name: sessionOf(res).user, role: sessionOf(res).role, ip: req.ip ?? null, via: 'dashboard' });
  const caseId = (req: Request) => (/^\d{1,15}$/.test(String(req.params.id)) ? Number(req.params.id) : 0);
  /** A refusal of an operation as a message page with its status. */
  const refused = (req: Request, res: Response, error: unknown, title: string) => {
    if (!(error instanceof OperationError)) throw error;
    send(res, messagePage(options.context(req, res), title, error.message), HTTP_STATUS_OF[error.kind]);
  };

  router.get('/cases', options.session, async (req, res) => {
    try {
      const agentId = agentOf(sessionOf(res).user);
      const asked = String(req.query.queue ?? '');
      const queue: CaseQueue = asked in CASE_QUEUES ? (asked as CaseQueue) : agentId ? 'mine' : 'all';
      const pools = [...config.pools].filter(([, pool]) => agentId !== undefined && pool.agents.map(memberId).includes(agentId)).map(([name]) => name);
      // `-` names no pool: an agent in no pool has an empty "my pool" queue.
      const filter = agentId === undefined || queue === 'all' ? {} : queue === 'mine' ? { owner: agentId } : { pool: pools.join(',') || '-' };
      const ctx = context();
      const cases = await listCaseQueue(ctx, { status: 'open,waiting_on_customer', ...filter });
      const figures = await caseFigures(ctx, { from: new Date(ctx.cases.now().getTime() - FIGURES_DAYS * 86_400_000) });
      send(res, casesPage(options.context(req, res), { queue, agentId, cases, agents: config.agents, figures }));
    } catch (error) {
      refused(req, res, error, 'Cases');
    }
  });

  router.get('/cases/:id', options.session, async (req, res) => {
    try {
      const detail = await caseDetail(context(), caseId(req));
      send(
        res,
        caseDetailPage(options.context(req, res), { case: detail, agents: config.agents, requestId: randomUUID(), notice: NOTICES[String(req.query.notice)] }),
      );
    } catch (error) {
      refused(req, res, error, 'Case not found');
    }
  });

  /** A POST action: the operation, then back to the case with a notice. */
  const action = (
    name: string,
    notice: string,
    work: (ctx: CaseOperationContext, actor: Actor, id: number, body: Record<string, string>) => Promise<unknown>,
  ) =>
    router.post(`/cases/:id/${name}`, options.session, options.form, options.csrf, requireRole('support'), async (req, res) => {
      try {
        await work(context(), actorOf(req, res), caseId(req), (req.body ?? {}) as Record<string, string>);
        res.redirect(303, `/cases/${caseId(req)}?notice=${notice}`);
      } catch (error) {
        refused(req, res, error, 'Not done');
      }
    });
  action('reply', 'replied', (ctx, actor, id, body) => replyToCase(ctx, actor, { caseId: id, body: body.body, requestId: body.request_id }));
  action('note', 'noted', (ctx, actor, id, body) => noteCase(ctx, actor, { caseId: id, body: body.body }));
  action('status', 'status', (ctx, actor, id, body) =>
    setCaseStatusOperation(ctx, actor, { caseId: id, status: body.status, askFeedback: body.ask_feedback === '1' }),
  );
  action('assign', 'assigned', (ctx, actor, id, body) => assignCaseOperation(ctx, actor, { caseId: id, agentId: body.agent_id }));

  return router;
}
