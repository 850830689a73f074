import { Router, type Request } from 'express';
import {
  assignCaseOperation,
  caseDetail,
  caseFigures,
  listCaseQueue,
  noteCase,
  replyToCase,
  setCaseStatusOperation,
} from '../../operations/cases.js';
import type { ApiOptions } from '../api.js';
import { apiActor, idParam, intParam, text } from './params.js';

/**
 * Service cases: the queue, the reports' figures, one case with its thread, and the four things a person does to a
 * case (note, reply, status, assign), each one operation of src/operations/cases.ts.
 */
export function casesApi(options: ApiOptions): Router {
  const router = Router();
  const body = (req: Request) => (req.body ?? {}) as Record<string, unknown>;

  router.get('/cases', async (req, res) => {
    const cases = await listCaseQueue(options, {
      status: req.query.status,
      owner: req.query.owner,
      pool: req.query.pool,
      customerId: intParam(req.query.customer_id, 'customer_id'),
      limit: intParam(req.query.limit, 'limit'),
    });
    res.json({ cases });
  });

  // Before /cases/:id, which would take `figures` for an id.
  router.get(
    '/cases/figures',
    async (req, res) => void res.json(await caseFigures(options, { from: req.query.from, to: req.query.to })),
  );

  router.get('/cases/:id', async (req, res) => void res.json(await caseDetail(options, idParam(req))));

  router.post('/cases/:id/notes', async (req, res) => {
    const { entry, case: row } = await noteCase(options, apiActor(req), { caseId: idParam(req), body: body(req).body });
    res.status(201).json({ entry, case: row });
  });

  router.post('/cases/:id/replies', async (req, res) => {
    const requestId = req.get('idempotency-key') ?? text(body(req).request_id);
    const {
      entry,
      case: row,
      message,
    } = await replyToCase(options, apiActor(req), { caseId: idParam(req), body: body(req).body, requestId });
    res
      .status(201)
      .json({ entry, message: { id: message.messageId, status: message.status, channel: message.channel }, case: row });
  });

  router.post('/cases/:id/status', async (req, res) => {
    const input = body(req);
    const result = await setCaseStatusOperation(options, apiActor(req), {
      caseId: idParam(req),
      status: input.status,
      reason: input.reason,
      askFeedback: input.ask_feedback === true,
    });
    res.json({ changed: result.changed, from: result.from, case: result.case, feedback: result.feedback ?? null });
  });

  router.post('/cases/:id/assign', async (req, res) => {
    const result = await assignCaseOperation(options, apiActor(req), {
      caseId: idParam(req),
      agentId: body(req).agent_id,
    });
    res.json({ changed: result.changed, from: result.from, case: result.case });
  });

  return router;
}
