import { Router } from 'express';
import { agentReply } from '../../operations/agent-reply.js';
import { logContact } from '../../operations/contact-log.js';
import { ConflictError } from '../../operations/errors.js';
import type { ContactContext } from '../../operations/person-contact.js';
import type { ApiOptions } from '../api.js';
import { apiActor, idParam } from './params.js';

/** People's own contacts through the API: an agent's message to the customer, a call or note logged by hand. */
export function customerContactsApi(options: ApiOptions): Router {
  const router = Router();
  const ctx = (): ContactContext => {
    if (!options.contacts) throw new ConflictError('this process does not send messages');
    return { ...options, contacts: options.contacts };
  };

  router.post('/customers/:id/messages', async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const result = await agentReply(ctx(), apiActor(req), {
      customerId: idParam(req),
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
      customerId: idParam(req),
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
