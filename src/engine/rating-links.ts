import { feedbackToken, RATING_SCORES, type RatingKind } from '../customers/feedback-token.js';

/** How long a rating link works. */
const LINK_DAYS = 30;

/** Where rating links point and what signs them (`CRMFLOW_PUBLIC_URL`, `CRMFLOW_SECRET_KEY`). */
export interface RatingLinkOptions {
  publicUrl: string;
  secretKey: string;
}

/** One signed one-click link per score of a `kind` question about the message sent under `messageKey`. */
export function ratingLinks(
  options: RatingLinkOptions,
  now: Date,
  question: { messageKey: string; caseId: number | null; kind: RatingKind },
): string[] {
  const expires = Math.floor(now.getTime() / 1000) + LINK_DAYS * 86_400;
  const base = `${options.publicUrl.replace(/\/+$/, '')}/feedback/`;
  return RATING_SCORES[question.kind].map(
    (score) =>
      base +
      feedbackToken(options.secretKey, {
        message: question.messageKey,
        caseId: question.caseId,
        kind: question.kind,
        score,
        expires,
      }),
  );
}

/** The question with its links, appended to a reply's text. */
export function ratingQuestion(kind: RatingKind, links: readonly string[]): string {
  const scores = RATING_SCORES[kind];
  const ask =
    kind === 'csat'
      ? 'How satisfied are you with our help? One click:'
      : 'How likely are you to recommend us to a friend (0 = not at all, 10 = very)? One click:';
  return `${ask}\n${links.map((link, i) => `${scores[i]}/${scores.at(-1)}: ${link}`).join('\n')}`;
}
