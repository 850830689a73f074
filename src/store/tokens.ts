import type { SecretBox } from '../config/secret-box.js';
import type { Pool } from './pool.js';

/** A connector's OAuth tokens, sealed at rest. Undefined until first saved. */
export async function loadTokens(
  pool: Pool,
  box: SecretBox,
  connector: string,
): Promise<Record<string, string> | undefined> {
  const { rows } = await pool.query<{ ciphertext: string }>(
    'SELECT ciphertext FROM connector_tokens WHERE connector = $1',
    [connector],
  );
  return rows[0] ? (JSON.parse(box.open(rows[0].ciphertext)) as Record<string, string>) : undefined;
}

export async function saveTokens(
  pool: Pool,
  box: SecretBox,
  connector: string,
  tokens: Record<string, string>,
): Promise<void> {
  await pool.query(
    `INSERT INTO connector_tokens (connector, ciphertext) VALUES ($1, $2)
     ON CONFLICT (connector) DO UPDATE SET ciphertext = EXCLUDED.ciphertext, updated_at = now()`,
    [connector, box.seal(JSON.stringify(tokens))],
  );
}
