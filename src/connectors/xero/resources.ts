/** The Xero Accounting API resources crmflow follows, and how webhook events and API dates are read. */

export type Category = 'CONTACT' | 'INVOICE';
export type XeroEventType = 'CREATE' | 'UPDATE';

export interface ResourceSpec {
  /** Event noun and mapping file name. */
  noun: string;
  /** Path segment and response key: `GET /api.xro/2.0/Contacts/{id}` → `{"Contacts": [...]}`. */
  path: 'Contacts' | 'Invoices';
  /** Field holding the object's id. */
  idField: string;
  sample: string;
}

export const RESOURCES: Readonly<Record<Category, ResourceSpec>> = {
  CONTACT: { noun: 'contact', path: 'Contacts', idField: 'ContactID', sample: 'contact_katherine_warren' },
  INVOICE: { noun: 'invoice', path: 'Invoices', idField: 'InvoiceID', sample: 'invoice_INV-0006' },
};

export const VERBS: Readonly<Record<XeroEventType, string>> = { CREATE: 'created', UPDATE: 'updated' };

export function category(value: unknown): Category | undefined {
  return typeof value === 'string' && Object.hasOwn(RESOURCES, value) ? (value as Category) : undefined;
}

export function xeroEventType(value: unknown): XeroEventType | undefined {
  return typeof value === 'string' && Object.hasOwn(VERBS, value) ? (value as XeroEventType) : undefined;
}

export function eventType(resource: Category, type: XeroEventType): string {
  return `${RESOURCES[resource].noun}.${VERBS[type]}`;
}

/** `<tenantId>:<resourceId>:<eventType>:<eventDateUtc>`. */
export function xeroExternalId(tenantId: string, resourceId: string, type: XeroEventType, at: string): string {
  return `${tenantId}:${resourceId}:${type}:${at}`;
}

/** ISO, or undefined if unreadable. Webhook `eventDateUtc` is UTC written without a zone (`2024-06-21T01:15:39.902`). */
export function utcTime(value: string): string | undefined {
  const time = new Date(/(Z|[+-]\d\d:?\d\d)$/i.test(value) ? value : `${value}Z`);
  return Number.isNaN(time.getTime()) ? undefined : time.toISOString();
}

const MS_DATE = /^\/Date\((-?\d+)([+-]\d{4})?\)\/$/;

/**
 * Replaces the Accounting API's .NET dates (`/Date(1573755038314+0000)/`) with ISO strings, everywhere in `value`.
 * The milliseconds are UTC already; the offset only says which zone the value was entered in.
 */
export function withIsoDates(value: unknown): unknown {
  if (typeof value === 'string') {
    const match = MS_DATE.exec(value);
    return match ? new Date(Number(match[1])).toISOString() : value;
  }
  if (Array.isArray(value)) return value.map(withIsoDates);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, withIsoDates(item)]));
  }
  return value;
}

/** What mappings receive: the object as the API returns it with ISO dates, plus the tenant (organisation) it belongs to. */
export type ResourcePayload = Record<string, unknown> & { tenantId: string };

export function resourcePayload(tenantId: string, object: Record<string, unknown>): ResourcePayload {
  return { tenantId, ...(withIsoDates(object) as Record<string, unknown>) };
}
