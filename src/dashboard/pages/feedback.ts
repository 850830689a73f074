import { RATING_SCORES } from '../../customers/feedback-token.js';
import express, { Router } from 'express';
import type { OperationContext } from '../../operations/context.js';
import { NotFoundError } from '../../operations/errors.js';
import { ratingOf, recordRating } from '../../operations/feedback.js';
import { html } from '../html.js';

export interface FeedbackOptions {
  ctx: OperationContext;
  /** The key rating links are signed with (CRMFLOW_SECRET_KEY); absent, every link is refused. */
  secretKey: string | undefined;
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
  // Answered by the app's error handler in its JSON error shape.
  const invalid = () => new NotFoundError('this rating link is not valid or has expired');

  router.get('/:token', (req, res) => {
    const answer = ratingOf(options.ctx, { secretKey: options.secretKey, token: req.params.token });
    if (!answer) throw invalid();
    res
      .set('Cache-Control', 'no-store')
      .type('html')
      .send(
        page(
          'Thanks for your rating',
          html`<form method="post" data-auto-submit>
            <p>Your rating: <strong>${answer.score} out of ${RATING_SCORES[answer.kind].at(-1)}</strong></p>
            <button type="submit">Send my rating</button>
          </form>`,
        ),
      );
  });

  router.post('/:token', express.urlencoded({ extended: false, limit: '1kb' }), async (req, res) => {
    const answer = await recordRating(options.ctx, { secretKey: options.secretKey, token: req.params.token });
    if (!answer) throw invalid();
    res
      .set('Cache-Control', 'no-store')
      .type('html')
      .send(
        page(
          'Thank you',
          html`<p>We recorded your rating: ${answer.score} out of ${RATING_SCORES[answer.kind].at(-1)}. You can change it with another link of the same message.</p>`,
        ),
      );
  });

  return router;
}
