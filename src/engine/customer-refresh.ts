import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { CustomerSummary } from '../customers/record.js';
import { SUMMARY_COLUMNS } from '../store/customer-queries.js';
import { emitEngineEvent } from '../store/engine-events.js';
import { withRetriedTransaction, type Pool, type PoolClient } from '../store/pool.js';
import {
  applyMembership,
  saveTraits,
  type EvaluatedTraits,
  type MembershipCause,
  type SegmentFlip,
} from '../store/segments.js';
import { BUILTIN_TRAITS_SQL, builtinTraitsSql, lockCustomerForUpdate, type Refreshed } from '../store/traits.js';
import { clockBindings, type CompiledSegment } from '../workflows/segments.js';
import type { LoadedConfig } from '../workflows/load.js';

export interface RefreshOptions {
  cause: MembershipCause;
  /** The run making the change: segment events continue its chain. */
  runId?: number;
  /** Segments whose changes are recorded without segment.entered / segment.exited (a silent backfill). */
  silent?: ReadonlySet<string>;
  /** Recompute the built-in traits from the customer's rows; false reuses the stored ones (a profile-only change). */
  recompute?: boolean;
  /**
   * Redone after a crash anyway (the backfill until it is marked done, the sweep while the re-check time has passed):
   * a refresh that queues no event then commits without waiting for the disk (a flush takes milliseconds; any later
   * durable commit flushes it too).
   */
  redoable?: boolean;
  /**
   * Evaluate only these segments, over the stored traits (the backfill of new or edited segments while the traits'
   * definition is unchanged: every change kept the stored traits current); their stays and flip times are updated, the
   * rest is left as it is.
   */
  only?: readonly CompiledSegment[];
}

export interface CustomerRefresher {
  /**
   * Locks the customer, recomputes their traits (built-in ones in one SQL aggregate, then the declared ones), evaluates
   * every segment, stores the traits and the next time a time-based condition can change its answer, and records the
   * membership changes with their engine events, all in the caller's transaction.
   */
  refresh: (client: PoolClient, customerId: number, options: RefreshOptions) => Promise<Refreshed>;
  /** `refresh` in a transaction of its own (a change that committed on its own: a task, a sent message, the sweep). */
  refreshNow: (customerId: number, options: RefreshOptions) => Promise<Refreshed>;
  /**
   * `refresh` of many live customers in one transaction, with one statement to read them, one to store their traits
   * and one per direction for their stays (the backfill, the sweep); customers merged since they were listed are left
   * out (their rows moved to the kept one). Returns the engine events written.
   */
  refreshMany: (customerIds: number[], options: RefreshOptions) => Promise<number[]>;
  /** Whether a profile change (not only a new row) can move traits or segments: some declared one reads more than traits. */
  readsProfile: boolean;
}

/** Customers, their built-in traits (recomputed or `NULL`: keep the stored ones) and their current segments. */
const refreshSql = (builtin: string, where: string) =>
  `SELECT ${SUMMARY_COLUMNS}, c.segment_flips, c.segments_recheck_at, ${builtin} AS builtin,
     ARRAY(SELECT segment_id FROM segment_memberships WHERE customer_id = c.id AND exited_at IS NULL) AS current
   FROM customers c WHERE ${where}`;
/**
 * Named, so each connection plans them once: planning the built-in traits' statement costs several times running it
 * for one customer (about 1 ms against 0.25 ms), and it runs with most events.
 */
const REFRESH_QUERY = {
  recomputed: { name: 'refresh-customer-recomputed', text: refreshSql(`(${BUILTIN_TRAITS_SQL})`, 'c.id = $1') },
  stored: { name: 'refresh-customer-stored', text: refreshSql('NULL', 'c.id = $1') },
  many: {
    name: 'refresh-customers',
    text: refreshSql(`(${builtinTraitsSql('c.id')})`, 'c.id = ANY($1::bigint[]) ORDER BY c.id'),
  },
  manyStored: { name: 'refresh-customers-stored', text: refreshSql('NULL', 'c.id = ANY($1::bigint[]) ORDER BY c.id') },
};

type LoadedCustomer = CustomerSummary & {
  builtin: Record<string, unknown> | null;
  current: string[];
  segment_flips: Record<string, SegmentFlip> | null;
  /** -Infinity (a number, as node-postgres reads `-infinity`): marked for the next sweep. */
  segments_recheck_at: Date | number | null;
};

/** What a refresh found for one customer: their traits to store and the stays to open and close. */
interface Evaluation extends EvaluatedTraits {
  enter: string[];
  exit: string[];
}

/** The longest a time-based condition goes unchecked: the sweep re-probes it then (conditions that flip back sooner are not seen). */
const PROBE_HORIZON_MS = 1024 * 3_600_000;
/** A flip found by probing is located to within this (the sweep re-checks at its end, when the answer has changed). */
const FLIP_RESOLUTION_MS = 60_000;

export function createCustomerRefresher(deps: {
  pool: Pool;
  config: LoadedConfig;
  now: () => Date;
  listenedEvents?: ReadonlySet<string>;
  logger?: Logger;
}): CustomerRefresher {
  const { segments, traits } = deps.config;
  const needsTimeline = traits.some((trait) => trait.usesTimeline);
  // Built-in traits change only with the customer's rows: expressions reading nothing else need no profile refresh.
  const readsProfile = [...segments, ...traits].some(
    (declared) => declared.reads === null || declared.reads.some((key) => !key.startsWith('traits.')),
  );

  const isMember = async (segment: CompiledSegment, customer: CustomerSummary, at: Date): Promise<boolean> => {
    try {
      return (await segment.when.evaluate(customer, { customer, ...clockBindings(at) })) === true;
    } catch (error) {
      // A condition that cannot be evaluated for this customer (a missing trait in arithmetic) does not hold.
      deps.logger?.debug(
        { segment: segment.id, customer_id: customer.id, err: error },
        'segment condition failed; not a member',
      );
      return false;
    }
  };

  /**
   * When the answer of a time-based condition next changes: probed at now + 1 h, 2 h, 4 h, … up to PROBE_HORIZON_MS,
   * then narrowed by bisection between the last probe that agreed and the first that did not. Without a change within
   * the horizon, its end (probed again then).
   */
  const nextFlip = async (
    segment: CompiledSegment,
    customer: CustomerSummary,
    now: Date,
    answer: boolean,
  ): Promise<number> => {
    let agreed = now.getTime();
    for (let step = 3_600_000; step <= PROBE_HORIZON_MS; step *= 2) {
      const probe = now.getTime() + step;
      if ((await isMember(segment, customer, new Date(probe))) === answer) {
        agreed = probe;
        continue;
      }
      let differs = probe;
      while (differs - agreed > FLIP_RESOLUTION_MS) {
        const middle = Math.floor((agreed + differs) / 2);
        if ((await isMember(segment, customer, new Date(middle))) === answer) agreed = middle;
        else differs = middle;
      }
      return differs;
    }
    return now.getTime() + PROBE_HORIZON_MS;
  };

  /**
   * The flip time of a time-based condition: the stored one while what the condition reads, its answer and its
   * definition are as they were when it was found and it is still ahead (the condition's answer is a function of its
   * inputs and the clock only), else found again by probing.
   */
  const flipOf = async (
    segment: CompiledSegment,
    customer: CustomerSummary,
    now: Date,
    member: boolean,
    stored: SegmentFlip | undefined,
  ): Promise<SegmentFlip> => {
    const inputs = inputsHash(segment, customer);
    if (
      stored?.version === segment.version &&
      stored.inputs === inputs &&
      stored.member === member &&
      stored.at > now.getTime()
    )
      return stored;
    return { version: segment.version, inputs, member, at: await nextFlip(segment, customer, now, member) };
  };

  /** Declared traits on top of the built-in ones (the stored ones when `builtin` is null). */
  const declaredTraits = async (
    client: PoolClient,
    customer: CustomerSummary,
    builtin: Record<string, unknown> | null,
    now: Date,
  ) => {
    const computed: Record<string, unknown> = { ...(builtin ?? customer.traits) };
    if (traits.length === 0) return computed;
    const timeline = needsTimeline
      ? (
          await client.query(
            'SELECT type, source, occurred_at, amount, currency, summary, data FROM timeline_events WHERE customer_id = $1 ORDER BY occurred_at, id LIMIT 1000',
            [customer.id],
          )
        ).rows
      : undefined;
    for (const trait of traits) {
      const subject = { ...customer, traits: computed };
      try {
        const value = await trait.value.evaluate(subject, { customer: subject, timeline, ...clockBindings(now) });
        computed[trait.name] = value === undefined ? null : value;
      } catch (error) {
        deps.logger?.debug(
          { trait: trait.name, customer_id: customer.id, err: error },
          'trait expression failed; null',
        );
        computed[trait.name] = null;
      }
    }
    return computed;
  };

  /**
   * The customer's traits (recomputed, or the stored ones with `only`), then each segment's answer (`only`'s) and each
   * time-based one's flip time. With `only`, the other segments' flip times are kept and the re-check time is the
   * earlier of the stored one and theirs (a re-check that comes too early finds nothing to change).
   */
  const evaluate = async (
    client: PoolClient,
    row: LoadedCustomer,
    now: Date,
    only: readonly CompiledSegment[] | undefined,
  ): Promise<Evaluation> => {
    const { builtin, current, segment_flips: storedFlips, segments_recheck_at: storedRecheck, ...customer } = row;
    const computed = only ? (customer.traits ?? {}) : await declaredTraits(client, customer, builtin, now);
    const subject: CustomerSummary = { ...customer, traits: computed };
    const enter: string[] = [];
    const exit: string[] = [];
    const flips: Record<string, SegmentFlip> = {};
    let recheckAt: number | undefined;
    if (only) {
      for (const [id, flip] of Object.entries(storedFlips ?? {}))
        if (!only.some((segment) => segment.id === id)) flips[id] = flip;
      if (storedRecheck !== null) recheckAt = Number(storedRecheck);
    }
    for (const segment of only ?? segments) {
      const member = await isMember(segment, subject, now);
      if (member && !current.includes(segment.id)) enter.push(segment.id);
      if (!member && current.includes(segment.id)) exit.push(segment.id);
      if (!segment.timeBased) continue;
      flips[segment.id] = await flipOf(segment, subject, now, member, storedFlips?.[segment.id]);
      recheckAt = Math.min(recheckAt ?? Infinity, flips[segment.id]!.at);
    }
    return {
      customerId: customer.id,
      traits: computed,
      // A customer marked for the sweep (-Infinity) stays marked.
      recheckAt: recheckAt === undefined ? null : Number.isFinite(recheckAt) ? new Date(recheckAt) : recheckAt,
      flips: Object.keys(flips).length === 0 ? null : flips,
      enter,
      exit,
    };
  };

  /** Opens and closes the stays the evaluations found and writes their engine events (but for `silent` segments). */
  const recordMembership = async (
    client: PoolClient,
    evaluations: Evaluation[],
    now: Date,
    options: RefreshOptions,
  ): Promise<number[]> => {
    const diffs = evaluations.filter((evaluation) => evaluation.enter.length > 0 || evaluation.exit.length > 0);
    if (diffs.length === 0) return [];
    const changes = await applyMembership(client, diffs, now, options.cause);
    const events: number[] = [];
    for (const change of changes) {
      if (options.silent?.has(change.segmentId)) continue;
      const segment = segments.find((candidate) => candidate.id === change.segmentId)!;
      const event = await emitEngineEvent(client, {
        type: change.change === 'entered' ? 'segment.entered' : 'segment.exited',
        customerId: change.customerId,
        sourceRunId: options.runId,
        listened: deps.listenedEvents,
        // One event per stay and direction, whoever evaluates how often.
        dedupeKey: `segment:${change.membershipId}:${change.change}`,
        data: {
          customer_id: change.customerId,
          segment: segment.id,
          segment_name: segment.name,
          membership_id: change.membershipId,
          cause: options.cause,
        },
      });
      if (event !== undefined) events.push(event);
    }
    return events;
  };

  /** A refresh that queued no event and is redone after a crash anyway commits without waiting for the disk. */
  const relaxCommit = async (client: PoolClient, options: RefreshOptions, events: number[]) => {
    if (options.redoable && events.length === 0) await client.query('SET LOCAL synchronous_commit = off');
  };

  const refresh = async (client: PoolClient, customerId: number, options: RefreshOptions): Promise<Refreshed> => {
    const id = await lockCustomerForUpdate(client, customerId);
    const now = deps.now();
    const { rows } = await client.query<LoadedCustomer>(
      options.recompute === false || options.only ? REFRESH_QUERY.stored : REFRESH_QUERY.recomputed,
      [id],
    );
    const evaluation = await evaluate(client, rows[0]!, now, options.only);
    await saveTraits(client, [evaluation]);
    const events = await recordMembership(client, [evaluation], now, options);
    await relaxCommit(client, options, events);
    return { events, traits: evaluation.traits };
  };

  const refreshMany = (customerIds: number[], options: RefreshOptions): Promise<number[]> =>
    withRetriedTransaction(deps.pool, async (client) => {
      // In id order, so two batches meeting on customers wait for each other instead of deadlocking.
      const { rows: locked } = await client.query<{ id: number }>(
        'SELECT id FROM customers WHERE id = ANY($1::bigint[]) AND merged_into IS NULL ORDER BY id FOR UPDATE',
        [customerIds],
      );
      const now = deps.now();
      const { rows } = await client.query<LoadedCustomer>(
        options.recompute === false || options.only ? REFRESH_QUERY.manyStored : REFRESH_QUERY.many,
        [locked.map((row) => row.id)],
      );
      const evaluations: Evaluation[] = [];
      for (const row of rows) evaluations.push(await evaluate(client, row, now, options.only));
      await saveTraits(client, evaluations);
      const events = await recordMembership(client, evaluations, now, options);
      await relaxCommit(client, options, events);
      return events;
    });

  return {
    refresh,
    refreshNow: (customerId, options) =>
      withRetriedTransaction(deps.pool, (client) => refresh(client, customerId, options)),
    refreshMany,
    readsProfile,
  };
}

/** A hash of what `segment`'s condition reads of the customer (all of it when that is not known). */
function inputsHash(segment: CompiledSegment, customer: CustomerSummary): string {
  const read = (key: string) =>
    key.startsWith('traits.')
      ? customer.traits?.[key.slice('traits.'.length)]
      : (customer as unknown as Record<string, unknown>)[key];
  // A key whose value is undefined is left out of the object, so it hashes apart from a null one.
  const inputs = segment.reads === null ? customer : Object.fromEntries(segment.reads.map((key) => [key, read(key)]));
  return createHash('sha256').update(JSON.stringify(inputs)).digest('base64url').slice(0, 22);
}
