import type { ConnectorContext, ParsedEvent, PullPage, Secrets } from '../define-connector.js';
import { contextClient, nextLink } from '../shared/vendor-http.js';

export type ShopifySecrets = Secrets<'webhook_secret' | 'access_token'>;

/** Pinned so field names do not change under the mappings. */
export const ADMIN_API_VERSION = '2024-10';

/**
 * Where a pull continues: the `rel="next"` URL of the current run (Shopify's cursor pagination: page_info links carry
 * the filters), or, between runs, the newest `updated_at` seen.
 */
export interface ShopifyCursor {
  next?: string;
  updatedAtMin?: string;
}

type Resource = 'orders' | 'customers';
const EVENT: Record<Resource, { type: string; topic: string }> = {
  orders: { type: 'order.updated', topic: 'orders/updated' },
  customers: { type: 'customer.updated', topic: 'customers/update' },
};

/** The same event id a webhook for this object version gets, so a pushed and a pulled copy are stored once. */
function toEvent(resource: Resource, item: Record<string, unknown>): ParsedEvent {
  const { type, topic } = EVENT[resource];
  const version = String(item.updated_at ?? item.created_at);
  return {
    type,
    externalId: `${topic}:${String(item.admin_graphql_api_id ?? item.id)}:${version}`,
    occurredAt: version,
    payload: item,
  };
}

function pull(resource: Resource) {
  return async (
    context: ConnectorContext<ShopifySecrets>,
    cursor: unknown,
    options: { since?: Date; pageSize: number },
  ): Promise<PullPage> => {
    if (!context.apiUrl)
      throw new Error('shopify: set SHOPIFY_API_URL to your shop, e.g. https://your-shop.myshopify.com');
    if (!context.secrets.access_token)
      throw new Error('shopify: pulling needs the access_token secret (SHOPIFY_ACCESS_TOKEN)');
    const at = (cursor ?? {}) as ShopifyCursor;
    const client = contextClient(context, {
      headers: { 'X-Shopify-Access-Token': context.secrets.access_token, Accept: 'application/json' },
    });
    const since = at.updatedAtMin ?? options.since?.toISOString();
    const response = await client.request<Record<Resource, Array<Record<string, unknown>>>>(
      at.next
        ? { url: at.next, signal: context.signal }
        : {
            url: `/admin/api/${ADMIN_API_VERSION}/${resource}.json`,
            params: {
              limit: options.pageSize,
              order: 'updated_at asc',
              ...(resource === 'orders' ? { status: 'any' } : {}),
              ...(since ? { updated_at_min: since } : {}),
            },
            signal: context.signal,
          },
    );
    const items = response.data[resource];
    if (!Array.isArray(items)) throw new Error(`shopify: GET ${resource} did not return a "${resource}" list`);
    const newest = items
      .map((item) => String(item.updated_at ?? ''))
      .reduce((max, value) => (value > max ? value : max), at.updatedAtMin ?? '');
    const next = nextLink(response.headers.link as string | undefined);
    // Between pages the filter lives in the page_info link; the newest time seen is carried along for the next run.
    if (next)
      return {
        events: items.map((item) => toEvent(resource, item)),
        nextCursor: { next, updatedAtMin: newest || undefined } satisfies ShopifyCursor,
      };
    return {
      events: items.map((item) => toEvent(resource, item)),
      nextCursor: null,
      resumeCursor: newest ? ({ updatedAtMin: newest } satisfies ShopifyCursor) : (cursor ?? null),
    };
  };
}

/** Reads the shop the access token belongs to (`crmflow doctor`). */
export async function checkShop(context: ConnectorContext<ShopifySecrets>): Promise<string> {
  if (!context.apiUrl || !context.secrets.access_token)
    return 'webhooks only (no SHOPIFY_API_URL / access_token for the Admin API)';
  const client = contextClient(context, {
    headers: { 'X-Shopify-Access-Token': context.secrets.access_token, Accept: 'application/json' },
  });
  const { data } = await client.request<{ shop?: { name?: string; myshopify_domain?: string } }>({
    url: `/admin/api/${ADMIN_API_VERSION}/shop.json`,
    signal: context.signal,
  });
  return `shop "${data.shop?.name ?? '?'}" (${data.shop?.myshopify_domain ?? context.apiUrl})`;
}

export const listOrders = pull('orders');
export const listCustomers = pull('customers');
