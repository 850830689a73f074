import type { Pipeline } from '../workflows/pipelines.js';
import { emitEngineEvent, type EngineEventType } from './engine-events.js';
import { withRetriedTransaction, type Pool, type PoolClient } from './pool.js';
import { lockCustomerRowForUpdate } from './traits.js';

export type DealStatus = 'open' | 'won' | 'lost';

/** A deal as the API shows it (snake_case). Amounts are numbers with cents; unknown is null. */
export interface DealRow {
  id: number;
  customer_id: number;
  pipeline: string;
  stage: string;
  status: DealStatus;
  name: string | null;
  amount: number | null;
  currency: string | null;
  owner_agent_id: string | null;
  /** `YYYY-MM-DD`. */
  expected_close_on: string | null;
  source: string | null;
  source_run_id: number | null;
  opened_at: Date;
  stage_entered_at: Date;
  closed_at: Date | null;
  close_reason: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface DealHistoryRow {
  id: number;
  from_stage: string | null;
  to_stage: string;
  amount: number | null;
  at: Date;
  source: string | null;
  actor: string | null;
  reason: string | null;
  recorded_at: Date;
}

const DEAL_COLUMNS = `d.id, d.customer_id, d.pipeline, d.stage, d.status, d.name, d.amount::float8 AS amount, d.currency, d.owner_agent_id,
  to_char(d.expected_close_on, 'YYYY-MM-DD') AS expected_close_on, d.source, d.source_run_id, d.opened_at, d.stage_entered_at, d.closed_at,
  d.close_reason, d.created_at, d.updated_at`;

/** How a change may open a deal when the customer has none open in the pipeline. */
export interface DealOpening {
  /** Open a further deal even when one is open (never looks for the open one). */
  another: boolean;
  name: string | null;
  currency: string | null;
  /** Undefined: the customer's owner. */
  ownerAgentId?: string | null;
  expectedCloseOn: string | null;
}

/**
 * A change of a customer's deal in one pipeline: the open deal (or `dealId`) moves to `stage`; without one, a deal is
 * opened at `stage` when `open` says so. `at` is when it happened at the vendor.
 */
export interface DealChange {
  customerId: number;
  pipeline: Pipeline;
  stage: string;
  at: Date;
  /** The step's key for its vendor object: a retried, replayed or redelivered change finds its history row. */
  idempotencyKey?: string;
  /** Undefined: the amount stays. */
  amount?: number | null;
  reason?: string | null;
  /** What caused it: `<connector>:<event type>:<external id>`, `run:<id>`, `user:<name>`. */
  source: string;
  runId?: number;
  /** The person who moved it (operations), recorded in the history. */
  actor?: string;
  dealId?: number;
  allowBackwards: boolean;
  open?: DealOpening;
  /** Engine event types some workflow starts on: events of other types are not written. Default: all. */
  listenedEvents?: ReadonlySet<string>;
}

export interface DealChangeResult {
  /** `skipped`: nothing changed, `reason` says why (no open deal, a backward move, the event predates a closed deal). */
  action: 'opened' | 'moved' | 'unchanged' | 'skipped';
  deal?: DealRow;
  reason?: string;
  /** Engine events written with the change, to be queued. */
  events: number[];
}

/**
 * Applies a deal change under the customer's row lock, so deal changes of one customer (and merges) are serial and
 * "one open deal per customer and pipeline" holds without a unique index (a merge may bring two together).
 *
 * Out-of-order events follow "one deal per buying episode": an event that happened at or before a closed deal's
 * close belongs to that deal and opens nothing (the late cart after its order), and a win or loss that happened before
 * the open deal was opened does not close it (it closes its own, earlier episode: a deal opened closed).
 */
export async function changeDeal(pool: Pool, change: DealChange): Promise<DealChangeResult> {
  return withRetriedTransaction(pool, async (client) => {
    // The deal reads below are later statements than the lock: they see what the lock's previous holder committed.
    const customer = await lockCustomerRowForUpdate(client, change.customerId);
    const customerId = customer.id;
    if (change.idempotencyKey !== undefined) {
      const { rows: done } = await client.query<{ deal_id: number; from_stage: string | null }>(
        'SELECT deal_id, from_stage FROM deal_stage_history WHERE idempotency_key = $1',
        [change.idempotencyKey],
      );
      if (done[0])
        return {
          action: done[0].from_stage === null ? 'opened' : 'moved',
          deal: await getDeal(client, done[0].deal_id),
          events: [],
        };
    }
    const target = change.pipeline.byId.get(change.stage);
    if (!target) throw new Error(`pipeline ${change.pipeline.id} has no stage ${change.stage}`);
    const terminal = target.kind !== 'open';

    let deal: DealRow | undefined;
    if (change.dealId !== undefined) {
      deal = await getDeal(client, change.dealId);
      if (!deal || deal.customer_id !== customerId)
        return { action: 'skipped', reason: `no deal ${change.dealId} for customer ${customerId}`, events: [] };
    } else if (!change.open?.another) {
      const { rows } = await client.query<DealRow>(
        `SELECT ${DEAL_COLUMNS} FROM deals d WHERE d.customer_id = $1 AND d.pipeline = $2 AND d.status = 'open' AND (NOT $3 OR d.opened_at <= $4)
         ORDER BY d.opened_at DESC, d.id DESC LIMIT 1`,
        [customerId, change.pipeline.id, terminal, change.at],
      );
      deal = rows[0];
    }

    if (!deal) {
      if (!change.open)
        return {
          action: 'skipped',
          reason: `customer ${customerId} has no open deal in pipeline ${change.pipeline.id}`,
          events: [],
        };
      if (!change.open.another) {
        const { rows: closed } = await client.query<{ id: number; status: string; closed_at: Date }>(
          `SELECT id, status, closed_at FROM deals WHERE customer_id = $1 AND pipeline = $2 AND status <> 'open' AND closed_at >= $3 ORDER BY closed_at DESC LIMIT 1`,
          [customerId, change.pipeline.id, change.at],
        );
        if (closed[0]) {
          const reason = `deal ${closed[0].id} was ${closed[0].status} at ${closed[0].closed_at.toISOString()}, after this event (${change.at.toISOString()}): the event belongs to it`;
          return { action: 'skipped', deal: await getDeal(client, closed[0].id), reason, events: [] };
        }
      }
      return openDeal(client, customerId, customer.owner_agent_id, change, change.open);
    }

    if (deal.status !== 'open')
      return { action: 'skipped', deal, reason: `deal ${deal.id} is ${deal.status}`, events: [] };
    const current = change.pipeline.byId.get(deal.stage);
    if (deal.stage === change.stage)
      return { action: 'unchanged', deal, reason: `deal ${deal.id} is already in ${deal.stage}`, events: [] };
    if (current && current.index > target.index && !change.allowBackwards) {
      return {
        action: 'skipped',
        deal,
        reason: `deal ${deal.id} is in ${deal.stage}, past ${change.stage}; deals move forward unless allow_backwards is set`,
        events: [],
      };
    }
    // A stage entered from an event older than the current stage's entry still counts from the later time.
    const at = new Date(Math.max(change.at.getTime(), deal.stage_entered_at.getTime()));
    const moved = await writeDeal(
      client,
      `UPDATE deals SET stage = $2, status = $3::text, amount = CASE WHEN $4::boolean THEN $5::numeric ELSE amount END, stage_entered_at = $6::timestamptz,
         closed_at = CASE WHEN $3::text = 'open' THEN NULL ELSE $6::timestamptz END, close_reason = CASE WHEN $3::text = 'open' THEN NULL ELSE $7::text END, updated_at = now()
       WHERE id = $1 RETURNING *`,
      [
        deal.id,
        change.stage,
        target.kind,
        change.amount !== undefined,
        change.amount ?? null,
        at,
        change.reason ?? null,
      ],
      deal.stage,
      change,
    );
    const events = await emitDealEvents(client, moved, change, ['deal.stage_changed', ...terminalEvent(target.kind)], {
      from: deal.stage,
    });
    return { action: 'moved', deal: moved, events };
  });
}

async function openDeal(
  client: PoolClient,
  customerId: number,
  customerOwner: string | null,
  change: DealChange,
  open: DealOpening,
): Promise<DealChangeResult> {
  const kind = change.pipeline.byId.get(change.stage)!.kind;
  const deal = await writeDeal(
    client,
    `INSERT INTO deals (customer_id, pipeline, stage, status, name, amount, currency, owner_agent_id, expected_close_on, source, source_run_id,
                        opened_at, stage_entered_at, closed_at, close_reason)
     VALUES ($1, $2, $3, $4::text, $5, $6, $7, $8, $9, $10, $11, $12::timestamptz, $12::timestamptz,
             CASE WHEN $4::text = 'open' THEN NULL ELSE $12::timestamptz END, CASE WHEN $4::text = 'open' THEN NULL ELSE $13::text END)
     RETURNING *`,
    [
      customerId,
      change.pipeline.id,
      change.stage,
      kind,
      open.name,
      change.amount ?? null,
      open.currency ?? change.pipeline.currency,
      open.ownerAgentId === undefined ? customerOwner : open.ownerAgentId,
      open.expectedCloseOn,
      change.source,
      change.runId ?? null,
      change.at,
      change.reason ?? null,
    ],
    null,
    change,
  );
  return {
    action: 'opened',
    deal,
    events: await emitDealEvents(client, deal, change, ['deal.opened', ...terminalEvent(kind)]),
  };
}

function terminalEvent(kind: 'open' | 'won' | 'lost'): EngineEventType[] {
  return kind === 'won' ? ['deal.won'] : kind === 'lost' ? ['deal.lost'] : [];
}

/**
 * Runs `write`, an INSERT or UPDATE of one deal `RETURNING *`, and records the stage it entered in deal_stage_history,
 * in one statement; returns the deal as written. The history row takes the deal's new stage, the time it entered it
 * and its customer from the written row; `from` is the stage it left (null: just opened).
 */
async function writeDeal(
  client: PoolClient,
  write: string,
  params: unknown[],
  from: string | null,
  change: DealChange,
): Promise<DealRow> {
  const p = (i: number) => `$${params.length + i}`;
  const { rows } = await client.query<DealRow>(
    `WITH d AS (${write}),
     h AS (INSERT INTO deal_stage_history (deal_id, customer_id, from_stage, to_stage, amount, at, source, actor, reason, idempotency_key)
           SELECT d.id, d.customer_id, ${p(1)}::text, d.stage, ${p(2)}::numeric, d.stage_entered_at, ${p(3)}::text, ${p(4)}::text, ${p(5)}::text, ${p(6)}::text FROM d)
     SELECT ${DEAL_COLUMNS} FROM d`,
    [
      ...params,
      from,
      change.amount ?? null,
      change.source,
      change.actor ?? null,
      change.reason ?? null,
      change.idempotencyKey ?? null,
    ],
  );
  return rows[0]!;
}

/** What deal events carry (`$` in workflows started on them). */
function dealEventData(deal: DealRow, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    deal_id: deal.id,
    customer_id: deal.customer_id,
    pipeline: deal.pipeline,
    stage: deal.stage,
    status: deal.status,
    name: deal.name,
    amount: deal.amount,
    currency: deal.currency,
    owner_agent_id: deal.owner_agent_id,
    close_reason: deal.close_reason,
    ...extra,
  };
}

async function emitDealEvents(
  client: PoolClient,
  deal: DealRow,
  change: DealChange,
  types: EngineEventType[],
  extra: Record<string, unknown> = {},
): Promise<number[]> {
  const events: number[] = [];
  for (const type of types) {
    const id = await emitEngineEvent(client, {
      type,
      customerId: deal.customer_id,
      sourceRunId: change.runId,
      listened: change.listenedEvents,
      data: dealEventData(deal, extra),
    });
    if (id !== undefined) events.push(id);
  }
  return events;
}

export async function getDeal(db: Pool | PoolClient, id: number): Promise<DealRow | undefined> {
  const { rows } = await db.query<DealRow>(`SELECT ${DEAL_COLUMNS} FROM deals d WHERE d.id = $1`, [id]);
  return rows[0];
}

export async function getDealHistory(pool: Pool, dealId: number): Promise<DealHistoryRow[]> {
  const { rows } = await pool.query<DealHistoryRow>(
    `SELECT id, from_stage, to_stage, amount::float8 AS amount, at, source, actor, reason, recorded_at FROM deal_stage_history WHERE deal_id = $1 ORDER BY id`,
    [dealId],
  );
  return rows;
}

export interface DealFilter {
  /** Deals of this customer (following merges). */
  customerId?: number;
  pipeline?: string;
  stage?: string;
  owner?: string;
  status?: DealStatus;
  before?: number;
  limit: number;
}

export interface DealListRow extends DealRow {
  customer_name: string | null;
}

/** Newest first, with the customer's name (for cards and lists). */
export async function listDeals(pool: Pool, filter: DealFilter): Promise<DealListRow[]> {
  const { rows } = await pool.query<DealListRow>(
    `SELECT ${DEAL_COLUMNS}, c.name AS customer_name FROM deals d JOIN customers c ON c.id = d.customer_id
     WHERE ($1::bigint IS NULL OR d.customer_id = (SELECT coalesce(merged_into, id) FROM customers WHERE id = $1))
       AND ($2::text IS NULL OR d.pipeline = $2) AND ($3::text IS NULL OR d.stage = $3) AND ($4::text IS NULL OR d.owner_agent_id = $4)
       AND ($5::text IS NULL OR d.status = $5) AND ($6::bigint IS NULL OR d.id < $6)
     ORDER BY d.id DESC LIMIT $7`,
    [
      filter.customerId ?? null,
      filter.pipeline ?? null,
      filter.stage ?? null,
      filter.owner ?? null,
      filter.status ?? null,
      filter.before ?? null,
      filter.limit,
    ],
  );
  return rows;
}

/** Deals and the sum of their known amounts in `currency`, per stage of the pipeline (all of them, not a page). */
export async function stageTotals(
  pool: Pool,
  pipeline: Pipeline,
): Promise<Map<string, { count: number; total: number }>> {
  const { rows } = await pool.query<{ stage: string; count: number; total: number }>(
    `SELECT stage, count(*)::int AS count, coalesce(sum(amount) FILTER (WHERE currency = $2), 0)::float8 AS total FROM deals WHERE pipeline = $1 GROUP BY stage`,
    [pipeline.id, pipeline.currency],
  );
  return new Map(rows.map((row) => [row.stage, { count: row.count, total: row.total }]));
}

/** A deal is stale when it has sat in its open stage longer than the stage's `rot_after`. */
export function isStale(
  deal: Pick<DealRow, 'status' | 'stage' | 'stage_entered_at'>,
  pipeline: Pipeline,
  now: Date,
): boolean {
  const rot = pipeline.byId.get(deal.stage)?.rotAfterMs;
  return deal.status === 'open' && rot !== undefined && now.getTime() - deal.stage_entered_at.getTime() > rot;
}

/**
 * Emits deal.stale for every open deal that has sat in its stage past `rot_after`: once per staleness (keyed by the
 * deal and the time it entered the stage, so later scans, a second process or a retry emit nothing; a deal that moves
 * and then rots again gets a new one). Returns the events written.
 */
export async function emitStaleDeals(
  pool: Pool,
  pipelines: Iterable<Pipeline>,
  now: Date,
  listened?: ReadonlySet<string>,
): Promise<number[]> {
  if (listened && !listened.has('deal.stale')) return [];
  const events: number[] = [];
  for (const pipeline of pipelines) {
    for (const stage of pipeline.stages) {
      if (stage.rotAfterMs === undefined) continue;
      const { rows } = await pool.query<DealRow>(
        `SELECT ${DEAL_COLUMNS} FROM deals d WHERE d.pipeline = $1 AND d.stage = $2 AND d.status = 'open' AND d.stage_entered_at < $3 ORDER BY d.id LIMIT 1000`,
        [pipeline.id, stage.id, new Date(now.getTime() - stage.rotAfterMs)],
      );
      for (const deal of rows) {
        const id = await emitEngineEvent(pool, {
          type: 'deal.stale',
          customerId: deal.customer_id,
          dedupeKey: `deal:${deal.id}:stale:${deal.stage_entered_at.toISOString()}`,
          data: dealEventData(deal, {
            stage_entered_at: deal.stage_entered_at.toISOString(),
            days_in_stage: Math.floor((now.getTime() - deal.stage_entered_at.getTime()) / 86_400_000),
          }),
        });
        if (id !== undefined) events.push(id);
      }
    }
  }
  return events;
}

export interface ForecastMonth {
  /** `YYYY-MM` (UTC). */
  month: string;
  /** Open deals expected to close this month. */
  open_amount: number;
  /** Each open deal's amount × its stage's probability. */
  weighted_amount: number;
  /** Deals won this month (by the vendor time of the win). */
  won_amount: number;
  open_deals: number;
  won_deals: number;
}

export interface Forecast {
  pipeline: string;
  currency: string;
  months: ForecastMonth[];
  /** Open deals whose expected close date is unknown or before the first month: in no month above. */
  unscheduled: { deals: number; amount: number };
  /** Deals in another currency than the pipeline's, left out of every sum. */
  other_currency_deals: number;
}

/**
 * The pipeline's forecast for `months` months from the month of `now` (UTC), in the pipeline's currency. Deals with an
 * unknown amount count as deals but add nothing.
 */
export async function pipelineForecast(pool: Pool, pipeline: Pipeline, months: number, now: Date): Promise<Forecast> {
  const first = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + months, 1));
  const labels = Array.from({ length: months }, (_, i) =>
    new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + i, 1)).toISOString().slice(0, 7),
  );
  const params = [
    pipeline.id,
    pipeline.currency,
    first,
    end,
    pipeline.stages.map((stage) => stage.id),
    pipeline.stages.map((stage) => stage.probability),
  ];
  const { rows } = await pool.query<{ month: string; kind: string; deals: number; amount: number; weighted: number }>(
    `WITH p(stage, probability) AS (SELECT * FROM unnest($5::text[], $6::numeric[]))
     SELECT to_char(d.expected_close_on, 'YYYY-MM') AS month, 'open' AS kind, count(*)::int AS deals,
            coalesce(sum(d.amount), 0)::float8 AS amount, round(coalesce(sum(d.amount * p.probability), 0), 2)::float8 AS weighted
       FROM deals d JOIN p ON p.stage = d.stage
      WHERE d.pipeline = $1 AND d.currency = $2 AND d.status = 'open' AND d.expected_close_on >= $3::date AND d.expected_close_on < $4::date GROUP BY 1
     UNION ALL
     SELECT to_char(d.closed_at AT TIME ZONE 'UTC', 'YYYY-MM'), 'won', count(*)::int, coalesce(sum(d.amount), 0)::float8, 0
       FROM deals d WHERE d.pipeline = $1 AND d.currency = $2 AND d.status = 'won' AND d.closed_at >= $3 AND d.closed_at < $4 GROUP BY 1`,
    params,
  );
  const { rows: rest } = await pool.query<{ unscheduled: number; amount: number; other: number }>(
    `SELECT count(*) FILTER (WHERE status = 'open' AND currency = $2 AND (expected_close_on IS NULL OR expected_close_on < $3::date))::int AS unscheduled,
            coalesce(sum(amount) FILTER (WHERE status = 'open' AND currency = $2 AND (expected_close_on IS NULL OR expected_close_on < $3::date)), 0)::float8 AS amount,
            count(*) FILTER (WHERE currency IS DISTINCT FROM $2)::int AS other
       FROM deals WHERE pipeline = $1`,
    [pipeline.id, pipeline.currency, first],
  );
  const byMonth = new Map(
    labels.map((month) => [
      month,
      { month, open_amount: 0, weighted_amount: 0, won_amount: 0, open_deals: 0, won_deals: 0 },
    ]),
  );
  for (const row of rows) {
    const month = byMonth.get(row.month);
    if (!month) continue;
    if (row.kind === 'open')
      Object.assign(month, { open_amount: row.amount, weighted_amount: row.weighted, open_deals: row.deals });
    else Object.assign(month, { won_amount: row.amount, won_deals: row.deals });
  }
  return {
    pipeline: pipeline.id,
    currency: pipeline.currency,
    months: [...byMonth.values()],
    unscheduled: { deals: rest[0]!.unscheduled, amount: rest[0]!.amount },
    other_currency_deals: rest[0]!.other,
  };
}

export interface PipelineStats {
  pipeline: string;
  won_deals: number;
  lost_deals: number;
  /** Won ÷ (won + lost); null before any deal closed. */
  win_rate: number | null;
  /** Per open stage: how long deals stayed in it (a deal still there counts until `now`); null when none entered it. */
  stages: Array<{ stage: string; deals: number; average_days: number | null }>;
}

/** Win rate and average time per stage, from the deals and their stage history (vendor times). */
export async function pipelineStats(pool: Pool, pipeline: Pipeline, now: Date): Promise<PipelineStats> {
  const { rows: closed } = await pool.query<{ won: number; lost: number }>(
    `SELECT count(*) FILTER (WHERE status = 'won')::int AS won, count(*) FILTER (WHERE status = 'lost')::int AS lost FROM deals WHERE pipeline = $1`,
    [pipeline.id],
  );
  const { rows: stays } = await pool.query<{ stage: string; deals: number; average_days: number }>(
    `WITH stays AS (
       SELECT h.to_stage AS stage, h.deal_id,
              extract(epoch FROM coalesce(lead(h.at) OVER (PARTITION BY h.deal_id ORDER BY h.id), $2::timestamptz) - h.at) / 86400 AS days
         FROM deal_stage_history h JOIN deals d ON d.id = h.deal_id WHERE d.pipeline = $1)
     SELECT stage, count(DISTINCT deal_id)::int AS deals, round(avg(greatest(days, 0))::numeric, 2)::float8 AS average_days FROM stays GROUP BY stage`,
    [pipeline.id, now],
  );
  const byStage = new Map(stays.map((row) => [row.stage, row]));
  const { won, lost } = closed[0]!;
  return {
    pipeline: pipeline.id,
    won_deals: won,
    lost_deals: lost,
    win_rate: won + lost === 0 ? null : Math.round((won / (won + lost)) * 10_000) / 10_000,
    stages: pipeline.stages
      .filter((stage) => stage.kind === 'open')
      .map((stage) => ({
        stage: stage.id,
        deals: byStage.get(stage.id)?.deals ?? 0,
        average_days: byStage.get(stage.id)?.average_days ?? null,
      })),
  };
}
