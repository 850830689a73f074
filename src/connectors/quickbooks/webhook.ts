import { BadRequestError, type ParsedEvent, type WebhookRequest } from '../define-connector.js';
import { parseJsonBody } from '../shared/body.js';
import { verifyHmacSha256 } from '../shared/hmac.js';
import {
  changeExternalId,
  entityFromNoun,
  entityName,
  eventType,
  isFollowed,
  isoTime,
  operationFromVerb,
  type ChangeNotice,
  type EntityName,
} from './entities.js';

/** `intuit-signature` = base64 HMAC-SHA256 of the raw body, keyed with the app's Verifier Token. */
export function verifyQuickBooks(request: WebhookRequest, verifierToken: string): boolean {
  return verifyHmacSha256(verifierToken, request.rawBody, request.headers['intuit-signature'], 'base64');
}

/**
 * One event per changed entity. Accepts the classic body (`eventNotifications[].dataChangeEvent.entities[]`, batched
 * over realms) and the CloudEvents array (`[{type: "qbo.customer.created.v1", intuitaccountid, intuitentityid, time}]`).
 */
export function parseQuickBooks(request: WebhookRequest): ParsedEvent[] {
  const body = parseJsonBody(request.rawBody, request.headers['content-type']);
  const notices = Array.isArray(body) ? fromCloudEvents(body) : fromClassic(body as Record<string, unknown>);
  return notices.map((notice) => ({
    type: eventType(notice.name, notice.operation),
    externalId: changeExternalId(notice),
    occurredAt: isoTime(notice.lastUpdated),
    payload: notice,
  }));
}

function text(value: unknown, what: string): string {
  if ((typeof value === 'string' && value !== '') || typeof value === 'number') return String(value);
  throw new BadRequestError(`QuickBooks notification without ${what}`);
}

function notice(
  realmId: unknown,
  name: EntityName,
  id: unknown,
  operation: ChangeNotice['operation'],
  lastUpdated: unknown,
): ChangeNotice {
  return {
    realmId: text(realmId, 'realmId'),
    name,
    id: text(id, 'entity id'),
    operation,
    lastUpdated: text(lastUpdated, 'lastUpdated'),
  };
}

function fromClassic(body: Record<string, unknown>): ChangeNotice[] {
  if (!Array.isArray(body.eventNotifications))
    throw new BadRequestError('QuickBooks webhook body has no eventNotifications array');
  const notices: ChangeNotice[] = [];
  for (const notification of body.eventNotifications as Array<Record<string, unknown> | null>) {
    const entities = (notification?.dataChangeEvent as { entities?: unknown } | undefined)?.entities;
    if (!Array.isArray(entities))
      throw new BadRequestError('QuickBooks notification has no dataChangeEvent.entities array');
    for (const entity of entities as Array<Record<string, unknown> | null>) {
      const name = entityName(entity?.name);
      const operation = entity?.operation;
      if (!name || !isFollowed(name, operation)) continue;
      notices.push(notice(notification?.realmId, name, entity?.id, operation, entity?.lastUpdated));
    }
  }
  return notices;
}

const CLOUD_EVENT_TYPE = /^qbo\.([a-z]+)\.([a-z]+)\.v\d+$/;

function fromCloudEvents(body: unknown[]): ChangeNotice[] {
  const notices: ChangeNotice[] = [];
  for (const event of body as Array<Record<string, unknown> | null>) {
    const match = typeof event?.type === 'string' ? CLOUD_EVENT_TYPE.exec(event.type) : null;
    if (!match) throw new BadRequestError(`QuickBooks CloudEvent with unreadable type ${JSON.stringify(event?.type)}`);
    const name = entityFromNoun(match[1]!);
    const operation = operationFromVerb(match[2]!);
    if (!name || !operation || !isFollowed(name, operation)) continue;
    notices.push(notice(event?.intuitaccountid, name, event?.intuitentityid, operation, event?.time));
  }
  return notices;
}
