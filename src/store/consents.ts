import { CONSENT_CHANNELS, type ConsentChannel } from '../customers/consent.js';
import { withTransaction, type Pool } from './pool.js';

export interface ConsentState {
  granted: boolean;
  /** Who or what stated it: `STOP` (a keyword), `unsubscribe link`, `api`... */
  source: string;
  changed_at: Date;
}

export interface ConsentChange {
  channel: ConsentChannel;
  /** The normalized address: email, E.164 phone, page-scoped id. */
  address: string;
  granted: boolean;
  source: string;
  /** The person or connector behind it, for the history. */
  actor: string | null;
  /** The inbound message or request that made the change: applied once however often it is delivered. */
  eventRef?: string;
  /** When it was stated; an older statement never overwrites a newer one. */
  at: Date;
}

/** Records a consent statement in the history and, unless a newer one is in force, makes it the current state. */
export async function setConsent(pool: Pool, change: ConsentChange): Promise<void> {
  await withTransaction(pool, async (client) => {
    const logged = await client.query(
      `INSERT INTO consent_history (channel, address, granted, source, actor, event_ref, changed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_ref) DO NOTHING RETURNING id`,
      [change.channel, change.address, change.granted, change.source, change.actor, change.eventRef ?? null, change.at],
    );
    if (logged.rows.length === 0) return;
    await client.query(
      `INSERT INTO consents (channel, address, granted, source, changed_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (channel, address) DO UPDATE SET granted = excluded.granted, source = excluded.source, changed_at = excluded.changed_at
       WHERE consents.changed_at <= excluded.changed_at`,
      [change.channel, change.address, change.granted, change.source, change.at],
    );
  });
}

/**
 * Records a person's statement for a channel (support staff, the API) on every address of the customer that reaches
 * it. Returns those addresses; none means there was nothing to record.
 */
export async function setCustomerConsent(
  pool: Pool,
  customer: { identities: ReadonlyArray<{ kind: string; value: string }> },
  change: Pick<ConsentChange, 'channel' | 'granted' | 'source' | 'actor'>,
): Promise<string[]> {
  const addresses = customer.identities
    .filter((identity) => identity.kind === CONSENT_CHANNELS[change.channel])
    .map((identity) => identity.value);
  const at = new Date();
  for (const address of addresses) await setConsent(pool, { ...change, address, at });
  return addresses;
}

export async function consentOf(pool: Pool, channel: string, address: string): Promise<ConsentState | undefined> {
  const { rows } = await pool.query<ConsentState>(
    'SELECT granted, source, changed_at FROM consents WHERE channel = $1 AND address = $2',
    [channel, address],
  );
  return rows[0];
}

export interface AddressConsent {
  address: string;
  /** null: never stated, replies are allowed. */
  granted: boolean | null;
  source: string | null;
  changed_at: Date | null;
}

const CHANNELS = Object.keys(CONSENT_CHANNELS);
const KINDS = Object.values(CONSENT_CHANNELS);

/**
 * The customer's consent per channel, for each of their addresses of the channel's identity kind, and the history of
 * those addresses, newest first.
 */
export async function customerConsent(
  pool: Pool,
  customerId: number,
): Promise<{ consent: Record<string, AddressConsent[]>; consent_history: unknown[] }> {
  const [current, history] = await Promise.all([
    pool.query<AddressConsent & { channel: string }>(
      `SELECT ch.channel, i.value AS address, c.granted, c.source, c.changed_at
       FROM unnest($2::text[], $3::text[]) AS ch(channel, kind)
       JOIN customer_identities i ON i.kind = ch.kind AND i.customer_id = $1
       LEFT JOIN consents c ON c.channel = ch.channel AND c.address = i.value
       ORDER BY ch.channel, i.id`,
      [customerId, CHANNELS, KINDS],
    ),
    pool.query(
      `SELECT h.channel, h.address, h.granted, h.source, h.actor, h.changed_at
       FROM consent_history h
       JOIN unnest($2::text[], $3::text[]) AS ch(channel, kind) ON ch.channel = h.channel
       JOIN customer_identities i ON i.kind = ch.kind AND i.value = h.address AND i.customer_id = $1
       ORDER BY h.changed_at DESC, h.id DESC LIMIT 100`,
      [customerId, CHANNELS, KINDS],
    ),
  ]);
  const consent: Record<string, AddressConsent[]> = Object.fromEntries(CHANNELS.map((channel) => [channel, []]));
  for (const { channel, ...row } of current.rows) consent[channel]!.push(row);
  return { consent, consent_history: history.rows };
}
