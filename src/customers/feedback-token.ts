import { createHmac } from 'node:crypto';
import { safeEqual } from '../connectors/shared/hmac.js';

const TOKEN_PURPOSE = 'crmflow-feedback-v1';

/** A satisfaction question: CSAT (1–5) or NPS (0–10, "how likely are you to recommend us"). */
export type RatingKind = 'csat' | 'nps';

/** The scores a question offers, lowest first. */
export const RATING_SCORES: Readonly<Record<RatingKind, readonly number[]>> = {
  csat: [1, 2, 3, 4, 5],
  nps: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
};

/** What a rating link records: `score` for the message sent under `message` (its idempotency key), about `caseId`. */
export interface FeedbackClaim {
  message: string;
  caseId: number | null;
  kind: RatingKind;
  score: number;
  /** Unix seconds after which the link changes nothing. */
  expires: number;
}

/**
 * The token of a one-click rating link, signed like unsubscribe links (HMAC-SHA256 under CRMFLOW_SECRET_KEY): only
 * crmflow can mint one, and it names one message, one score and an expiry.
 */
export function feedbackToken(secretKey: string, claim: FeedbackClaim): string {
  const encoded = Buffer.from(
    JSON.stringify([claim.message, claim.caseId, claim.kind, claim.score, claim.expires]),
    'utf8',
  ).toString('base64url');
  return `${encoded}.${createHmac('sha256', secretKey).update(`${TOKEN_PURPOSE}:${encoded}`).digest('base64url')}`;
}

/** The claim of a valid, unexpired token; undefined for a forged, altered, malformed or expired one. */
export function verifyFeedbackToken(secretKey: string, token: string, now: Date): FeedbackClaim | undefined {
  const [encoded, signature, extra] = token.split('.');
  if (!encoded || !signature || extra !== undefined) return undefined;
  const expected = createHmac('sha256', secretKey).update(`${TOKEN_PURPOSE}:${encoded}`).digest('base64url');
  if (!safeEqual(expected, signature)) return undefined;
  try {
    const [message, caseId, kind, score, expires] = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as [
      string,
      number | null,
      RatingKind,
      number,
      number,
    ];
    if (
      typeof message !== 'string' ||
      (kind !== 'csat' && kind !== 'nps') ||
      !RATING_SCORES[kind].includes(score) ||
      expires * 1000 < now.getTime()
    )
      return undefined;
    return { message, caseId, kind, score, expires };
  } catch {
    return undefined;
  }
}
