import express, { Router, type NextFunction, type Request, type Response } from 'express';
import type { Queue } from 'bullmq';
import { safeEqual } from '../connectors/shared/hmac.js';
import type { JobData } from '../engine/queues.js';
import { normalizeEmail, normalizePhone } from '../customers/normalize.js';
import { CONSENT_CHANNELS, isConsentChannel } from '../customers/consent.js';
import { customerConsent, setCustomerConsent } from '../store/consents.js';
import { findCustomers, loadCustomerDetail, loadCustomerSummary } from '../store/customer-queries.js';
import { eraseCustomer, exportCustomer } from '../store/customer-rights.js';
import { CustomerChangeError, unmergeCustomer } from '../store/customers.js';
import { decideSuggestion, listSuggestions } from '../store/merge-suggestions.js';
import { getInboxEvent } from '../store/inbox.js';
import { listAgentStatus, setAgentAvailability } from '../store/assignments.js';
import { listAudit, recordAudit, type AuditEntry } from '../store/audit.js';
import { getMessage, listMessages, type MessageStatus } from '../store/messages.js';
import type { Pool } from '../store/pool.js';
import { getRun, listRuns, listStepRecords } from '../store/runs.js';
import { completeTask, listTasks } from '../store/tasks.js';
import type { LoadedConfig } from '../workflows/load.js';
import { HttpError, sendError } from './errors.js';
import { cancelRun, replayRun, retryRun } from './run-actions.js';
import { customerContactsApi } from './api/customer-contacts.js';
import type { PersonContactServices } from '../operations/person-contact.js';

export interface ApiOptions {
  pool: Pool;
  queue: Queue<JobData>;
  config: LoadedConfig;
  apiToken: string;
  defaultRegion: string;
  /** Sends an `uncertain` message again (see `createOutbound`). */
  resendMessage: (messageId: number) => Promise<{ status: string; reason?: string }>;
  /** The outbound path and timeline for people's own contacts (agent messages, logged calls); absent: 503 on those routes. */
  contacts?: PersonContactServices;
}

const MESSAGE_STATUSES: readonly MessageStatus[] = ['sending', 'sent', 'failed', 'skipped', 'uncertain'];

/** Bearer-token check on every API route. */
export function requireToken(token: string) {
  return (req: Request, res: Response, next: NextFunction) => {
    const header = req.headers.authorization ?? '';
    const given = header.startsWith('Bearer ') ? header.slice(7) : undefined;
    if (!safeEqual(token, given)) return sendError(res, 401, 'unauthorized', 'send Authorization: Bearer <CRMFLOW_API_TOKEN>', { 'WWW-Authenticate': 'Bearer' });
    next();
  };
}

function intParam(value: unknown, name: string, fallback?: number): number | undefined {
  if (value === undefined || value === '') return fallback;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 0) throw new HttpError(400, 'bad_request', `${name} must be a non-negative integer`);
  return number;
}

function limitParam(value: unknown): number {
  return Math.min(intParam(value, 'limit', 50)!, 500);
}

/** Who an API call is, for the audit log: the bearer token is one actor with admin rights. */
function audit(req: Request, entry: Omit<AuditEntry, 'actor' | 'role' | 'ip'>): AuditEntry {
  return { actor: 'api-token', role: 'admin', ip: req.ip ?? null, ...entry };
}

/** The store's refusals (no such merge, already undone…) as API errors. */
async function asHttp<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof CustomerChangeError) throw new HttpError(error.status, error.status === 404 ? 'not_found' : 'conflict', error.message);
    throw error;
  }
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export function apiRouter(options: ApiOptions): Router {
  const { pool } = options;
  const router = Router();
  router.use(requireToken(options.apiToken));
  // Bodies are read only for authenticated callers.
  router.use(express.json({ limit: '100kb' }));

  router.get('/customers', async (req, res) => {
    const email = text(req.query.email);
    const phone = text(req.query.phone);
    const customers = await findCustomers(pool, {
      email: email === undefined ? undefined : (normalizeEmail(email, options.config.identityPolicy) ?? email),
      phone: phone === undefined ? undefined : (normalizePhone(phone, options.defaultRegion) ?? phone),
      q: text(req.query.q)?.trim(),
      limit: Math.min(intParam(req.query.limit, 'limit', 20)!, 100),
    });
    // Each match as the full record (identities, owner, timeline, messages): a lookup answers in one request.
    const detailed = await Promise.all(customers.map((customer) => loadCustomerDetail(pool, customer.id)));
    res.json({ customers: detailed.filter(Boolean) });
  });

  router.get('/customers/:id', async (req, res) => {
    const customer = await loadCustomerDetail(pool, intParam(req.params.id, 'id')!);
    if (!customer) throw new HttpError(404, 'not_found', `no customer ${req.params.id}`);
    res.json(customer);
  });

  router.put('/customers/:id/consent', async (req, res) => {
    const customer = await loadCustomerSummary(pool, intParam(req.params.id, 'id')!);
    if (!customer) throw new HttpError(404, 'not_found', `no customer ${req.params.id}`);
    const { channel, granted, source } = (req.body ?? {}) as { channel?: unknown; granted?: unknown; source?: unknown };
    if (!isConsentChannel(channel) || typeof granted !== 'boolean' || (source !== undefined && (typeof source !== 'string' || source.trim() === '' || source.length > 200))) {
      throw new HttpError(400, 'bad_request', `send {"channel": ${Object.keys(CONSENT_CHANNELS).join('|')}, "granted": true|false, "source"?: "why, at most 200 characters"}`);
    }
    const addresses = await setCustomerConsent(pool, customer, { channel, granted, source: source?.trim() ?? 'api', actor: 'api-token' });
    if (addresses.length === 0) throw new HttpError(409, 'no_address', `customer ${customer.id} has no ${CONSENT_CHANNELS[channel]} to consent for ${channel}`);
    await recordAudit(pool, audit(req, { action: 'customer.consent', target: `customer:${customer.id}`, details: { channel, granted, source: source ?? 'api', addresses: addresses.length, via: 'api' } }));
    res.json({ customer_id: customer.id, channel, consent: (await customerConsent(pool, customer.id)).consent[channel] });
  });

  router.post('/customers/:id/unmerge', async (req, res) => {
    const id = intParam(req.params.id, 'id')!;
    const body = (req.body ?? {}) as { merge_id?: unknown; customer_id?: unknown };
    const mergeId = intParam(body.merge_id, 'merge_id');
    const mergedId = intParam(body.customer_id, 'customer_id');
    if ((mergeId === undefined) === (mergedId === undefined)) throw new HttpError(400, 'bad_request', 'send {"merge_id": N} or {"customer_id": <the merged customer>}');
    const actor = audit(req, { action: 'customer.unmerge' }).actor;
    const result = await asHttp(unmergeCustomer(pool, id, { mergeId, mergedId }, actor));
    await recordAudit(pool, audit(req, { action: 'customer.unmerge', target: `customer:${result.keptId}`, details: { merge_id: result.mergeId, merged_id: result.mergedId, restored: result.restored, via: 'api' } }));
    res.json({ merge_id: result.mergeId, kept_id: result.keptId, merged_id: result.mergedId, restored: result.restored });
  });

  router.get('/customers/:id/export', async (req, res) => {
    const id = intParam(req.params.id, 'id')!;
    const document = await exportCustomer(pool, id);
    if (!document) throw new HttpError(404, 'not_found', `no customer ${req.params.id}`);
    await recordAudit(pool, audit(req, { action: 'customer.export', target: `customer:${id}`, details: { via: 'api' } }));
    res.json(document);
  });

  router.delete('/customers/:id', async (req, res) => {
    const id = intParam(req.params.id, 'id')!;
    const erased = await eraseCustomer(pool, id);
    if (!erased) throw new HttpError(404, 'not_found', `no customer ${req.params.id}`);
    // Ids and counts only: the audit log is append-only and must never hold the erased person's data.
    await recordAudit(pool, audit(req, { action: 'customer.erase', target: `customer:${id}`, details: { customer_ids: erased.customerIds, identities: erased.identities, rows: erased.rows, via: 'api' } }));
    res.json({ customer_ids: erased.customerIds, identities_blocked: erased.identities, rows: erased.rows });
  });

  router.get('/merge-suggestions', async (req, res) => {
    const status = text(req.query.status) ?? 'open';
    if (!['open', 'accepted', 'rejected'].includes(status)) throw new HttpError(400, 'bad_request', 'status must be open, accepted or rejected');
    const suggestions = await listSuggestions(pool, { status, before: intParam(req.query.before, 'before'), limit: limitParam(req.query.limit) });
    res.json({ suggestions, next_before: suggestions.length > 0 ? suggestions.at(-1)!.id : null });
  });

  for (const [verb, decision] of [['accept', 'accepted'], ['reject', 'rejected']] as const) {
    router.post(`/merge-suggestions/:id/${verb}`, async (req, res) => {
      const id = intParam(req.params.id, 'id')!;
      const entry = audit(req, { action: `merge_suggestion.${verb}`, target: `suggestion:${id}` });
      const decided = await asHttp(decideSuggestion(pool, id, decision, entry.actor));
      await recordAudit(pool, { ...entry, details: { customer_a: decided.customer_a, customer_b: decided.customer_b, ...(decided.merge_id ? { merge_id: decided.merge_id } : {}), via: 'api' } });
      res.json(decided);
    });
  }

  router.get('/runs', async (req, res) => {
    const runs = await listRuns(pool, {
      workflow: text(req.query.workflow),
      status: text(req.query.status),
      customerId: intParam(req.query.customer_id, 'customer_id'),
      before: intParam(req.query.before, 'before'),
      limit: limitParam(req.query.limit),
    });
    res.json({ runs, next_before: runs.length > 0 ? runs.at(-1)!.id : null });
  });

  router.get('/runs/:id', async (req, res) => {
    const run = await getRun(pool, intParam(req.params.id, 'id')!);
    if (!run) throw new HttpError(404, 'not_found', `no run ${req.params.id}`);
    const [steps, event] = await Promise.all([
      listStepRecords(pool, run.id),
      run.inboxEventId === null ? undefined : getInboxEvent(pool, run.inboxEventId),
    ]);
    res.json({ ...run, steps, event: event ?? null });
  });

  router.post('/runs/:id/retry', async (req, res) => {
    const { runId, jobId } = await retryRun(pool, options.queue, intParam(req.params.id, 'id')!);
    await recordAudit(pool, audit(req, { action: 'run.retry', target: `run:${runId}`, details: { job_id: jobId, via: 'api' } }));
    res.status(202).json({ run_id: runId, job_id: jobId, status: 'queued' });
  });

  router.post('/runs/:id/replay', async (req, res) => {
    const { runId, jobId, replay } = await replayRun(pool, options.queue, intParam(req.params.id, 'id')!, new Set(options.config.workflows.map((workflow) => workflow.id)));
    await recordAudit(pool, audit(req, { action: 'run.replay', target: `run:${runId}`, details: { job_id: jobId, replay, via: 'api' } }));
    res.status(202).json({ run_id: runId, job_id: jobId, replay, status: 'queued' });
  });

  router.post('/runs/:id/cancel', async (req, res) => {
    const reason = (req.body as { reason?: unknown } | undefined)?.reason;
    const run = await cancelRun(pool, intParam(req.params.id, 'id')!, reason);
    await recordAudit(pool, audit(req, { action: 'run.cancel', target: `run:${run.id}`, details: { reason: String(reason).trim(), via: 'api' } }));
    res.json({ run_id: run.id, status: run.status, error: run.error });
  });

  router.post('/messages/:id/resend', async (req, res) => {
    const id = intParam(req.params.id, 'id')!;
    const message = await getMessage(pool, id);
    if (!message) throw new HttpError(404, 'not_found', `no message ${id}`);
    if (message.status !== 'uncertain') throw new HttpError(409, 'not_uncertain', `message ${id} is ${message.status}; only uncertain messages are resent (failed ones are retried with their run)`);
    // Audited before the send: the person's decision stands even if this process dies while sending.
    await recordAudit(pool, audit(req, { action: 'message.resend', target: `message:${id}`, details: { channel: message.channel, via: 'api' } }));
    const result = await options.resendMessage(id);
    if (result.status === 'not_uncertain') throw new HttpError(409, 'not_uncertain', `message ${id} is no longer uncertain (resent by someone else)`);
    res.json({ message_id: id, status: result.status, ...(result.reason ? { reason: result.reason } : {}) });
  });

  router.get('/messages', async (req, res) => {
    const status = text(req.query.status);
    if (status !== undefined && !MESSAGE_STATUSES.includes(status as MessageStatus)) throw new HttpError(400, 'bad_request', `status must be one of ${MESSAGE_STATUSES.join(', ')}`);
    const messages = await listMessages(pool, {
      status: status as MessageStatus | undefined,
      customerId: intParam(req.query.customer_id, 'customer_id'),
      before: intParam(req.query.before, 'before'),
      limit: limitParam(req.query.limit),
    });
    res.json({ messages });
  });

  router.get('/workflows', (_req, res) => {
    res.json({
      workflows: options.config.workflows.map((workflow) => ({
        id: workflow.id,
        name: workflow.name,
        enabled: workflow.enabled,
        version: workflow.version,
        trigger: workflow.config.trigger,
        steps: workflow.steps.map((step) => ({ id: step.id, type: step.definition.type })),
      })),
    });
  });

  router.post('/workflows/:id/poll', async (req, res) => {
    const workflow = options.config.workflows.find((candidate) => candidate.id === req.params.id);
    if (!workflow) throw new HttpError(404, 'not_found', `no workflow ${req.params.id}`);
    if (workflow.trigger.kind !== 'poll') throw new HttpError(409, 'not_a_poll', `workflow ${workflow.id} is not started by a poll trigger`);
    if (!workflow.enabled) throw new HttpError(409, 'disabled', `workflow ${workflow.id} is disabled in the workflows file`);
    // A pull already running for the same resource makes this one a no-op (one puller per resource).
    const job = await options.queue.add('pull', { kind: 'pull', workflow: workflow.id });
    await recordAudit(pool, audit(req, { action: 'workflow.poll', target: `workflow:${workflow.id}`, details: { job_id: job.id ?? null, via: 'api' } }));
    res.status(202).json({ workflow: workflow.id, job_id: job.id, status: 'queued' });
  });

  router.get('/agents', async (_req, res) => {
    const status = new Map((await listAgentStatus(pool, [...options.config.agents.keys()])).map((row) => [row.agent_id, row]));
    res.json({
      agents: [...options.config.agents.values()].map((agent) => ({
        ...agent,
        available: status.get(agent.id)?.available ?? agent.available ?? true,
        open_leads: status.get(agent.id)?.open_leads ?? 0,
      })),
    });
  });

  router.put('/agents/:id/availability', async (req, res) => {
    const agent = options.config.agents.get(String(req.params.id));
    if (!agent) throw new HttpError(404, 'not_found', `no agent ${req.params.id}`);
    const available = (req.body as { available?: unknown } | undefined)?.available;
    if (typeof available !== 'boolean') throw new HttpError(400, 'bad_request', 'send {"available": true|false}');
    await setAgentAvailability(pool, agent.id, available, 'api');
    await recordAudit(pool, audit(req, { action: 'agent.availability', target: `agent:${agent.id}`, details: { available, via: 'api' } }));
    res.json({ agent_id: agent.id, available });
  });

  router.get('/tasks', async (req, res) => {
    const tasks = await listTasks(pool, {
      agentId: text(req.query.agent_id),
      status: text(req.query.status),
      customerId: intParam(req.query.customer_id, 'customer_id'),
      before: intParam(req.query.before, 'before'),
      limit: limitParam(req.query.limit),
    });
    res.json({ tasks, next_before: tasks.length > 0 ? tasks.at(-1)!.id : null });
  });

  router.post('/tasks/:id/complete', async (req, res) => {
    const result = await completeTask(pool, intParam(req.params.id, 'id')!, 'api-token');
    if (!result) throw new HttpError(404, 'not_found', `no task ${req.params.id}`);
    if (!result.changed) throw new HttpError(409, 'not_open', `task ${result.task.id} is ${result.task.status}; only open tasks can be completed`);
    await recordAudit(pool, audit(req, { action: 'task.complete', target: `task:${result.task.id}`, details: { via: 'api' } }));
    res.json(result.task);
  });

  router.get('/audit', async (req, res) => {
    const entries = await listAudit(pool, { before: intParam(req.query.before, 'before'), limit: limitParam(req.query.limit) });
    res.json({ entries, next_before: entries.length > 0 ? entries.at(-1)!.id : null });
  });

  router.use(customerContactsApi(options));
  router.use((_req, res) => sendError(res, 404, 'not_found', 'no such API route'));
  return router;
}
