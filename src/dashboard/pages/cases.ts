import { randomUUID } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { nowOf, type Actor, type OperationContext } from '../../operations/context.js';
import {
  assignCaseOperation,
  caseDetail,
  caseFigures,
  listCaseQueue,
  noteCase,
  replyToCase,
  setCaseStatusOperation,
} from '../../operations/cases.js';
import { memberId } from '../../workflows/config-types.js';
import type { DashboardOptions } from '../routes.js';
import { CASE_QUEUES, caseDetailPage, casesPage, type CaseQueue } from '../views/cases.js';
import { idParam, pageHeaders, refusal, send, type PageKit } from './kit.js';

/** The period of the figures on the queue page. */
const FIGURES_DAYS = 30;

const NOTICES: Record<string, string> = {
  replied: 'Reply sent to the customer.',
  noted: 'Note added.',
  status: 'Status changed.',
  assigned: 'Owner changed.',
};

/** The Cases queue and case pages; every action is one operation of src/operations/cases.ts. */
export function casesPages(options: DashboardOptions, kit: PageKit): Router {
  const router = Router();
  const { config } = options;
  /** The agent a dashboard user is: the agent with that id, or with that email. */
  const agentOf = (user: string) =>
    [...config.agents.values()].find((agent) => agent.id === user || agent.email?.toLowerCase() === user.toLowerCase())
      ?.id;
  // 0 names no case: the operation answers "not found".
  const caseId = (req: Request) => idParam(req.params.id) ?? 0;

  router.get('/cases', kit.session, pageHeaders, async (req, res) => {
    try {
      const agentId = agentOf(kit.context(req, res).session.user);
      const asked = String(req.query.queue ?? '');
      const queue: CaseQueue = asked in CASE_QUEUES ? (asked as CaseQueue) : agentId ? 'mine' : 'all';
      const pools = [...config.pools]
        .filter(([, pool]) => agentId !== undefined && pool.agents.map(memberId).includes(agentId))
        .map(([name]) => name);
      // `-` names no pool: an agent in no pool has an empty "my pool" queue.
      const filter =
        agentId === undefined || queue === 'all'
          ? {}
          : queue === 'mine'
            ? { owner: agentId }
            : { pool: pools.join(',') || '-' };
      const cases = await listCaseQueue(options, { status: 'open,waiting_on_customer', ...filter });
      const figures = await caseFigures(options, {
        from: new Date(nowOf(options).getTime() - FIGURES_DAYS * 86_400_000),
      });
      send(res, casesPage(kit.context(req, res), { queue, agentId, cases, agents: config.agents, figures }));
    } catch (error) {
      refusal(kit, req, res, 'Cases', error);
    }
  });

  router.get('/cases/:id', kit.session, pageHeaders, async (req, res) => {
    try {
      const detail = await caseDetail(options, caseId(req));
      send(
        res,
        caseDetailPage(kit.context(req, res), {
          case: detail,
          agents: config.agents,
          requestId: randomUUID(),
          notice: NOTICES[String(req.query.notice)],
        }),
      );
    } catch (error) {
      refusal(kit, req, res, 'Case not found', error);
    }
  });

  /** A POST action: the operation, then back to the case with a notice. */
  const action = (
    name: string,
    notice: string,
    work: (ctx: OperationContext, actor: Actor, id: number, body: Record<string, string>) => Promise<unknown>,
  ) =>
    router.post(`/cases/:id/${name}`, ...kit.post('support'), async (req: Request, res: Response) => {
      try {
        await work(options, kit.actor(req, res), caseId(req), (req.body ?? {}) as Record<string, string>);
        res.redirect(303, `/cases/${caseId(req)}?notice=${notice}`);
      } catch (error) {
        refusal(kit, req, res, 'Not done', error);
      }
    });
  action('reply', 'replied', (ctx, actor, id, body) =>
    replyToCase(ctx, actor, { caseId: id, body: body.body, requestId: body.request_id }),
  );
  action('note', 'noted', (ctx, actor, id, body) => noteCase(ctx, actor, { caseId: id, body: body.body }));
  action('status', 'status', (ctx, actor, id, body) =>
    setCaseStatusOperation(ctx, actor, { caseId: id, status: body.status, askFeedback: body.ask_feedback === '1' }),
  );
  action('assign', 'assigned', (ctx, actor, id, body) =>
    assignCaseOperation(ctx, actor, { caseId: id, agentId: body.agent_id }),
  );

  return router;
}
