import type { ParsedEvent, PullResource, Secrets } from '../define-connector.js';
import { xeroApi, type XeroSecretName } from './api.js';
import { eventType, RESOURCES, resourcePayload, xeroExternalId, type Category } from './resources.js';

/** Where a pull stands: the `If-Modified-Since` of this run, the next page, and the newest `UpdatedDateUTC` seen so far. */
export interface XeroCursor {
  modifiedSince: string | null;
  page: number;
  newest: string | null;
}

const MAX_PAGE_SIZE = 1000;

function readCursor(cursor: unknown, since: Date | undefined): XeroCursor {
  const stored = cursor as Partial<XeroCursor> | null;
  if (stored && typeof stored === 'object' && Number.isInteger(stored.page)) {
    return { modifiedSince: stored.modifiedSince ?? null, page: stored.page!, newest: stored.newest ?? null };
  }
  return { modifiedSince: since?.toISOString() ?? null, page: 1, newest: null };
}

const later = (a: string | null, b: string): string => (a !== null && Date.parse(a) >= Date.parse(b) ? a : b);

/**
 * Lists one resource modified since the cursor, page by page until an empty page. The next run starts at the newest
 * `UpdatedDateUTC` seen, floored to the second (what `If-Modified-Since` resolves); objects seen twice de-duplicate.
 */
function modifiedSincePull(resource: Category): PullResource<Secrets<XeroSecretName>> {
  const { path, idField } = RESOURCES[resource];
  return {
    summary: `${path} created or changed since the last pull (If-Modified-Since, paged). Needs tenant_id.`,
    list: async (context, cursor, { since, pageSize }) => {
      const tenantId = context.secrets.tenant_id;
      if (!tenantId) throw new Error('Xero pulls need the organisation: set secret tenant_id (XERO_TENANT_ID)');
      const at = readCursor(cursor, since);
      const response = await xeroApi(context).request<Partial<Record<typeof path, Array<Record<string, unknown>>>>>({
        method: 'GET',
        url: `/api.xro/2.0/${path}`,
        params: { page: at.page, pageSize: Math.min(pageSize, MAX_PAGE_SIZE), order: 'UpdatedDateUTC ASC' },
        headers: { 'xero-tenant-id': tenantId, ...(at.modifiedSince ? { 'if-modified-since': at.modifiedSince } : {}) },
        validateStatus: (status) => status < 300 || status === 304,
      });
      const items = response.status === 304 ? [] : (response.data?.[path] ?? []);
      if (items.length === 0) {
        const resumeFrom =
          at.newest === null
            ? at.modifiedSince
            : new Date(Math.floor(Date.parse(at.newest) / 1000) * 1000).toISOString();
        return {
          events: [],
          nextCursor: null,
          resumeCursor: { modifiedSince: resumeFrom, page: 1, newest: null } satisfies XeroCursor,
        };
      }
      const events: ParsedEvent[] = items.flatMap((item) => {
        const payload = resourcePayload(tenantId, item);
        const updated = payload.UpdatedDateUTC;
        if (typeof updated !== 'string' || Number.isNaN(Date.parse(updated))) return [];
        // Lists do not say whether an object is new: pulled objects are reported as updated.
        const externalId = xeroExternalId(tenantId, String(payload[idField]), 'UPDATE', updated);
        return [{ type: eventType(resource, 'UPDATE'), externalId, occurredAt: updated, payload }];
      });
      const newest = events.reduce<string | null>((max, event) => later(max, event.occurredAt), at.newest);
      return {
        events,
        nextCursor: { modifiedSince: at.modifiedSince, page: at.page + 1, newest } satisfies XeroCursor,
      };
    },
  };
}

export const contacts = modifiedSincePull('CONTACT');
export const invoices = modifiedSincePull('INVOICE');
