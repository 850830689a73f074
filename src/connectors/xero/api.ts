import type { ConnectorContext, ParsedEvent, Secrets } from '../define-connector.js';
import { createOAuth2Client, type OAuth2Client } from '../shared/oauth2-refresh.js';
import { contextClient } from '../shared/vendor-http.js';
import { category, RESOURCES, resourcePayload, type Category } from './resources.js';

export type XeroSecretName =
  'webhook_key' | 'client_id' | 'client_secret' | 'refresh_token' | 'tenant_id' | 'token_url';
export type XeroContext = ConnectorContext<Secrets<XeroSecretName>>;

export const DEFAULT_TOKEN_URL = 'https://identity.xero.com/connect/token';

/** Accounting API client with OAuth2 tokens persisted through `context.tokens` (Xero rotates refresh tokens). */
export function xeroApi(context: XeroContext): OAuth2Client {
  const { secrets } = context;
  return createOAuth2Client(context, contextClient(context, { headers: { accept: 'application/json' } }), {
    vendor: 'Xero',
    tokenUrl: secrets.token_url || DEFAULT_TOKEN_URL,
    clientId: secrets.client_id,
    clientSecret: secrets.client_secret,
    refreshToken: secrets.refresh_token || undefined,
    refreshTokenSetting: 'XERO_REFRESH_TOKEN',
  });
}

/** Reads one object of one tenant; undefined when Xero answers 404 (deleted or archived away since the event). */
export async function readResource(
  api: OAuth2Client,
  tenantId: string,
  resource: Category,
  id: string,
): Promise<Record<string, unknown> | undefined> {
  const { path } = RESOURCES[resource];
  const response = await api.request<Partial<Record<typeof path, unknown[]>>>({
    method: 'GET',
    url: `/api.xro/2.0/${path}/${encodeURIComponent(id)}`,
    headers: { 'xero-tenant-id': tenantId },
    validateStatus: (status) => status < 300 || status === 404,
  });
  if (response.status === 404) return undefined;
  const object = response.data?.[path]?.[0];
  if (object === null || typeof object !== 'object')
    throw new Error(`Xero GET ${path}/${id}: the response has no ${path}[0]`);
  return object as Record<string, unknown>;
}

interface XeroNotice {
  tenantId: string;
  resourceId: string;
  eventCategory: Category;
}

/** A thin webhook payload (ids only), as opposed to a full object from a pull. */
function isNotice(payload: unknown): payload is XeroNotice {
  const notice = payload as Partial<XeroNotice>;
  return (
    typeof notice?.tenantId === 'string' &&
    typeof notice.resourceId === 'string' &&
    category(notice.eventCategory) !== undefined
  );
}

/**
 * Replaces a webhook event's ids with the object read from the API. The URL is built from `apiUrl` and the id rather
 * than taken from `resourceUrl`, so the bearer token only ever goes to the configured API.
 */
export async function enrichXero(context: XeroContext, event: ParsedEvent): Promise<ParsedEvent[]> {
  if (!isNotice(event.payload)) return [event];
  const { tenantId, resourceId, eventCategory } = event.payload;
  const object = await readResource(xeroApi(context), tenantId, eventCategory, resourceId);
  if (!object) {
    context.log('Xero object no longer exists; event dropped', {
      tenantId,
      resourceId,
      eventCategory,
      type: event.type,
    });
    return [];
  }
  return [{ ...event, payload: resourcePayload(tenantId, object) }];
}
