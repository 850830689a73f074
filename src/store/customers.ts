import {
  DEFAULT_POLICY,
  guarded,
  isNewPerson,
  planLinks,
  type IdentityLink,
  type IdentityPolicy,
  type LinkPlan,
} from '../customers/identity-policy.js';
import type { Identity } from '../customers/normalize.js';
import { MERGE_TABLES } from './customer-data-map.js';
import type { CustomerSummary } from '../customers/record.js';
import { SUMMARY_COLUMNS } from './customer-queries.js';
import { erasedAmongSql, forgetErasure } from './customer-rights.js';
import { emitEngineEvent } from './engine-events.js';
import { recomputeBuiltinTraits, type CustomerRefresh } from './traits.js';
import { withRetriedTransaction, withTransaction, type Pool, type PoolClient } from './pool.js';

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
  /**
   * Recorded on a merge as the event that linked the customers, e.g. `run:42`. A `run:<id>` also tells how the event
   * arrived: only a new webhook contact may bring back identities of an erased person.
   */
  eventRef: string;
  /** Which kinds may merge customers and the caps per kind; default: every kind merges, default caps. */
  policy?: IdentityPolicy;
  /** The run making the change: engine events it causes continue that run's chain. */
  runId?: number;
  /** Engine event types some workflow starts on: events of other types are not written. Default: all. */
  listenedEvents?: ReadonlySet<string>;
  /**
   * Recomputes traits and segments in the transaction of a new customer, a merge or new identities; after a
   * profile-only change (the one-statement path), in a transaction of its own, and only with `refreshProfile`.
   */
  refresh?: CustomerRefresh;
  refreshProfile?: boolean;
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
  /** The customer as this call left it. */
  customer: CustomerSummary;
}

const PROFILE_TEXT_FIELDS = ['name', 'first_name', 'last_name', 'language', 'country'] as const;

/** The event's identities all belong to a person who was erased, and it is not a new contact from them. */
export class ErasedPersonError extends Error {
  override name = 'ErasedPersonError';
}

/**
 * Deterministic identity resolution: find every customer that owns one of the identities, merge them into the
 * oldest, attach the identities that are new, update the profile. Race-free across processes: the identities are
 * locked (transaction-scoped advisory locks, taken in a fixed order), so concurrent events about the same new person
 * serialize and create one customer; customer rows are locked before they are merged. Identities of an erased person
 * are left out unless the event is a new contact from them (ErasedPersonError when none is left). Every merge is
 * recorded with what it needs to be undone (see unmergeCustomer). An event whose identities all belong to one live
 * customer changes only that customer's row, so it needs no identity locks: one UPDATE, checked on the locked row.
 */
export async function upsertCustomer(pool: Pool, input: UpsertCustomerInput): Promise<UpsertCustomerResult> {
  if (input.identities.length === 0) throw new Error('a customer needs at least one identity');
  // Most events come from someone already known by every identity they carry: nothing to create, attach or merge,
  // only the profile changes, in one statement. Anything else takes the locked path below.
  if (!input.profile.lifecycle_stage) {
    const known = await updateProfile(
      pool,
      KNOWN_BY_ALL_IDENTITIES,
      [input.identities.map((identity) => identity.kind), input.identities.map((identity) => identity.value)],
      input.profile,
      input.occurredAt,
    );
    if (known) {
      const refreshed =
        input.refresh && input.refreshProfile
          ? await withRetriedTransaction(pool, (client) => input.refresh!(client, known.id, { rowsChanged: false }))
          : undefined;
      if (refreshed) known.traits = refreshed.traits;
      return {
        customerId: known.id,
        created: false,
        mergedIds: [],
        attached: [],
        suggested: [],
        events: refreshed?.events ?? [],
        customer: known,
      };
    }
  }
  return withRetriedTransaction(pool, async (client) => {
    const identities = await withoutErasedIdentities(client, input, await lockIdentities(client, input.identities));
    const kinds = identities.map((identity) => identity.kind);
    const values = identities.map((identity) => identity.value);
    const { owners, links: found } = await lockOwners(client, identities);
    let customerId: number;
    let created = false;
    let mergedIds: number[] = [];
    let suggested: number[] = [];
    const policy = input.policy ?? DEFAULT_POLICY;
    // Which identity links to whom matters to a merge, and to an event reaching someone through kinds that only attach.
    const links =
      owners.length > 1 || (owners.length === 1 && (policy.mergeOn || found.some((link) => guarded(link.kind, policy))))
        ? found
        : [];
    const withEmail = await ownersWithEmail(client, links.some((link) => guarded(link.kind, policy)) ? owners : []);
    if (owners.length === 0 || isNewPerson(identities, links, policy, (id) => withEmail.has(id))) {
      const { rows } = await client.query<{ id: number }>('INSERT INTO customers DEFAULT VALUES RETURNING id');
      customerId = rows[0]!.id;
      created = true;
      suggested = owners;
      for (const other of owners)
        await suggestMerge(client, customerId, other, {
          identities,
          event: input.eventRef,
          why: 'shares only identities that may not merge customers with an existing customer',
        });
    } else if (owners.length === 1) {
      customerId = owners[0]!;
    } else {
      const plan = await planMerge(client, owners, identities, links, policy, withEmail);
      customerId = plan.keep;
      mergedIds = plan.merge;
      suggested = plan.suggest;
      for (const mergedId of mergedIds) {
        const linkedBy = identities.filter((identity) =>
          links.some(
            (link) => link.customerId === mergedId && link.kind === identity.kind && link.value === identity.value,
          ),
        );
        await mergeInto(client, customerId, mergedId, {
          identities,
          linked_by: linkedBy,
          event: input.eventRef,
          why: `shared ${[...new Set(linkedBy.map((identity) => identity.kind))].join(', ')}`,
        });
      }
      for (const other of suggested)
        await suggestMerge(client, customerId, other, { identities, event: input.eventRef, why: plan.why });
    }
    const { rows: attachedRows } = await client.query<Identity>(
      `INSERT INTO customer_identities (customer_id, kind, value, source)
       SELECT $1, k, v, $4 FROM unnest($2::text[], $3::text[]) AS t(k, v)
       ON CONFLICT (kind, value) DO NOTHING RETURNING kind, value`,
      [customerId, kinds, values, input.source],
    );
    const change = input.profile.lifecycle_stage
      ? await advanceLifecycle(client, customerId, input.profile.lifecycle_stage, input.source)
      : undefined;
    const customer = (await updateProfile(client, 'c.id = $8', [customerId], input.profile, input.occurredAt))!;
    const cause = { customerId, sourceRunId: input.runId, listened: input.listenedEvents };
    const events: Array<number | undefined> = [];
    if (created)
      events.push(
        await emitEngineEvent(client, {
          ...cause,
          type: 'customer.created',
          data: { customer_id: customerId, source: input.source },
        }),
      );
    if (mergedIds.length > 0)
      events.push(
        await emitEngineEvent(client, {
          ...cause,
          type: 'customer.merged',
          data: { customer_id: customerId, merged_ids: mergedIds },
        }),
      );
    if (change)
      events.push(
        await emitEngineEvent(client, {
          ...cause,
          type: 'lifecycle.changed',
          data: { customer_id: customerId, ...change, source: input.source },
        }),
      );
    if (input.refresh) {
      const refreshed = await input.refresh(client, customerId);
      events.push(...refreshed.events);
      customer.traits = refreshed.traits;
    }
    return {
      customerId,
      created,
      mergedIds,
      attached: attachedRows,
      suggested,
      events: events.filter((id) => id !== undefined),
      customer,
    };
  });
}

/**
 * The event's identities minus those of an erased person, unless the event is a new contact from them: a webhook
 * (not a pull, backfill or replay) about something that happened after the erasure. A new contact takes the
 * identities off the erasure list.
 */
async function withoutErasedIdentities(
  client: PoolClient,
  input: UpsertCustomerInput,
  erasure: Erasure,
): Promise<Identity[]> {
  const { erased, erasedAt } = erasure;
  if (erased.length === 0) return input.identities;
  const runId = /^run:(\d+)$/.exec(input.eventRef)?.[1];
  const { rows } = runId
    ? await client.query<{ fresh: boolean }>(
        `SELECT i.origin = 'webhook' AND position('@' IN r.trigger_key) = 0 AND i.occurred_at > $2 AS fresh
         FROM workflow_runs r JOIN inbox_events i ON i.id = r.inbox_event_id WHERE r.id = $1`,
        [Number(runId), erasedAt],
      )
    : { rows: [] };
  if (rows[0]?.fresh) {
    await forgetErasure(client, erased);
    return input.identities;
  }
  const rest = input.identities.filter(
    (identity) => !erased.some((gone) => gone.kind === identity.kind && gone.value === identity.value),
  );
  if (rest.length === 0)
    throw new ErasedPersonError(
      'every identity of this record belongs to an erased person, and this is not a new contact from them: not re-created',
    );
  return rest;
}

interface Erasure {
  erased: Identity[];
  erasedAt: Date | null;
}

/**
 * Takes the identities' transaction-scoped advisory locks, in a fixed order so that concurrent events cannot
 * deadlock, and returns those of an erased person with the newest erasure time, in one round trip.
 */
async function lockIdentities(client: PoolClient, identities: Identity[]): Promise<Erasure> {
  const { rows } = await client.query<{ erased: Array<{ kind: string; value: string; erased_at: string }> }>(
    `WITH locked AS MATERIALIZED (
       SELECT pg_advisory_xact_lock(h) FROM (
         SELECT DISTINCT hashtextextended(k || ':' || v, 0) AS h FROM unnest($1::text[], $2::text[]) AS t(k, v) ORDER BY 1) AS hashes)
     SELECT (SELECT count(*) FROM locked) AS locks, coalesce((SELECT json_agg(erased) FROM (${erasedAmongSql('$1', '$2')}) AS erased), '[]') AS erased`,
    [identities.map((identity) => identity.kind), identities.map((identity) => identity.value)],
  );
  const erased = rows[0]!.erased;
  const erasedAt = erased.reduce<Date | null>(
    (latest, row) => (latest === null || new Date(row.erased_at) > latest ? new Date(row.erased_at) : latest),
    null,
  );
  return { erased: erased.map((row) => ({ kind: row.kind, value: row.value })), erasedAt };
}

/**
 * Ids of the live customers owning any of the identities, oldest first, row-locked, and which identity each holds,
 * in one statement. A concurrent merge may move identities between our read and our lock; it shows as a locked row
 * merged into another, and reading again sees its result. With every owner live, the links read are current: the
 * identities themselves are locked by the caller.
 */
async function lockOwners(
  client: PoolClient,
  identities: Identity[],
): Promise<{ owners: number[]; links: IdentityLink[] }> {
  for (let round = 0; round < 5; round++) {
    const { rows } = await client.query<IdentityLink & { merged_into: number | null }>(
      `SELECT c.id AS "customerId", c.merged_into, i.kind, i.value FROM customer_identities i JOIN customers c ON c.id = i.customer_id
       WHERE (i.kind, i.value) IN (SELECT * FROM unnest($1::text[], $2::text[])) ORDER BY c.id FOR UPDATE OF c`,
      [identities.map((identity) => identity.kind), identities.map((identity) => identity.value)],
    );
    if (rows.every((row) => row.merged_into === null)) {
      return {
        owners: [...new Set(rows.map((row) => row.customerId))],
        links: rows.map(({ customerId, kind, value }) => ({ customerId, kind, value })),
      };
    }
  }
  throw Object.assign(new Error('customer merges kept moving identities; retrying'), { code: '40001' });
}

/** Which of `owners` hold an email (the guarded kinds never merge people whose emails differ). */
async function ownersWithEmail(client: PoolClient, owners: number[]): Promise<Set<number>> {
  if (owners.length === 0) return new Set();
  const { rows } = await client.query<{ id: number }>(
    "SELECT DISTINCT customer_id AS id FROM customer_identities WHERE kind = 'email' AND customer_id = ANY($1::bigint[])",
    [owners],
  );
  return new Set(rows.map((row) => Number(row.id)));
}

/** The identity policy (planLinks) applied to the customers an event points at, with their stored identities. */
async function planMerge(
  client: PoolClient,
  owners: number[],
  identities: Identity[],
  links: IdentityLink[],
  policy: IdentityPolicy,
  withEmail: Set<number>,
): Promise<LinkPlan> {
  const { rows: apart } = await client.query<{ a: number; b: number }>(
    `SELECT customer_a AS a, customer_b AS b FROM customer_merge_suggestions WHERE status = 'rejected' AND customer_a = ANY($1::bigint[]) AND customer_b = ANY($1::bigint[])`,
    [owners],
  );
  return planLinks(
    {
      owners,
      links,
      apart: (a, b) => apart.some((pair) => pair.a === Math.min(a, b) && pair.b === Math.max(a, b)),
      withEmail: (id) => withEmail.has(id),
      eventHasEmail: identities.some((identity) => identity.kind === 'email'),
      countsIfMerged: async (customerIds) => {
        const { rows } = await client.query<{ kind: string; n: number }>(
          `SELECT kind, count(*)::int AS n FROM (
             SELECT kind, value FROM customer_identities WHERE customer_id = ANY($1::bigint[])
             UNION SELECT * FROM unnest($2::text[], $3::text[])) AS all_identities GROUP BY kind`,
          [customerIds, identities.map((identity) => identity.kind), identities.map((identity) => identity.value)],
        );
        return Object.fromEntries(rows.map((row) => [row.kind, row.n]));
      },
    },
    policy,
  );
}

/** Records (once per pair) that two customers are probably one person, for an admin to accept or reject. */
async function suggestMerge(
  client: PoolClient,
  a: number,
  b: number,
  reason: Record<string, unknown>,
  score: number | null = null,
): Promise<void> {
  await client.query(
    `INSERT INTO customer_merge_suggestions (customer_a, customer_b, reason, score) VALUES (least($1::bigint, $2::bigint), greatest($1::bigint, $2::bigint), $3, $4)
     ON CONFLICT (customer_a, customer_b) DO NOTHING`,
    [a, b, JSON.stringify(reason), score],
  );
}

/**
 * Runs `write`, a statement (usually data-modifying) for the live customer that `customerId` is now, as one statement
 * (one round trip; in the caller's transaction when given a client). `write` reads that customer from `live` and acts
 * only while it is live
 * (`… SELECT live.id, … FROM live WHERE live.merged_into IS NULL`); its own parameters start at `$2`. The customer row
 * is share-locked meanwhile, so a merge waits and then moves what was written; a merge committed while we waited
 * shows in `live.merged_into`, and the write is tried again on the customer merged into. Returns the RETURNING rows
 * (as JSON values).
 */
export async function writeForLiveCustomer<Row>(
  db: Pool | PoolClient,
  customerId: number,
  write: string,
  params: unknown[],
): Promise<Row[]> {
  let id = customerId;
  for (let hop = 0; hop < 20; hop++) {
    const { rows } = await db.query<{ merged_into: number | null; written: Row[] | null }>(
      `WITH live AS (SELECT id, merged_into FROM customers WHERE id = (SELECT coalesce(merged_into, id) FROM customers WHERE id = $1) FOR SHARE),
            written AS (${write})
       SELECT live.merged_into, (SELECT json_agg(written) FROM written) AS written FROM live`,
      [id, ...params],
    );
    if (!rows[0]) throw new Error(`customer ${customerId} does not exist`);
    if (rows[0].merged_into === null) return rows[0].written ?? [];
    id = rows[0].merged_into;
  }
  throw Object.assign(new Error(`customer ${customerId} kept being merged; retrying`), { code: '40001' });
}

/**
 * The live customer that `customerId` is (or was merged into), share-locked until the caller's transaction ends.
 * Rows written for a customer must be written under this id: a merge of it locks it for update, so it waits and then
 * moves them; a row written under an id merged a moment earlier would stay behind where no one reads it.
 */
export async function lockLiveCustomer(client: PoolClient, customerId: number): Promise<number> {
  const [live] = await writeForLiveCustomer<{ id: number }>(
    client,
    customerId,
    'SELECT id FROM live WHERE merged_into IS NULL',
    [],
  );
  return live!.id;
}

/** Why two customers were merged, kept on the merge record and shown in the customer's history. */
export interface MergeReason {
  /** The event's identities. */
  identities: Identity[];
  /** The identities of the merged customer that the event shared. */
  linked_by: Identity[];
  /** What brought them together: `run:<id>` for an event, `suggestion:<id>` for an accepted suggestion. */
  event: string;
  why: string;
}

/** SQL for the rank of a lifecycle stage (see STAGE_RANK): a merge keeps the most advanced stage of the two. */
function stageRank(column: string): string {
  return `CASE ${column} ${Object.entries(STAGE_RANK)
    .map(([stage, rank]) => `WHEN '${stage}' THEN ${rank}`)
    .join(' ')} ELSE -1 END`;
}

/** Customer columns an unmerge restores from the merge's snapshot (all but id, created_at, updated_at, erased_at). */
const RESTORED_COLUMNS = [
  ...PROFILE_TEXT_FIELDS,
  'lifecycle_stage',
  'owner_agent_id',
  'attributes',
  'score',
  'profile_updated_at',
  'merged_into',
] as const;

/**
 * Moves everything `mergedId` owns to `keptId` and records why, with both customer rows as they were and the ids of
 * the rows moved, so that an unmerge can put them back. Caller holds both row locks. Returns the merge id.
 */
async function mergeInto(client: PoolClient, keptId: number, mergedId: number, reason: MergeReason): Promise<number> {
  const { rows: before } = await client.query<{ id: number; row: unknown }>(
    'SELECT id, to_jsonb(c) AS row FROM customers c WHERE id = ANY($1::bigint[])',
    [[keptId, mergedId]],
  );
  const moved: Record<string, number[]> = {};
  for (const table of MERGE_TABLES) {
    const { rows } = await client.query<{ id: number }>(
      `UPDATE ${table} SET customer_id = $1 WHERE customer_id = $2 RETURNING id`,
      [keptId, mergedId],
    );
    moved[table] = rows.map((row) => row.id);
  }
  // Combine the profiles as if their data had arrived in one: the newer profile's values win, the older one fills
  // gaps, and the kept profile carries the newer time (else older data arriving later would overwrite newer).
  // The kept owner, if any, stays. Its traits and segments are recomputed by the caller's refresh, else the next sweep.
  const newer = `m.profile_updated_at > coalesce(kept.profile_updated_at, '-infinity')`;
  await client.query(
    `UPDATE customers AS kept SET
       ${PROFILE_TEXT_FIELDS.map((field) => `${field} = CASE WHEN ${newer} THEN coalesce(m.${field}, kept.${field}) ELSE coalesce(kept.${field}, m.${field}) END`).join(', ')},
       owner_agent_id = coalesce(kept.owner_agent_id, m.owner_agent_id),
       lifecycle_stage = CASE WHEN ${stageRank('m.lifecycle_stage')} > ${stageRank('kept.lifecycle_stage')} THEN m.lifecycle_stage ELSE kept.lifecycle_stage END,
       attributes = CASE WHEN ${newer} THEN kept.attributes || m.attributes ELSE m.attributes || kept.attributes END,
       score = kept.score + m.score,
       profile_updated_at = greatest(kept.profile_updated_at, m.profile_updated_at), updated_at = now(),
       segments_recheck_at = '-infinity'
     FROM customers AS m WHERE kept.id = $1 AND m.id = $2`,
    [keptId, mergedId],
  );
  // Customers merged earlier into the merged one now resolve straight to the kept one.
  const { rows: chained } = await client.query<{ id: number }>(
    'UPDATE customers SET merged_into = $1, updated_at = now() WHERE merged_into = $2 RETURNING id',
    [keptId, mergedId],
  );
  moved.customers = chained.map((row) => row.id);
  // The merged customer's segment stays end with it (same statement: merges sit on the hot path of identity races).
  await client.query(
    `WITH closed AS (UPDATE segment_memberships SET exited_at = now(), exited_by = 'merge' WHERE customer_id = $2 AND exited_at IS NULL)
     UPDATE customers SET merged_into = $1, updated_at = now() WHERE id = $2`,
    [keptId, mergedId],
  );
  const { rows } = await client.query<{ id: number }>(
    'INSERT INTO customer_merges (kept_id, merged_id, reason, before, moved) VALUES ($1, $2, $3, $4, $5) RETURNING id',
    [
      keptId,
      mergedId,
      JSON.stringify(reason),
      JSON.stringify(Object.fromEntries(before.map((row) => [row.id === keptId ? 'kept' : 'merged', row.row]))),
      JSON.stringify(moved),
    ],
  );
  return rows[0]!.id;
}

/**
 * A change the store refuses: the customer, merge or suggestion does not exist (`not_found`), or its state forbids
 * the change (`conflict`). The operations layer turns it into its domain error; the store knows nothing of HTTP.
 */
export class CustomerChangeError extends Error {
  constructor(
    readonly kind: 'not_found' | 'conflict',
    message: string,
  ) {
    super(message);
    this.name = 'CustomerChangeError';
  }
}

/**
 * Merges two live customers by hand (an accepted suggestion) in the caller's transaction: the older keeps the other.
 * Ids merged since are followed to their live customer.
 */
export async function mergeLiveCustomers(
  client: PoolClient,
  a: number,
  b: number,
  reason: Pick<MergeReason, 'event' | 'why'>,
): Promise<{ mergeId: number; keptId: number; mergedId: number }> {
  const live = await Promise.all([a, b].map((id) => lockLiveCustomer(client, id).catch(() => undefined)));
  if (live[0] === undefined || live[1] === undefined)
    throw new CustomerChangeError('not_found', `no customer ${live[0] === undefined ? a : b}`);
  if (live[0] === live[1])
    throw new CustomerChangeError('conflict', `customers ${a} and ${b} are already one customer (${live[0]})`);
  const [kept, gone] = [Math.min(live[0], live[1]), Math.max(live[0], live[1])];
  await client.query('SELECT id FROM customers WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE', [[kept, gone]]);
  const mergeId = await mergeInto(client, kept, gone, { identities: [], linked_by: [], ...reason });
  return { mergeId, keptId: kept, mergedId: gone };
}

export interface Unmerged {
  mergeId: number;
  keptId: number;
  mergedId: number;
  /** Rows returned to the merged customer, by table. */
  restored: Record<string, number>;
}

/**
 * Splits a merge back: the rows it moved return to the merged customer, both customer rows get back the columns
 * they had before it (profile data written to the kept customer since is reverted to its pre-merge state; rows
 * created since stay with it), and the pair is recorded as different people so that the same link does not merge
 * them again (it becomes a suggestion instead). `target` is a merge id, or the merged customer's id.
 */
export async function unmergeCustomer(
  pool: Pool,
  keptId: number,
  target: { mergeId?: number; mergedId?: number },
  actor: string,
): Promise<Unmerged> {
  return withTransaction(pool, async (client) => {
    const { rows: merges } = await client.query<{
      id: number;
      kept_id: number;
      merged_id: number;
      before: Record<string, Record<string, unknown>> | null;
      moved: Record<string, number[]> | null;
      unmerged_at: Date | null;
    }>(
      `SELECT id, kept_id, merged_id, before, moved, unmerged_at FROM customer_merges
       WHERE kept_id = $1 AND ($2::bigint IS NULL OR id = $2) AND ($3::bigint IS NULL OR merged_id = $3)
       ORDER BY unmerged_at IS NULL DESC, id DESC LIMIT 1 FOR UPDATE`,
      [keptId, target.mergeId ?? null, target.mergedId ?? null],
    );
    const merge = merges[0];
    if (!merge)
      throw new CustomerChangeError(
        'not_found',
        `no merge ${target.mergeId !== undefined ? target.mergeId : `of customer ${target.mergedId}`} into customer ${keptId}`,
      );
    if (merge.unmerged_at) throw new CustomerChangeError('conflict', `merge ${merge.id} was already undone`);
    if (!merge.before || !merge.moved)
      throw new CustomerChangeError(
        'conflict',
        `merge ${merge.id} has no snapshot (made before snapshots existed, or the person was erased) and cannot be undone exactly`,
      );
    const { rows: locked } = await client.query<{ id: number; merged_into: number | null }>(
      'SELECT id, merged_into FROM customers WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE',
      [[merge.kept_id, merge.merged_id]],
    );
    const keptRow = locked.find((row) => row.id === merge.kept_id)!;
    if (keptRow.merged_into !== null)
      throw new CustomerChangeError(
        'conflict',
        `customer ${merge.kept_id} was merged into ${keptRow.merged_into} since: undo that merge first`,
      );
    const restored: Record<string, number> = {};
    for (const table of MERGE_TABLES) {
      const { rowCount } = await client.query(
        `UPDATE ${table} SET customer_id = $1 WHERE customer_id = $2 AND id = ANY($3::bigint[])`,
        [merge.merged_id, merge.kept_id, merge.moved[table] ?? []],
      );
      restored[table] = rowCount ?? 0;
    }
    await client.query('UPDATE customers SET merged_into = $1 WHERE merged_into = $2 AND id = ANY($3::bigint[])', [
      merge.merged_id,
      merge.kept_id,
      merge.moved.customers ?? [],
    ]);
    for (const side of ['kept', 'merged'] as const) {
      await client.query(
        `UPDATE customers c SET ${RESTORED_COLUMNS.map((column) => `${column} = s.${column}`).join(', ')}, updated_at = now()
         FROM jsonb_populate_record(NULL::customers, $2) AS s WHERE c.id = $1`,
        [side === 'kept' ? merge.kept_id : merge.merged_id, JSON.stringify(merge.before[side])],
      );
    }
    await client.query('UPDATE customer_merges SET unmerged_at = now(), unmerged_by = $2 WHERE id = $1', [
      merge.id,
      actor,
    ]);
    await recomputeBuiltinTraits(client, [merge.kept_id, merge.merged_id]);
    await client.query(
      `INSERT INTO customer_merge_suggestions (customer_a, customer_b, reason, status, decided_by, decided_at)
       VALUES (least($1::bigint, $2::bigint), greatest($1::bigint, $2::bigint), $3, 'rejected', $4, now())
       ON CONFLICT (customer_a, customer_b) DO UPDATE SET status = 'rejected', decided_by = $4, decided_at = now()`,
      [merge.kept_id, merge.merged_id, JSON.stringify({ why: `unmerged (merge ${merge.id})` }), actor],
    );
    return { mergeId: merge.id, keptId: merge.kept_id, mergedId: merge.merged_id, restored };
  });
}

/**
 * The live, not erased customer that holds every one of the event's identities (kinds `$8`, values `$9`), none of
 * them erased: for it an upsert only updates the profile. Checked again on the row version the update locks, so a
 * merge or an erasure committed meanwhile makes it match nothing.
 */
const KNOWN_BY_ALL_IDENTITIES = `c.id = (SELECT min(i.customer_id) FROM customer_identities i WHERE (i.kind, i.value) IN (SELECT * FROM unnest($8::text[], $9::text[])))
     AND c.merged_into IS NULL AND c.erased_at IS NULL
     AND (SELECT count(*) FROM customer_identities i WHERE i.customer_id = c.id AND (i.kind, i.value) IN (SELECT * FROM unnest($8::text[], $9::text[])))
         = (SELECT count(*) FROM (SELECT DISTINCT * FROM unnest($8::text[], $9::text[])) AS event_identities)
     AND NOT EXISTS (${erasedAmongSql('$8', '$9')})`;

/**
 * Applies the profile to the customer `where` selects (its parameters from `$8` on) and returns the customer as it
 * now is; undefined when `where` selected none.
 */
async function updateProfile(
  db: Pool | PoolClient,
  where: string,
  whereParams: unknown[],
  profile: CustomerProfile,
  occurredAt: Date,
): Promise<CustomerSummary | undefined> {
  const texts = PROFILE_TEXT_FIELDS.map((field) => profile[field] ?? null);
  // Newer data overwrites; older data only fills gaps.
  const { rows } = await db.query<CustomerSummary>(
    `UPDATE customers c SET
       ${PROFILE_TEXT_FIELDS.map(
         (field, i) =>
           `${field} = CASE WHEN $6 >= coalesce(profile_updated_at, '-infinity') THEN coalesce($${i + 1}, ${field}) ELSE coalesce(${field}, $${i + 1}) END`,
       ).join(',\n       ')},
       attributes = CASE WHEN $6 >= coalesce(profile_updated_at, '-infinity') THEN attributes || $7::jsonb ELSE $7::jsonb || attributes END,
       profile_updated_at = greatest(profile_updated_at, $6),
       updated_at = now()
     WHERE ${where} RETURNING ${SUMMARY_COLUMNS}`,
    [...texts, occurredAt, JSON.stringify(profile.attributes ?? {}), ...whereParams],
  );
  return rows[0];
}

/** Moves the lifecycle stage forward (never back) and records the change; returns it, or undefined when none. */
async function advanceLifecycle(
  client: PoolClient,
  customerId: number,
  stage: string,
  source: string,
): Promise<{ from: string; to: string } | undefined> {
  const { rows } = await client.query<{ lifecycle_stage: string }>(
    'SELECT lifecycle_stage FROM customers WHERE id = $1',
    [customerId],
  );
  const current = rows[0]!.lifecycle_stage;
  if ((STAGE_RANK[stage] ?? -1) <= (STAGE_RANK[current] ?? -1)) return undefined;
  await client.query('UPDATE customers SET lifecycle_stage = $2 WHERE id = $1', [customerId, stage]);
  await client.query(
    'INSERT INTO lifecycle_history (customer_id, from_stage, to_stage, source) VALUES ($1, $2, $3, $4)',
    [customerId, current, stage, source],
  );
  return { from: current, to: stage };
}
