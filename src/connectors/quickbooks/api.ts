import type { ConnectorContext, ParsedEvent, Secrets } from '../define-connector.js';
import { createOAuth2Client, type OAuth2Client } from '../shared/oauth2-refresh.js';
import { contextClient } from '../shared/vendor-http.js';
import { ENTITIES, entityName, type ChangeNotice, type EntityName } from './entities.js';

export type QuickBooksSecretName =
  'verifier_token' | 'client_id' | 'client_secret' | 'refresh_token' | 'realm_id' | 'token_url';
export type QuickBooksContext = ConnectorContext<Secrets<QuickBooksSecretName>>;

export const DEFAULT_TOKEN_URL = 'https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer';
/** Pinned so field names do not change under the mappings. */
export const MINOR_VERSION = '75';

/** What mappings receive: the entity exactly as the API returns it, plus the realm (company) it belongs to. */
export type EntityPayload = Record<string, unknown> & { realmId: string };

export function entityPayload(realmId: string, entity: Record<string, unknown>): EntityPayload {
  return { realmId, ...entity };
}

/** Accounting API client with OAuth2 tokens persisted through `context.tokens` (Intuit rotates refresh tokens). */
export function quickBooksApi(context: QuickBooksContext): OAuth2Client {
  const { secrets } = context;
  return createOAuth2Client(context, contextClient(context, { headers: { accept: 'application/json' } }), {
    vendor: 'QuickBooks',
    tokenUrl: secrets.token_url || DEFAULT_TOKEN_URL,
    clientId: secrets.client_id,
    clientSecret: secrets.client_secret,
    refreshToken: secrets.refresh_token || undefined,
    refreshTokenSetting: 'QUICKBOOKS_REFRESH_TOKEN',
  });
}

interface Fault {
  Fault?: { Error?: Array<{ code?: string; Message?: string }> };
}

/** Reads one entity; undefined when QuickBooks says it no longer exists (fault 610, deleted since the notification). */
export async function readEntity(
  api: OAuth2Client,
  realmId: string,
  name: EntityName,
  id: string,
): Promise<Record<string, unknown> | undefined> {
  const response = await api.request<Record<string, unknown> & Fault>({
    method: 'GET',
    url: `/v3/company/${encodeURIComponent(realmId)}/${ENTITIES[name].noun}/${encodeURIComponent(id)}`,
    params: { minorversion: MINOR_VERSION },
    validateStatus: (status) => status < 300 || status === 400 || status === 404,
  });
  if (response.status >= 300) {
    if (response.data?.Fault?.Error?.some((error) => error.code === '610')) return undefined;
    throw new Error(
      `QuickBooks GET ${name} ${id}: ${response.status} ${JSON.stringify(response.data ?? '').slice(0, 300)}`,
    );
  }
  const entity = response.data[name];
  if (entity === null || typeof entity !== 'object')
    throw new Error(`QuickBooks GET ${name} ${id}: the response has no ${name}`);
  return entity as Record<string, unknown>;
}

/** A thin webhook payload (ids only), as opposed to a full entity from a pull. */
function isChangeNotice(payload: unknown): payload is ChangeNotice {
  const notice = payload as Partial<ChangeNotice> & { Id?: unknown };
  return (
    typeof notice?.realmId === 'string' &&
    typeof notice.id === 'string' &&
    entityName(notice.name) !== undefined &&
    notice.Id === undefined
  );
}

/** Replaces a notification's ids with the entity read from the API; events that already carry it pass through. */
export async function enrichQuickBooks(context: QuickBooksContext, event: ParsedEvent): Promise<ParsedEvent[]> {
  if (!isChangeNotice(event.payload)) return [event];
  const { realmId, name, id } = event.payload;
  const entity = await readEntity(quickBooksApi(context), realmId, name, id);
  if (!entity) {
    context.log('QuickBooks entity no longer exists; event dropped', { realmId, name, id, type: event.type });
    return [];
  }
  return [{ ...event, payload: entityPayload(realmId, entity) }];
}
