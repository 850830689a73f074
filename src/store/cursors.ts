import type { Pool, PoolClient } from './pool.js';

/** The stored pull cursor of a connector resource; null before the first pull. */
export async function loadCursor(pool: Pool, connector: string, resource: string): Promise<unknown | null> {
  const { rows } = await pool.query<{ cursor: unknown }>(
    'SELECT cursor FROM connector_cursors WHERE connector = $1 AND resource = $2',
    [connector, resource],
  );
  return rows[0]?.cursor ?? null;
}

/** Saves the cursor; called in the transaction that stores the page, so the two never disagree. */
export async function saveCursor(
  client: PoolClient,
  connector: string,
  resource: string,
  cursor: unknown,
): Promise<void> {
  await client.query(
    `INSERT INTO connector_cursors (connector, resource, cursor) VALUES ($1, $2, $3)
     ON CONFLICT (connector, resource) DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now()`,
    [connector, resource, JSON.stringify(cursor)],
  );
}

/** Forgets a stored cursor: the next pull of that key starts from its `since`. */
export async function deleteCursor(pool: Pool, connector: string, resource: string): Promise<void> {
  await pool.query('DELETE FROM connector_cursors WHERE connector = $1 AND resource = $2', [connector, resource]);
}
