import { Router, type Request } from 'express';
import type { Actor } from '../../operations/context.js';
import { agentReply } from '../../operations/agent-reply.js';
import { logContact } from '../../operations/contact-log.js';
import type { ApiOptions } from '../api.js';
import { HttpError } from '../errors.js';

const apiActor = (req: Request): Actor => ({ name: 'api-token', role: 'admin', ip: req.ip ?? null, via: 'api' });

function customerId(value: unknown): number {
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value)) throw new HttpError(400, 'bad_request', 'id must be a non-negative integer');
  return Number(value);
}

/** People's own contacts through the API: an agent's message to the customer, a call or note logged by hand. */
export function customerContactsApi(options: ApiOptions): Router {
  const router = Router();
  const ctx = () => {
    if (!options.contacts) throw new HttpError(503, 'unavailable', 'this process does not send messages');
    return { pool: options.pool, queue: options.queue, config: options.config, defaultRegion: options.defaultRegion, contacts: options.contacts };
  };
  router.post('/customers/:id/messages', async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const result = await agentReply(ctx(), apiActor(req), {
      customerId: customerId(req.params.id),
      channel: body.channel,
      text: body.text,
      subject: body.subject,
      agentId: body.agent_id,
      idempotencyKey: req.get('idempotency-key'),
    });
    res.status(201).json(result);
  });
  router.post('/customers/:id/contacts', async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const result = await logContact(ctx(), apiActor(req), {
      customerId: customerId(req.params.id),
      kind: body.kind,
      text: body.text,
      occurredAt: body.occurred_at,
      durationSeconds: body.duration_seconds,
      agentId: body.agent_id,
    });
    res.status(201).json(result);
  });
  return router;
}
