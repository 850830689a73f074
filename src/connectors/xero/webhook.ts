import { BadRequestError, type DirectResponse, type ParsedEvent, type WebhookRequest } from '../define-connector.js';
import { parseJsonBody } from '../shared/body.js';
import { verifyHmacSha256 } from '../shared/hmac.js';
import { category, eventType, utcTime, xeroEventType, xeroExternalId } from './resources.js';

/** `x-xero-signature` = base64 HMAC-SHA256 of the raw body, keyed with the webhook signing key. */
export function verifyXero(request: WebhookRequest, webhookKey: string): boolean {
  return verifyHmacSha256(webhookKey, request.rawBody, request.headers['x-xero-signature'], 'base64');
}

function readBody(request: WebhookRequest): { events?: unknown } | undefined {
  try {
    return parseJsonBody(request.rawBody) as { events?: unknown };
  } catch {
    return undefined;
  }
}

/**
 * Intent to receive: Xero POSTs bodies with an empty `events` array, some signed correctly and some not, and expects
 * 200 for the former and 401 for the latter, both without a body. Anything else is an ordinary delivery.
 */
export function handshakeXero(request: WebhookRequest, webhookKey: string): DirectResponse | undefined {
  if (request.method !== 'POST') return undefined;
  const events = readBody(request)?.events;
  if (!Array.isArray(events) || events.length > 0) return undefined;
  return { status: verifyXero(request, webhookKey) ? 200 : 401, body: '' };
}

/** One thin event per `events[]` item; categories other than CONTACT and INVOICE (credit notes, subscriptions) are dropped. */
export function parseXero(request: WebhookRequest): ParsedEvent[] {
  const body = parseJsonBody(request.rawBody, request.headers['content-type']) as { events?: unknown };
  if (!Array.isArray(body.events)) throw new BadRequestError('Xero webhook body has no events array');
  const parsed: ParsedEvent[] = [];
  for (const event of body.events as Array<Record<string, unknown> | null>) {
    const resource = category(event?.eventCategory);
    const type = xeroEventType(event?.eventType);
    if (!event || !resource || !type) continue;
    const { tenantId, resourceId, eventDateUtc } = event;
    if (typeof tenantId !== 'string' || typeof resourceId !== 'string' || typeof eventDateUtc !== 'string') {
      throw new BadRequestError('Xero event without tenantId, resourceId or eventDateUtc');
    }
    const occurredAt = utcTime(eventDateUtc);
    if (occurredAt === undefined)
      throw new BadRequestError(`Xero event with unreadable eventDateUtc "${eventDateUtc}"`);
    parsed.push({
      type: eventType(resource, type),
      externalId: xeroExternalId(tenantId, resourceId, type, eventDateUtc),
      occurredAt,
      payload: event,
    });
  }
  return parsed;
}
