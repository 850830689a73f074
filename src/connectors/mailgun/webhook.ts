import { BadRequestError, type ParsedEvent, type WebhookRequest } from '../define-connector.js';
import { parseFormBody } from '../shared/body.js';
import {
  addressSet,
  automatedReason,
  messageIds,
  newText,
  parseAddress,
  systemSender,
  TEXT_LIMIT,
  type EmailPayload,
} from '../shared/email-message.js';
import { verifyHmacSha256 } from '../shared/hmac.js';
import { parseMultipart, type MultipartFile } from '../shared/multipart.js';

export type MailgunSecrets = { signing_key: string; own_addresses?: string };

/** How old a delivery's `timestamp` may be (either way), as Mailgun advises for replay protection. */
export const MAX_AGE_SECONDS = 300;

/** A delivery's form: urlencoded, or multipart when the email has attachments (their names, types and sizes). */
export function mailgunForm(request: WebhookRequest): { fields: Record<string, string>; files: MultipartFile[] } {
  const contentType = request.headers['content-type'] ?? '';
  if (/^multipart\/form-data/i.test(contentType)) return parseMultipart(request.rawBody, contentType);
  if (/^application\/x-www-form-urlencoded/i.test(contentType))
    return { fields: parseFormBody(request.rawBody), files: [] };
  throw new BadRequestError(
    `unsupported content type "${contentType || '(none)'}": Mailgun posts multipart/form-data or urlencoded forms`,
  );
}

/**
 * Mailgun's signature: hex HMAC-SHA256 of `timestamp` + `token` under the webhook signing key. A timestamp more than
 * MAX_AGE_SECONDS away, or a token this process already accepted within that window (a replayed capture), is refused.
 * Across processes a replay can only repeat a stored delivery, which the inbox then counts as a duplicate.
 */
export function mailgunVerifier(now: () => number = Date.now) {
  const seen = new Map<string, number>();
  return (request: WebhookRequest, secrets: MailgunSecrets): boolean => {
    let fields: Record<string, string>;
    try {
      ({ fields } = mailgunForm(request));
    } catch {
      return false;
    }
    const { timestamp, token, signature } = fields;
    if (!timestamp || !token || !/^\d{1,12}$/.test(timestamp)) return false;
    if (!verifyHmacSha256(secrets.signing_key, timestamp + token, signature, 'hex')) return false;
    const at = now();
    if (Math.abs(at / 1000 - Number(timestamp)) > MAX_AGE_SECONDS) return false;
    for (const [old, expires] of seen) if (expires < at) seen.delete(old);
    if (seen.has(token)) return false;
    seen.set(token, at + 2 * MAX_AGE_SECONDS * 1000);
    return true;
  };
}

/** One `message.received` per delivery, keyed by the email's Message-ID (a re-sent delivery is a duplicate). */
export function parseMailgun(request: WebhookRequest, secrets: MailgunSecrets): ParsedEvent[] {
  const { fields, files } = mailgunForm(request);
  let pairs: unknown;
  try {
    pairs = JSON.parse(fields['message-headers'] ?? '[]');
  } catch {
    throw new BadRequestError('message-headers is not JSON');
  }
  if (!Array.isArray(pairs)) throw new BadRequestError('message-headers is not a list of [name, value] pairs');
  const headers = new Map<string, string>();
  for (const pair of pairs) {
    if (
      Array.isArray(pair) &&
      typeof pair[0] === 'string' &&
      typeof pair[1] === 'string' &&
      !headers.has(pair[0].toLowerCase())
    )
      headers.set(pair[0].toLowerCase(), pair[1]);
  }
  const header = (name: string) => headers.get(name.toLowerCase());
  const from = parseAddress(fields.from ?? header('from'));
  const own = addressSet(secrets.own_addresses);
  const stripped = fields['stripped-text'];
  const body =
    stripped !== undefined && stripped !== ''
      ? { text: stripped.trim().slice(0, TEXT_LIMIT), truncated: stripped.length > TEXT_LIMIT }
      : newText(fields['body-plain'] ?? '');
  const written = Date.parse(header('date') ?? '');
  const date = Number.isNaN(written) ? new Date(Number(fields.timestamp) * 1000) : new Date(written);
  const messageId = messageIds(header('message-id'))[0] ?? null;
  const payload: EmailPayload = {
    direction: 'inbound',
    mailbox: null,
    mailbox_agent: null,
    message_id: messageId,
    references: [...new Set([...messageIds(header('in-reply-to')), ...messageIds(header('references'))])],
    from,
    to: (fields.recipient ?? '').split(',').flatMap((value) => parseAddress(value) ?? []),
    cc: [],
    subject: fields.subject ?? header('subject') ?? null,
    date: date.toISOString(),
    text: body.text,
    text_truncated: body.truncated,
    attachments: files
      .filter((file) => /^attachment-\d+$/.test(file.field))
      .map((file) => ({ filename: file.filename, content_type: file.contentType, size: file.size })),
    automated: automatedReason(header, from, own) ?? null,
    system_sender: systemSender(from, own),
  };
  return [
    {
      type: 'message.received',
      externalId: `received:${messageId ?? `mailgun/${fields.token}`}`,
      occurredAt: payload.date,
      payload,
    },
  ];
}
