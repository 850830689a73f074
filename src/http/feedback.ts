import express, { Router } from 'express';
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import { verifyFeedbackToken } from '../customers/feedback-token.js';
import { html } from '../dashboard/html.js';
import { engineEventPublisher, listenedEventTypes } from '../engine/event-dispatch.js';
import type { JobData } from '../engine/queues.js';
import { recordFeedback } from '../store/feedback.js';
import type { Pool } from '../store/pool.js';
import type { LoadedConfig } from '../workflows/load.js';
import { sendError } from './errors.js';

export interface FeedbackOptions {
  pool: Pool;
  queue: Queue<JobData>;
  config: LoadedConfig;
  /** The key rating links are signed with (CRMFLOW_SECRET_KEY); absent, every link is refused. */
  secretKey: string | undefined;
  logger: Logger;
  now?: () => Date;
}

const page = (title: string, body: ReturnType<typeof html>) =>
  html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title}</title>
        <link rel="stylesheet" href="/assets/dashboard.css" />
        <script src="/assets/feedback.js" defer></script>
      </head>
      <body>
        <main>
          <h1>${title}</h1>
          ${body}
        </main>
      </body>
    </html>`.value;

/**
 * The public one-click rating links of satisfaction questions, outside /api by design: the signed token is the
 * credential and names the message, the score and an expiry. A GET changes nothing (mail scanners fetch every link of
 * a message): it shows the chosen score in a form that the page's script submits at once, so a person's click records
 * it; a POST records it. One answer per message: a second click changes it. A forged or expired link changes nothing.
 */
export function feedbackRouter(options: FeedbackOptions): Router {
  const router = Router();
  const now = options.now ?? (() => new Date());
  const publish = engineEventPublisher(options);
  const listened = listenedEventTypes(options.config);
  const claim = (token: string) => (options.secretKey ? verifyFeedbackToken(options.secretKey, token, now()) : undefined);
  const refuse = (res: Parameters<typeof sendError>[0]) => sendError(res, 404, 'not_found', 'this rating link is not valid or has expired');

  router.get('/:token', (req, res) => {
    const answer = claim(req.params.token);
    if (!answer) return refuse(res);
    res
      .set('Cache-Control', 'no-store')
      .type('html')
      .send(
        page(
          'Thanks for your rating',
          html`<form method="post" data-auto-submit>
            <p>Your rating: <strong>${answer.score} out of 5</strong></p>
            <button type="submit">Send my rating</button>
          </form>`,
        ),
      );
  });

  router.post('/:token', express.urlencoded({ extended: false, limit: '1kb' }), async (req, res) => {
    const answer = claim(req.params.token);
    if (!answer) return refuse(res);
    const result = await recordFeedback(options.pool, {
      messageKey: answer.message,
      caseId: answer.caseId,
      kind: answer.kind,
      score: answer.score,
      at: now(),
      listened,
    });
    if (!result) return refuse(res);
    await publish([result.event]);
    res
      .set('Cache-Control', 'no-store')
      .type('html')
      .send(page('Thank you', html`<p>We recorded your rating: ${answer.score} out of 5. You can change it with another link of the same message.</p>`));
  });

  return router;
}
