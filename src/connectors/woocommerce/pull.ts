import type { ConnectorContext, PullPage, Secrets } from '../define-connector.js';
import { contextClient } from '../shared/vendor-http.js';
import { resourceEvent, versionOf, type WooResource } from './events.js';

export type WooSecrets = Secrets<'webhook_secret' | 'consumer_key' | 'consumer_secret'>;
type Context = ConnectorContext<WooSecrets>;

/** Where an orders pull continues: orders modified after `modifiedAfter` (UTC, WooCommerce's zone-less format), page `page`. */
export interface OrdersCursor {
  modifiedAfter: string | null;
  page: number;
}

/** Where a customers pull continues: the page of customers ordered by id. */
export interface CustomersCursor {
  page: number;
}

/** One page of a WooCommerce collection with its `X-WP-TotalPages` header. */
async function fetchPage(context: Context, resource: 'orders' | 'customers', params: Record<string, string | number>) {
  if (!context.apiUrl) {
    throw new Error(
      "woocommerce: set WOOCOMMERCE_API_URL to the shop's REST base, e.g. https://shop.example.com/wp-json/wc/v3",
    );
  }
  const { consumer_key: username, consumer_secret: password } = context.secrets;
  if (!username || !password) {
    throw new Error(
      'woocommerce: pulling needs the consumer_key and consumer_secret secrets (WOOCOMMERCE_CONSUMER_KEY, WOOCOMMERCE_CONSUMER_SECRET)',
    );
  }
  const client = contextClient(context, { headers: { Accept: 'application/json' } });
  // Basic auth is WooCommerce's scheme over HTTPS (plain HTTP would need OAuth 1.0a signatures).
  const response = await client.request<WooResource[]>({
    url: `/${resource}`,
    params,
    auth: { username, password },
    signal: context.signal,
  });
  if (!Array.isArray(response.data)) throw new Error(`woocommerce: GET /${resource} did not return a JSON list`);
  const totalPages = Number(response.headers['x-wp-totalpages'] ?? 1);
  return { items: response.data, totalPages: Number.isFinite(totalPages) ? totalPages : 1 };
}

/** `2017-03-22T19:28:08` → `2017-03-22T19:28:07`: WooCommerce dates have whole seconds and `modified_after` is exclusive. */
function secondBefore(gmt: string): string {
  return new Date(Date.parse(`${gmt}Z`) - 1000).toISOString().slice(0, 19);
}

function readOrdersCursor(cursor: unknown): OrdersCursor | undefined {
  if (cursor === null || cursor === undefined) return undefined;
  const { modifiedAfter, page } = cursor as Partial<OrdersCursor>;
  if ((modifiedAfter === null || typeof modifiedAfter === 'string') && typeof page === 'number')
    return { modifiedAfter, page };
  throw new Error(`woocommerce orders: unreadable cursor ${JSON.stringify(cursor)}`);
}

/**
 * Orders by modification time, oldest first. Each page after the first asks again from one second before the newest
 * modification seen (keyset paging: an order modified during the run cannot shift another past a page boundary, and
 * orders sharing that second are re-read and de-duplicated by the inbox). Only when a whole page shares one second
 * does it fall back to the next page number.
 */
export async function listOrders(
  context: Context,
  cursor: unknown,
  options: { since?: Date; pageSize: number },
): Promise<PullPage> {
  const at = readOrdersCursor(cursor) ?? {
    modifiedAfter: options.since ? options.since.toISOString().slice(0, 19) : null,
    page: 1,
  };
  const { items, totalPages } = await fetchPage(context, 'orders', {
    orderby: 'modified',
    order: 'asc',
    dates_are_gmt: 'true',
    ...(at.modifiedAfter ? { modified_after: at.modifiedAfter } : {}),
    page: at.page,
    per_page: options.pageSize,
  });
  const events = items.map((order) => resourceEvent('order.updated', order));
  const newest = items
    .map(versionOf)
    .reduce<string | undefined>((max, version) => (version && (!max || version > max) ? version : max), undefined);
  const from = newest ? secondBefore(newest) : null;
  const advanced = from !== null && (at.modifiedAfter === null || from > at.modifiedAfter);
  const resume: OrdersCursor = { modifiedAfter: advanced ? from : at.modifiedAfter, page: 1 };
  if (items.length === 0 || at.page >= totalPages) return { events, nextCursor: null, resumeCursor: resume };
  return { events, nextCursor: advanced ? resume : { modifiedAfter: at.modifiedAfter, page: at.page + 1 } };
}

/**
 * Customers ordered by id. The customers endpoint has no modification filter, so every poll walks the whole list;
 * unchanged customers produce the same event ids and are dropped by the inbox.
 */
export async function listCustomers(
  context: Context,
  cursor: unknown,
  options: { pageSize: number },
): Promise<PullPage> {
  const page = (cursor as Partial<CustomersCursor> | null)?.page ?? 1;
  const { items, totalPages } = await fetchPage(context, 'customers', {
    orderby: 'id',
    order: 'asc',
    page,
    per_page: options.pageSize,
  });
  const events = items.map((customer) => resourceEvent('customer.updated', customer));
  if (items.length === 0 || page >= totalPages)
    return { events, nextCursor: null, resumeCursor: { page: 1 } satisfies CustomersCursor };
  return { events, nextCursor: { page: page + 1 } satisfies CustomersCursor };
}
