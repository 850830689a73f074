import { Router, type Request, type Response } from 'express';
import { formerOwners, handOver, type HandOverSummary } from '../../operations/hand-over.js';
import type { DashboardOptions } from '../routes.js';
import { handOverPage } from '../views/hand-over.js';
import { pageHeaders, refusal, send, type PageKit } from './kit.js';

const NOTICE = (summary: HandOverSummary) =>
  `Handed over from ${summary.from} to ${summary.to.join(', ')}: ${summary.customers} customers, ${summary.tasks} open tasks, ${summary.slas} pending SLAs, ${summary.deals} open deals, ${summary.cases} cases.`;

/** `/hand-over`: agents who left but still own customers, and the form that hands an agent's book over (admins). */
export function handOverPages(options: DashboardOptions, kit: PageKit): Router {
  const router = Router();
  const show = async (req: Request, res: Response, notice?: string) => {
    const { agents, pools } = options.config;
    send(
      res,
      handOverPage(kit.context(req, res), {
        agents: [...agents.values()],
        pools: [...pools.keys()],
        former: await formerOwners(options),
        notice,
      }),
    );
  };

  router.get('/hand-over', kit.session, pageHeaders, (req, res) => show(req, res));

  router.post('/hand-over', ...kit.post('admin'), pageHeaders, async (req, res) => {
    const body = req.body as { from?: unknown; to?: unknown };
    const to = typeof body.to === 'string' ? body.to : '';
    try {
      const summary = await handOver(options, kit.actor(req, res), {
        from: typeof body.from === 'string' ? body.from : '',
        ...(to.startsWith('pool:') ? { to_pool: to.slice(5) } : { to_agent: to.replace(/^agent:/, '') }),
      });
      await show(req, res, NOTICE(summary));
    } catch (error) {
      refusal(kit, req, res, 'Not handed over', error);
    }
  });
  return router;
}
