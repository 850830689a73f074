import { verifyFeedbackToken, type FeedbackClaim } from '../customers/feedback-token.js';
import { engineEventPublisher, listenedEventTypes } from '../engine/event-dispatch.js';
import { recordFeedback } from '../store/feedback.js';
import { nowOf, type OperationContext } from './context.js';

/** The answer a signed rating link carries; undefined for a forged, altered or expired link (or when no key is set). */
export function ratingOf(
  ctx: OperationContext,
  input: { secretKey: string | undefined; token: string },
): FeedbackClaim | undefined {
  return input.secretKey ? verifyFeedbackToken(input.secretKey, input.token, nowOf(ctx)) : undefined;
}

/**
 * The recipient's one-click rating: one answer per message (a second click changes it, the same click again changes
 * nothing), on the customer's timeline and the case's thread, with a `feedback.received` engine event. The signed
 * token is the credential, so there is no actor and no audit entry. Undefined for a link that is not valid or names
 * no sent message.
 */
export async function recordRating(
  ctx: OperationContext,
  input: { secretKey: string | undefined; token: string },
): Promise<FeedbackClaim | undefined> {
  const answer = ratingOf(ctx, input);
  if (!answer) return undefined;
  const result = await recordFeedback(ctx.pool, {
    messageKey: answer.message,
    caseId: answer.caseId,
    kind: answer.kind,
    score: answer.score,
    at: nowOf(ctx),
    listened: listenedEventTypes(ctx.config),
  });
  if (!result) return undefined;
  await engineEventPublisher(ctx)([result.event]);
  return answer;
}
