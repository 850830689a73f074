import { DEFAULT_POLICY, mayMerge, priority, type IdentityPolicy } from '../customers/identity-policy.js';
import type { Identity } from '../customers/normalize.js';
import { emitEngineEvent } from './engine-events.js';
import { withRetriedTransaction, type Pool, type PoolClient } from './pool.js';

/** Profile fields a mapping may set. Absent or null fields leave the stored value alone. */
export interface CustomerProfile {
  name?: string | null;
  first_name?: string | null;
  last_name?: string | null;
  language?: string | null;
  country?: string | null;
  attributes?: Record<string, unknown> | null;
  /** Applied only when it moves the customer forward: lead → opportunity → customer. */
  lifecycle_stage?: 'lead' | 'opportunity' | 'customer' | 'churned' | null;
}

const STAGE_RANK: Record<string, number> = { lead: 0, opportunity: 1, customer: 2, churned: 3 };
/** Lifecycle stages in their order. */
export const LIFECYCLE_STAGES = Object.keys(STAGE_RANK);

export interface UpsertCustomerInput {
  /** Already normalized; at least one. */
  identities: Identity[];
  profile: CustomerProfile;
  /** Vendor time of the data: an older update never overwrites newer profile data. */
  occurredAt: Date;
  /** Where the data came from, e.g. `shopify`; recorded on new identities. */
  source: string;
  /** Recorded on a merge as the event that linked the customers, e.g. `inbox:42`. */
  eventRef: string;
  /** Which kinds may merge customers and the caps per kind; default: every kind merges, default caps. */
  policy?: IdentityPolicy;
  /** The run making the change: engine events it causes continue that run's chain. */
  runId?: number;
}

export interface UpsertCustomerResult {
  customerId: number;
  created: boolean;
  /** Customers merged into `customerId` by this call. */
  mergedIds: number[];
  /** Identities this call added to the customer. */
  attached: Identity[];
  /** Customers this event pointed at but that were not merged (a kind that only attaches, or a cap): suggested instead. */
  suggested: number[];
  /** Engine events written with the change (customer.created, customer.merged, lifecycle.changed), to be queued. */
  events: number[];
}

const PROFILE_TEXT_FIELDS = ['name', 'first_name', 'last_name', 'language', 'country'] as const;

/**
 * Deterministic identity resolution: find every customer that owns one of the identities, merge them into the
 * oldest, attach the identities that are new, update the profile. Race-free across processes: the identities are
 * locked (transaction-scoped advisory locks, taken in a fixed order), so concurrent events about the same new person
 * serialize and create one customer; customer rows are locked before they are merged.
 */
export async function upsertCustomer(pool: Pool, input: UpsertCustomerInput): Promise<UpsertCustomerResult> {
  if (input.identities.length === 0) throw new Error('a customer needs at least one identity');
  const kinds = input.identities.map((identity) => identity.kind);
  const values = input.identities.map((identity) => identity.value);
  return withRetriedTransaction(pool, async (client) => {
    await client.query(
      `SELECT pg_advisory_xact_lock(h) FROM (
         SELECT DISTINCT hashtextextended(k || ':' || v, 0) AS h FROM unnest($1::text[], $2::text[]) AS t(k, v) ORDER BY 1) AS locks`,
      [kinds, values],
    );
    const owners = await lockOwners(client, kinds, values);
    let customerId: number;
    let created = false;
    let mergedIds: number[] = [];
    let suggested: number[] = [];
    if (owners.length === 0) {
      const { rows } = await client.query<{ id: number }>('INSERT INTO customers DEFAULT VALUES RETURNING id');
      customerId = rows[0]!.id;
      created = true;
    } else if (owners.length === 1) {
      customerId = owners[0]!;
    } else {
      const plan = await planMerge(client, owners, input, input.policy ?? DEFAULT_POLICY);
      customerId = plan.keep;
      mergedIds = plan.merge;
      suggested = plan.suggest;
      if (mergedIds.length > 0) await mergeInto(client, customerId, mergedIds, { identities: input.identities, event: input.eventRef });
      for (const other of suggested) await suggestMerge(client, customerId, other, { identities: input.identities, event: input.eventRef, why: plan.why });
    }
    const { rows: attachedRows } = await client.query<Identity>(
      `INSERT INTO customer_identities (customer_id, kind, value, source)
       SELECT $1, k, v, $4 FROM unnest($2::text[], $3::text[]) AS t(k, v)
       ON CONFLICT (kind, value) DO NOTHING RETURNING kind, value`,
      [customerId, kinds, values, input.source],
    );
    await updateProfile(client, customerId, input.profile, input.occurredAt);
    const cause = { customerId, sourceRunId: input.runId };
    const events: Array<number | undefined> = [];
    if (created) events.push(await emitEngineEvent(client, { ...cause, type: 'customer.created', data: { customer_id: customerId, source: input.source } }));
    if (mergedIds.length > 0) events.push(await emitEngineEvent(client, { ...cause, type: 'customer.merged', data: { customer_id: customerId, merged_ids: mergedIds } }));
    if (input.profile.lifecycle_stage) {
      const change = await advanceLifecycle(client, customerId, input.profile.lifecycle_stage, input.source);
      if (change) events.push(await emitEngineEvent(client, { ...cause, type: 'lifecycle.changed', data: { customer_id: customerId, ...change, source: input.source } }));
    }
    return { customerId, created, mergedIds, attached: attachedRows, suggested, events: events.filter((id) => id !== undefined) };
  });
}

/**
 * Ids of the live customers owning any of the identities, oldest first, row-locked. A concurrent merge may move
 * identities between our read and our lock; re-reading after the lock sees its result.
 */
async function lockOwners(client: PoolClient, kinds: string[], values: string[]): Promise<number[]> {
  for (let round = 0; round < 5; round++) {
    const { rows: found } = await client.query<{ customer_id: number }>(
      `SELECT DISTINCT customer_id FROM customer_identities
       WHERE (kind, value) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [kinds, values],
    );
    if (found.length === 0) return [];
    const ids = found.map((row) => row.customer_id);
    const { rows: locked } = await client.query<{ id: number; merged_into: number | null }>(
      'SELECT id, merged_into FROM customers WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE',
      [ids],
    );
    if (locked.every((row) => row.merged_into === null)) return locked.map((row) => row.id);
  }
  throw Object.assign(new Error('customer merges kept moving identities; retrying'), { code: '40001' });
}

interface MergePlan {
  keep: number;
  merge: number[];
  suggest: number[];
  why: string;
}

/**
 * Which of the customers an event points at are merged. Customers linked only by kinds that may not merge (a shared
 * family phone, say) are not; nor are any when the merge would give one customer more identities of a kind than its
 * cap. The event then belongs to the customer its highest-priority identity names, and the others are suggested.
 */
async function planMerge(client: PoolClient, owners: number[], input: UpsertCustomerInput, policy: IdentityPolicy): Promise<MergePlan> {
  const { rows: links } = await client.query<{ customer_id: number; kind: string }>(
    `SELECT customer_id, kind FROM customer_identities WHERE (kind, value) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [input.identities.map((identity) => identity.kind), input.identities.map((identity) => identity.value)],
  );
  const bestRank = (customerId: number) => Math.min(...links.filter((link) => link.customer_id === customerId).map((link) => priority(link.kind, policy)));
  const byPriority = [...owners].sort((a, b) => bestRank(a) - bestRank(b) || a - b);
  const mergeable = owners.filter((owner) => links.some((link) => link.customer_id === owner && mayMerge(link.kind, policy)));
  if (mergeable.length < 2) {
    const keep = mergeable[0] ?? byPriority[0]!;
    return { keep, merge: [], suggest: owners.filter((owner) => owner !== keep), why: 'linked only by identities that may not merge customers' };
  }
  const { rows: counts } = await client.query<{ kind: string; n: number }>(
    `SELECT kind, count(*)::int AS n FROM (
       SELECT kind, value FROM customer_identities WHERE customer_id = ANY($1::bigint[])
       UNION SELECT * FROM unnest($2::text[], $3::text[])) AS all_identities GROUP BY kind`,
    [mergeable, input.identities.map((identity) => identity.kind), input.identities.map((identity) => identity.value)],
  );
  const over = counts.find((count) => policy.caps[count.kind] !== undefined && count.n > policy.caps[count.kind]!);
  const rest = owners.filter((owner) => !mergeable.includes(owner));
  if (over) {
    const keep = byPriority.find((owner) => mergeable.includes(owner))!;
    return { keep, merge: [], suggest: owners.filter((owner) => owner !== keep), why: `merging would give one customer ${over.n} ${over.kind} identities (cap ${policy.caps[over.kind]})` };
  }
  const keep = Math.min(...mergeable);
  return { keep, merge: mergeable.filter((owner) => owner !== keep), suggest: rest, why: 'linked only by identities that may not merge customers' };
}

/** Records (once per pair) that two customers are probably one person, for an admin to accept or reject. */
async function suggestMerge(client: PoolClient, a: number, b: number, reason: Record<string, unknown>): Promise<void> {
  await client.query(
    `INSERT INTO customer_merge_suggestions (customer_a, customer_b, reason) VALUES (least($1::bigint, $2::bigint), greatest($1::bigint, $2::bigint), $3)
     ON CONFLICT (customer_a, customer_b) DO NOTHING`,
    [a, b, JSON.stringify(reason)],
  );
}

/**
 * The live customer that `customerId` is (or was merged into), share-locked until the caller's transaction ends.
 * Rows written for a customer must be written under this id: a merge of it locks it for update, so it waits and then
 * moves them; a row written under an id merged a moment earlier would stay behind where no one reads it.
 */
export async function lockLiveCustomer(client: PoolClient, customerId: number): Promise<number> {
  let id = customerId;
  for (let hop = 0; hop < 20; hop++) {
    const { rows: live } = await client.query<{ id: number }>('SELECT coalesce(merged_into, id) AS id FROM customers WHERE id = $1', [id]);
    if (!live[0]) throw new Error(`customer ${customerId} does not exist`);
    id = live[0].id;
    const { rows } = await client.query<{ merged_into: number | null }>('SELECT merged_into FROM customers WHERE id = $1 FOR SHARE', [id]);
    if (rows[0]!.merged_into === null) return id;
  }
  throw Object.assign(new Error(`customer ${customerId} kept being merged; retrying`), { code: '40001' });
}

interface MergeReason {
  identities: Identity[];
  event: string;
}

/** Moves everything owned by `mergedIds` to `keptId` and records why. Caller holds the row locks. */
/** SQL for the rank of a lifecycle stage (see STAGE_RANK): a merge keeps the most advanced stage of the two. */
function stageRank(column: string): string {
  return `CASE ${column} ${Object.entries(STAGE_RANK).map(([stage, rank]) => `WHEN '${stage}' THEN ${rank}`).join(' ')} ELSE -1 END`;
}

async function mergeInto(client: PoolClient, keptId: number, mergedIds: number[], reason: MergeReason): Promise<void> {
  for (const table of ['customer_identities', 'timeline_events', 'lead_assignments', 'outbound_messages', 'workflow_runs', 'lifecycle_history', 'tasks', 'score_history']) {
    await client.query(`UPDATE ${table} SET customer_id = $1 WHERE customer_id = ANY($2::bigint[])`, [keptId, mergedIds]);
  }
  // Combine the profiles as if their data had arrived in one: the newer profile's values win, the older one fills
  // gaps, and the kept profile carries the newer time (else older data arriving later would overwrite newer).
  // The kept owner, if any, stays.
  for (const mergedId of [...mergedIds].sort((a, b) => a - b)) {
    const newer = `m.profile_updated_at > coalesce(kept.profile_updated_at, '-infinity')`;
    await client.query(
      `UPDATE customers AS kept SET
         ${PROFILE_TEXT_FIELDS.map((field) => `${field} = CASE WHEN ${newer} THEN coalesce(m.${field}, kept.${field}) ELSE coalesce(kept.${field}, m.${field}) END`).join(', ')},
         owner_agent_id = coalesce(kept.owner_agent_id, m.owner_agent_id),
         lifecycle_stage = CASE WHEN ${stageRank('m.lifecycle_stage')} > ${stageRank('kept.lifecycle_stage')} THEN m.lifecycle_stage ELSE kept.lifecycle_stage END,
         attributes = CASE WHEN ${newer} THEN kept.attributes || m.attributes ELSE m.attributes || kept.attributes END,
         score = kept.score + m.score,
         profile_updated_at = greatest(kept.profile_updated_at, m.profile_updated_at), updated_at = now()
       FROM customers AS m WHERE kept.id = $1 AND m.id = $2`,
      [keptId, mergedId],
    );
  }
  await client.query(
    `UPDATE customers SET merged_into = $1, updated_at = now() WHERE id = ANY($2::bigint[]) OR merged_into = ANY($2::bigint[])`,
    [keptId, mergedIds],
  );
  await client.query(
    `INSERT INTO customer_merges (kept_id, merged_id, reason) SELECT $1, m, $3 FROM unnest($2::bigint[]) AS m`,
    [keptId, mergedIds, JSON.stringify(reason)],
  );
}

async function updateProfile(client: PoolClient, customerId: number, profile: CustomerProfile, occurredAt: Date): Promise<void> {
  const texts = PROFILE_TEXT_FIELDS.map((field) => profile[field] ?? null);
  // Newer data overwrites; older data only fills gaps.
  await client.query(
    `UPDATE customers SET
       ${PROFILE_TEXT_FIELDS.map(
         (field, i) => `${field} = CASE WHEN $7 >= coalesce(profile_updated_at, '-infinity') THEN coalesce($${i + 2}, ${field}) ELSE coalesce(${field}, $${i + 2}) END`,
       ).join(',\n       ')},
       attributes = CASE WHEN $7 >= coalesce(profile_updated_at, '-infinity') THEN attributes || $8::jsonb ELSE $8::jsonb || attributes END,
       profile_updated_at = greatest(profile_updated_at, $7),
       updated_at = now()
     WHERE id = $1`,
    [customerId, ...texts, occurredAt, JSON.stringify(profile.attributes ?? {})],
  );
}

/** Moves the lifecycle stage forward (never back) and records the change; returns it, or undefined when none. */
async function advanceLifecycle(client: PoolClient, customerId: number, stage: string, source: string): Promise<{ from: string; to: string } | undefined> {
  const { rows } = await client.query<{ lifecycle_stage: string }>('SELECT lifecycle_stage FROM customers WHERE id = $1', [customerId]);
  const current = rows[0]!.lifecycle_stage;
  if ((STAGE_RANK[stage] ?? -1) <= (STAGE_RANK[current] ?? -1)) return undefined;
  await client.query('UPDATE customers SET lifecycle_stage = $2 WHERE id = $1', [customerId, stage]);
  await client.query('INSERT INTO lifecycle_history (customer_id, from_stage, to_stage, source) VALUES ($1, $2, $3, $4)', [customerId, current, stage, source]);
  return { from: current, to: stage };
}
