import { Router, type Request } from 'express';
import type { CaseServices } from '../../engine/case-services.js';
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
import type { ApiOptions } from '../api.js';
import { HttpError } from '../errors.js';

function idParam(value: unknown, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number <= 0) throw new HttpError(400, 'bad_request', `${name} must be a positive integer`);
  return number;
}

/** The API token is one admin actor. */
const actorOf = (req: Request): Actor => ({ name: 'api-token', role: 'admin', ip: req.ip ?? null, via: 'api' });

/**
 * Service cases: the queue, the reports' figures, one case with its thread, and the four things a person does to a
 * case (note, reply, status, assign), each one operation of src/operations/cases.ts.
 */
export function casesApi(options: ApiOptions): Router {
  const services = (): CaseServices => {
    if (!options.cases) throw new Error('case services are not configured in this process');
    return options.cases;
  };
  const context = (): CaseOperationContext => ({
    pool: options.pool,
    queue: options.queue,
    config: options.config,
    defaultRegion: options.defaultRegion,
    now: services().now,
    cases: services(),
  });
  const router = Router();
  const body = (req: Request) => (req.body ?? {}) as Record<string, unknown>;
  const caseId = (req: Request) => idParam(req.params.id, 'id')!;

  router.get('/cases', async (req, res) => {
    const cases = await listCaseQueue(context(), {
      status: req.query.status,
      owner: req.query.owner,
      pool: req.query.pool,
      customerId: idParam(req.query.customer_id, 'customer_id'),
      limit: idParam(req.query.limit, 'limit'),
    });
    res.json({ cases });
  });

  // Before /cases/:id, which would take `figures` for an id.
  router.get('/cases/figures', async (req, res) => void res.json(await caseFigures(context(), { from: req.query.from, to: req.query.to })));

  router.get('/cases/:id', async (req, res) => void res.json(await caseDetail(context(), caseId(req))));

  router.post('/cases/:id/notes', async (req, res) => {
    const { entry, case: row } = await noteCase(context(), actorOf(req), { caseId: caseId(req), body: body(req).body });
    res.status(201).json({ entry, case: services().view(row) });
  });

  router.post('/cases/:id/replies', async (req, res) => {
    const requestId = req.get('idempotency-key') ?? (typeof body(req).request_id === 'string' ? (body(req).request_id as string) : undefined);
    const { entry, case: row, message } = await replyToCase(context(), actorOf(req), { caseId: caseId(req), body: body(req).body, requestId });
    res.status(201).json({ entry, message: { id: message.messageId, status: message.status, channel: message.channel }, case: services().view(row) });
  });

  router.post('/cases/:id/status', async (req, res) => {
    const input = body(req);
    const result = await setCaseStatusOperation(context(), actorOf(req), {
      caseId: caseId(req),
      status: input.status,
      reason: input.reason,
      askFeedback: input.ask_feedback === true,
    });
    res.json({ changed: result.changed, from: result.from, case: services().view(result.case), feedback: result.feedback ?? null });
  });

  router.post('/cases/:id/assign', async (req, res) => {
    const result = await assignCaseOperation(context(), actorOf(req), { caseId: caseId(req), agentId: body(req).agent_id });
    res.json({ changed: result.changed, from: result.from, case: services().view(result.case) });
  });

  return router;
}
