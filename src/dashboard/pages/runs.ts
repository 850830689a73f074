import { Router, type Request, type Response } from 'express';
import type { Actor } from '../../operations/context.js';
import { customerIdsMatching } from '../../operations/customers.js';
import { OperationError } from '../../operations/errors.js';
import { findMessage, resendMessage } from '../../operations/messages.js';
import {
  cancelRun,
  findRun,
  getRunDetail,
  listRuns,
  replayRun,
  retryRun,
  RUN_STATUSES,
  runsNeedingPerson,
  uncertainReplies,
  type RunFilter,
} from '../../operations/runs.js';
import type { DashboardOptions } from '../routes.js';
import { sessionOf } from '../auth.js';
import { createRunStreamHub, parseWatch } from '../sse.js';
import { messagePage } from '../views/layout.js';
import { NEEDS_PERSON, PERIODS, runDetailPage, runRow, runsPage, type RunsQuery } from '../views/runs.js';
import { idParam, PAGE_SIZE, pageHeaders, send, text, type PageKit } from './kit.js';

const RUN_NOTICES: Record<string, string> = {
  retried: 'Retry queued: this page updates when the run changes.',
  replayed: 'Replay queued: the event runs through the current workflow as a new run (see Runs).',
  cancelled: 'Run cancelled: no later step will start and it will not be retried.',
  not_failed: 'Only failed runs can be retried; this run is no longer failed.',
  not_cancellable: 'Only queued, running, waiting or failed runs can be cancelled.',
  not_replayable: 'This run cannot be replayed (no stored event, or its workflow is gone).',
  workflow_gone: 'This run cannot be replayed: its workflow is no longer in workflows.yaml.',
  pruned: 'This run cannot run again: retention removed the records it would need.',
  bad_request: 'Give a reason (1 to 500 characters).',
  resent: 'Reply sent again (audited).',
  resend_failed: 'The reply could not be sent again: see its status below.',
  not_uncertain: 'That reply is no longer uncertain (someone resent it, or it was settled).',
};

/** The runs list with its live stream, a run's page, and the run actions (retry, replay, cancel, resend an uncertain reply) for support staff. */
export function runsPages(options: DashboardOptions, kit: PageKit): Router {
  const router = Router();
  const workflowIds = options.config.workflows.map((workflow) => workflow.id);
  const connectorIds = [...options.config.connectors.keys()];

  const runsQuery = (query: Record<string, unknown>): RunsQuery => ({
    workflow: workflowIds.includes(text(query.workflow)) ? text(query.workflow) : '',
    status: [...RUN_STATUSES, NEEDS_PERSON].includes(text(query.status)) ? text(query.status) : '',
    connector: connectorIds.includes(text(query.connector)) ? text(query.connector) : '',
    customer: text(query.customer),
    period: text(query.period) in PERIODS ? text(query.period) : '',
  });

  /** The filter for a runs query; null when the customer named matches nobody (no runs, say so). */
  const runFilter = async (query: RunsQuery): Promise<Omit<RunFilter, 'limit'> | null> => {
    const filter: Omit<RunFilter, 'limit'> = {
      workflow: query.workflow || undefined,
      status: query.status === NEEDS_PERSON ? undefined : query.status || undefined,
      connector: query.connector || undefined,
      needsPerson: query.status === NEEDS_PERSON || undefined,
    };
    const ms = PERIODS[query.period]?.ms;
    if (ms) filter.since = new Date(Date.now() - ms);
    if (query.customer) {
      const ids = await customerIdsMatching(options, query.customer);
      if (ids.length === 0) return null;
      filter.customerIds = ids;
    }
    return filter;
  };

  router.get('/runs', kit.session, pageHeaders, async (req, res) => {
    const query = runsQuery(req.query);
    const before = idParam(req.query.before);
    const filter = await runFilter(query);
    const runs = filter ? await listRuns(options, { ...filter, before, limit: PAGE_SIZE }) : [];
    send(
      res,
      runsPage(kit.context(req, res), {
        query,
        runs,
        before,
        workflows: workflowIds,
        connectors: connectorIds,
        nextBefore: runs.length === PAGE_SIZE ? runs.at(-1)!.id : null,
        notice: filter ? undefined : `No customer matches “${query.customer}”.`,
        needsPerson: await runsNeedingPerson(
          options,
          runs.map((run) => run.id),
        ),
      }),
    );
  });

  // One poll loop for every viewer's stream, capped per session and in total.
  const runStreams = createRunStreamHub({ ctx: options, isDraining: options.isDraining });
  router.get('/events', kit.session, async (req, res) => {
    const filter = req.query.new === '0' ? null : await runFilter(runsQuery(req.query));
    runStreams.open(req, res, {
      owner: sessionOf(res).nonce,
      filter,
      after: idParam(req.query.after) ?? 0,
      watch: parseWatch(req.query.watch),
      render: (run) => runRow(run).value,
    });
  });

  router.get('/runs/:id', kit.session, pageHeaders, async (req, res) => {
    const id = idParam(req.params.id);
    const found = id === undefined ? undefined : await findRun(options, id);
    if (!found)
      return send(res, messagePage(kit.context(req, res), 'Run not found', `There is no run ${req.params.id}.`), 404);
    const [{ run, steps, event }, uncertain] = await Promise.all([
      getRunDetail(options, found.id),
      uncertainReplies(options, found.id),
    ]);
    const workflow = options.config.workflows.find((candidate) => candidate.id === run.workflow);
    // Steps as the run's version had them would need the old file; the current ones are shown when the version matches.
    const plannedSteps =
      workflow && workflow.version === run.workflowVersion
        ? workflow.steps.map((step) => ({ id: step.id, type: step.definition.type }))
        : [];
    const replayable = run.inboxEventId !== null && workflowIds.includes(run.workflow) && !event?.payloadPrunedAt;
    send(
      res,
      runDetailPage(kit.context(req, res), {
        run,
        steps,
        plannedSteps,
        event: event ?? undefined,
        replayable,
        notice: RUN_NOTICES[text(req.query.notice)],
        uncertain,
      }),
    );
  });

  /** A run action redirects back to the run with a notice; a refusal (400, 409) becomes that notice. */
  const runAction = (
    action: 'retry' | 'replay' | 'cancel',
    notice: string,
    perform: (actor: Actor, runId: number, req: Request) => Promise<unknown>,
  ) =>
    router.post(`/runs/:id/${action}`, ...kit.post('support'), async (req: Request, res: Response) => {
      const id = idParam(req.params.id);
      if (id === undefined) return void res.status(404).type('text/plain').send('no such run');
      try {
        await perform(kit.actor(req, res), id, req);
        options.logger.info({ run_id: id, user: kit.actor(req, res).name }, `run ${action} from the dashboard`);
        res.redirect(303, `/runs/${id}?notice=${notice}`);
      } catch (error) {
        if (error instanceof OperationError && (error.kind === 'conflict' || error.kind === 'invalid'))
          return res.redirect(303, `/runs/${id}?notice=${error.code}`);
        if (error instanceof OperationError && error.kind === 'not_found')
          return void res.status(404).type('text/plain').send(error.message);
        throw error;
      }
    });
  runAction('retry', 'retried', (actor, runId) => retryRun(options, actor, { runId }));
  runAction('replay', 'replayed', (actor, runId) => replayRun(options, actor, { runId }));
  runAction('cancel', 'cancelled', (actor, runId, req) =>
    cancelRun(options, actor, { runId, reason: (req.body as { reason?: unknown }).reason }),
  );

  // The run page's Resend button for an uncertain reply (the same operation as the API's); back to the run with a notice.
  router.post('/messages/:id/resend', ...kit.post('support'), async (req, res) => {
    const id = idParam(req.params.id);
    const message = id === undefined ? undefined : await findMessage(options, id);
    if (!message) return void res.status(404).type('text/plain').send('no such message');
    const back = (notice: string) =>
      res.redirect(
        303,
        message.runId === null ? `/customers/${message.customerId}` : `/runs/${message.runId}?notice=${notice}`,
      );
    try {
      const result = await resendMessage(options, kit.actor(req, res), { messageId: message.id });
      back(result.status === 'sent' ? 'resent' : 'resend_failed');
    } catch (error) {
      if (error instanceof OperationError && error.kind === 'conflict') return back('not_uncertain');
      throw error;
    }
  });

  return router;
}
