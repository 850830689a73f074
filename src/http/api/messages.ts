import { Router } from 'express';
import { listMessages, resendMessage } from '../../operations/messages.js';
import type { ApiOptions } from '../api.js';
import { apiActor, idParam, listQuery, snakeKeys, text } from './params.js';

export function messagesApi(options: ApiOptions): Router {
  const router = Router();

  router.get('/messages', async (req, res) => {
    const messages = await listMessages(options, { status: text(req.query.status), ...listQuery(req.query) });
    res.json({ messages: messages.map(snakeKeys) });
  });

  router.post('/messages/:id/resend', async (req, res) => {
    const { messageId, ...result } = await resendMessage(options, apiActor(req), { messageId: idParam(req) });
    res.json({ message_id: messageId, ...result });
  });

  return router;
}
