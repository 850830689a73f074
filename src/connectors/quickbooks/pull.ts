import type { ParsedEvent, PullResource, Secrets } from '../define-connector.js';
import { entityPayload, MINOR_VERSION, quickBooksApi, type QuickBooksSecretName } from './api.js';
import { changeExternalId, eventType, isoTime, type EntityName, type Operation } from './entities.js';

const CDC_ENTITIES: readonly EntityName[] = ['Customer', 'Estimate', 'Invoice', 'Payment'];
/** CDC returns at most this many objects per entity; a full list means more changes are waiting. */
export const CDC_LIMIT = 1000;
/** CDC looks back at most 30 days; an older `changedSince` is an error. A minute of margin for the clock. */
const CDC_LOOKBACK_MS = 30 * 24 * 3600 * 1000 - 60_000;

interface CdcEntity {
  Id?: unknown;
  status?: unknown;
  MetaData?: { CreateTime?: unknown; LastUpdatedTime?: unknown };
}

interface CdcResponse {
  CDCResponse?: Array<{ QueryResponse?: Array<Partial<Record<EntityName, CdcEntity[]>>> }>;
}

/**
 * Change Data Capture over Customer, Invoice and Payment. The cursor is the newest `LastUpdatedTime` seen (ISO);
 * the first pull starts at `since`, or as far back as CDC allows (30 days).
 */
export const changes: PullResource<Secrets<QuickBooksSecretName>> = {
  summary: 'Customers, invoices and payments changed since the last pull (Change Data Capture, at most 30 days back).',
  list: async (context, cursor, { since }) => {
    const realmId = context.secrets.realm_id;
    if (!realmId) throw new Error('QuickBooks pulls need the company id: set secret realm_id (QUICKBOOKS_REALM_ID)');
    const oldest = Date.now() - CDC_LOOKBACK_MS;
    const requested = typeof cursor === 'string' ? Date.parse(cursor) : (since?.getTime() ?? oldest);
    const changedSince = new Date(Math.max(Number.isNaN(requested) ? oldest : requested, oldest)).toISOString();

    const response = await quickBooksApi(context).request<CdcResponse>({
      method: 'GET',
      url: `/v3/company/${encodeURIComponent(realmId)}/cdc`,
      params: { entities: CDC_ENTITIES.join(','), changedSince, minorversion: MINOR_VERSION },
    });

    const events: ParsedEvent[] = [];
    let newest = changedSince;
    let full = false;
    for (const query of response.data?.CDCResponse?.[0]?.QueryResponse ?? []) {
      for (const name of CDC_ENTITIES) {
        const entities = query[name];
        if (!Array.isArray(entities)) continue;
        full ||= entities.length >= CDC_LIMIT;
        for (const entity of entities) {
          const event = changeEvent(realmId, name, entity);
          if (!event) continue;
          events.push(event);
          if (Date.parse(event.occurredAt) > Date.parse(newest)) newest = event.occurredAt;
        }
      }
    }
    // A full list continues from the newest change seen; when all of those share one timestamp, stop for this run.
    return full && newest !== changedSince
      ? { events, nextCursor: newest }
      : { events, nextCursor: null, resumeCursor: newest };
  },
};

/** Deleted objects (`status: "Deleted"`, no data left) are skipped, like deletions in webhooks. */
function changeEvent(realmId: string, name: EntityName, entity: CdcEntity): ParsedEvent | undefined {
  const updated = entity.MetaData?.LastUpdatedTime;
  if (entity.status === 'Deleted' || typeof entity.Id !== 'string' || typeof updated !== 'string') return undefined;
  // CDC does not say what happened; an object never modified after its creation was created.
  const operation: Operation = entity.MetaData?.CreateTime === updated ? 'Create' : 'Update';
  return {
    type: eventType(name, operation),
    externalId: changeExternalId({ realmId, name, id: entity.Id, operation, lastUpdated: updated }),
    occurredAt: isoTime(updated),
    payload: entityPayload(realmId, entity as Record<string, unknown>),
  };
}
