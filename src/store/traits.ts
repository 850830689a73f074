import type { PoolClient } from './pool.js';

/**
 * Recomputes a customer's traits and segment membership in the caller's transaction, right after a change to their
 * rows; returns the traits and the engine events it wrote (to be queued once the transaction commits). Given by the engine.
 * `rowsChanged: false` (a profile-only change) keeps the stored built-in traits.
 */
export type CustomerRefresh = (
  client: PoolClient,
  customerId: number,
  change?: { rowsChanged: boolean },
) => Promise<Refreshed>;

export interface Refreshed {
  /** Engine events written (segment.entered / segment.exited), to be queued after the commit. */
  events: number[];
  /** The customer's traits as now stored. */
  traits: Record<string, unknown>;
}

const iso = (expression: string) => `to_char(${expression} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * One statement computing a customer's built-in traits from scratch, from their rows (`customerId`, an SQL expression,
 * is the live customer: a merge has moved every row of the customers merged into it here). Recomputed rather than added up, so the result
 * depends only on the rows (vendor timestamps), never on the order in which they arrived, and a merge or an unmerge
 * is one more recomputation. Purchases are the timeline entries with a positive `amount` (paid orders net of refunds,
 * paid invoices); `lifetime_value` and `average_order_value` are in `currency`, the currency of most of the
 * customer's purchases (then of the newest); `lifetime_values` keeps every currency apart, never added up.
 */
export const builtinTraitsSql = (customerId: string) => `
  WITH t AS (SELECT type, source, occurred_at, amount, currency, data FROM timeline_events WHERE customer_id = ${customerId}),
  purchases AS (SELECT occurred_at, amount, currency FROM t WHERE amount > 0),
  by_currency AS (
    SELECT currency, sum(amount) AS total, count(*) AS n, max(occurred_at) AS newest FROM purchases GROUP BY currency
  ),
  main AS (SELECT currency, total, n FROM by_currency ORDER BY n DESC, newest DESC, currency LIMIT 1),
  span AS (SELECT count(*) AS n, min(occurred_at) AS first, max(occurred_at) AS last FROM purchases),
  calls AS (SELECT occurred_at, data->>'direction' LIKE 'outbound%' AS outbound FROM t WHERE type LIKE 'call.%'),
  sent AS (SELECT max(sent_at) AS at FROM outbound_messages WHERE customer_id = ${customerId} AND status = 'sent')
  SELECT jsonb_build_object(
    'orders_count', (SELECT n FROM span),
    'lifetime_value', coalesce((SELECT total FROM main), 0),
    'currency', (SELECT currency FROM main),
    'lifetime_values', coalesce((SELECT jsonb_object_agg(coalesce(currency, ''), total) FROM by_currency), '{}'),
    'average_order_value', (SELECT round(total / n, 2) FROM main),
    'first_order_at', (SELECT ${iso('first')} FROM span),
    'last_order_at', (SELECT ${iso('last')} FROM span),
    'average_days_between_orders',
      (SELECT round((extract(epoch FROM last - first) / 86400 / (n - 1))::numeric, 3) FROM span WHERE n >= 2),
    'last_inbound_at', (SELECT ${iso('max(occurred_at)')} FROM (
      SELECT occurred_at FROM t WHERE type = 'message.received' UNION ALL SELECT occurred_at FROM calls WHERE NOT outbound) AS inbound),
    'last_contacted_at', (SELECT ${iso('max(at)')} FROM (
      SELECT at FROM sent UNION ALL SELECT occurred_at FROM calls WHERE outbound) AS ours),
    'open_tasks', (SELECT count(*) FROM tasks WHERE customer_id = ${customerId} AND status = 'open'),
    'channels', coalesce((SELECT jsonb_agg(DISTINCT channel ORDER BY channel) FROM (
      SELECT CASE WHEN data->>'channel' IS NOT NULL THEN data->>'channel'
                  WHEN type LIKE 'call.%' THEN 'phone'
                  WHEN source = 'twilio' THEN CASE WHEN data->>'from' LIKE 'whatsapp:%' THEN 'whatsapp' ELSE 'sms' END
                  ELSE source END AS channel
      FROM t) AS channels), '[]')
  ) AS traits`;

/** The built-in traits of customer `$1` (see builtinTraitsSql). */
export const BUILTIN_TRAITS_SQL = builtinTraitsSql('$1');

/**
 * Recomputes the built-in traits of customers whose rows a merge or an unmerge moved, in the caller's transaction, and
 * marks them for the next sweep, which evaluates their declared traits and segments (the store has no configuration).
 */
export async function recomputeBuiltinTraits(client: PoolClient, customerIds: number[]): Promise<void> {
  for (const id of customerIds) {
    await client.query(
      `UPDATE customers c SET traits = c.traits || (${BUILTIN_TRAITS_SQL}), segments_recheck_at = '-infinity' WHERE c.id = $1`,
      [id],
    );
  }
}

/** The live customer a lock was taken on, as the locking statement read it. */
export interface LockedCustomer {
  id: number;
  owner_agent_id: string | null;
}

/**
 * Locks the live customer that `customerId` is (following merges) for update until the transaction ends and returns
 * its id: evaluations of one customer's traits and segments then happen one after the other, each seeing the rows
 * the previous one committed.
 */
export async function lockCustomerForUpdate(client: PoolClient, customerId: number): Promise<number> {
  return (await lockCustomerRowForUpdate(client, customerId)).id;
}

/**
 * `lockCustomerForUpdate`, returning the locked row's columns too: read by the locking statement, they are those of
 * the newest version (a lock waited for returns the row its holder committed), so no second statement reads them.
 */
export async function lockCustomerRowForUpdate(client: PoolClient, customerId: number): Promise<LockedCustomer> {
  let id = customerId;
  for (let hop = 0; hop < 20; hop++) {
    const { rows } = await client.query<LockedCustomer & { merged_into: number | null }>(
      'SELECT id, merged_into, owner_agent_id FROM customers WHERE id = (SELECT coalesce(merged_into, id) FROM customers WHERE id = $1) FOR UPDATE',
      [id],
    );
    if (!rows[0]) throw new Error(`customer ${customerId} does not exist`);
    const { merged_into, ...locked } = rows[0];
    if (merged_into === null) return locked;
    id = merged_into;
  }
  throw Object.assign(new Error(`customer ${customerId} kept being merged; retrying`), { code: '40001' });
}
