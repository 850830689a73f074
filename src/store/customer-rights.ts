import type { Identity } from '../customers/normalize.js';
import { erasePerson, exportPerson, findPerson } from './customer-data-map.js';
import { withTransaction, type Pool, type PoolClient } from './pool.js';

/** SQL for the salted hash of an identity, as kept in `erased_identities` (`s` is the `identity_salt` row). */
const HASH = (kind: string, value: string) =>
  `encode(sha256(convert_to(s.salt || ${kind} || ':' || ${value}, 'UTF8')), 'hex')`;

/** Everything crmflow holds about the person a customer id names, as one JSON document; undefined for no such customer. */
export async function exportCustomer(pool: Pool, customerId: number): Promise<Record<string, unknown> | undefined> {
  return withTransaction(pool, async (client) => {
    await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const person = await findPerson(client, customerId);
    if (!person) return undefined;
    return {
      customer_id: person.customers.find((id) => id === customerId) ?? person.customers[0],
      customer_ids: person.customers,
      exported_at: new Date().toISOString(),
      tables: await exportPerson(client, person),
    };
  });
}

export interface ErasureResult {
  customerIds: number[];
  identities: number;
  /** Rows erased or anonymised, by table. */
  rows: Record<string, number>;
}

/**
 * Erases the person a customer id names everywhere (see CUSTOMER_TABLES) and remembers salted hashes of their
 * identities, so that old data about them does not silently re-create the profile. Undefined for no such customer.
 */
export async function eraseCustomer(pool: Pool, customerId: number): Promise<ErasureResult | undefined> {
  return withTransaction(pool, async (client) => {
    const person = await findPerson(client, customerId);
    if (!person) return undefined;
    await client.query('SELECT id FROM customers WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE', [
      person.customers,
    ]);
    const { rowCount } = await client.query(
      `INSERT INTO erased_identities (hash) SELECT ${HASH('ci.kind', 'ci.value')} FROM customer_identities ci, identity_salt s
       WHERE ci.customer_id = ANY($1::bigint[]) ON CONFLICT (hash) DO UPDATE SET erased_at = now()`,
      [person.customers],
    );
    const rows = await erasePerson(client, person);
    return { customerIds: person.customers, identities: rowCount ?? 0, rows };
  });
}

/** SQL for the identities (kinds and values: text[] parameters) that belong to an erased person: kind, value, erased_at. */
export const erasedAmongSql = (
  kinds: string,
  values: string,
) => `SELECT t.kind, t.value, e.erased_at FROM unnest(${kinds}::text[], ${values}::text[]) AS t(kind, value)
     CROSS JOIN identity_salt s JOIN erased_identities e ON e.hash = ${HASH('t.kind', 't.value')}`;

/** A person contacting again: their identities leave the erasure list. */
export async function forgetErasure(client: PoolClient, identities: Identity[]): Promise<void> {
  await client.query(
    `DELETE FROM erased_identities e USING identity_salt s, unnest($1::text[], $2::text[]) AS t(kind, value) WHERE e.hash = ${HASH('t.kind', 't.value')}`,
    [identities.map((identity) => identity.kind), identities.map((identity) => identity.value)],
  );
}
