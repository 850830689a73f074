import { emitEngineEvent } from './engine-events.js';
import { withRetriedTransaction, type Pool } from './pool.js';
import { lockCustomerForUpdate } from './traits.js';

/** A change made by one step of one run: the key makes a retried step find its change instead of repeating it. */
export interface StepChange {
  customerId: number;
  idempotencyKey: string;
  runId: number;
  /** Engine event types some workflow starts on: events of other types are not written. Default: all. */
  listenedEvents?: ReadonlySet<string>;
}

export interface LifecycleResult {
  customerId: number;
  from: string;
  to: string;
  changed: boolean;
  /** Engine events written with the change (lifecycle.changed), to be queued. */
  events: number[];
}

/**
 * Sets the customer's lifecycle stage (forward or back: the step says so explicitly) and records the change with the
 * run as its source. No change, no history and no event when the customer is already at that stage.
 */
export async function setLifecycleStage(pool: Pool, change: StepChange & { stage: string }): Promise<LifecycleResult> {
  return withRetriedTransaction(pool, async (client) => {
    const { rows: done } = await client.query<{ customer_id: number; from_stage: string; to_stage: string }>(
      'SELECT customer_id, from_stage, to_stage FROM lifecycle_history WHERE idempotency_key = $1',
      [change.idempotencyKey],
    );
    if (done[0])
      return {
        customerId: done[0].customer_id,
        from: done[0].from_stage,
        to: done[0].to_stage,
        changed: true,
        events: [],
      };
    const customerId = await lockCustomerForUpdate(client, change.customerId);
    const { rows } = await client.query<{ lifecycle_stage: string }>(
      'SELECT lifecycle_stage FROM customers WHERE id = $1',
      [customerId],
    );
    const from = rows[0]!.lifecycle_stage;
    if (from === change.stage) return { customerId, from, to: from, changed: false, events: [] };
    await client.query('UPDATE customers SET lifecycle_stage = $2, updated_at = now() WHERE id = $1', [
      customerId,
      change.stage,
    ]);
    await client.query(
      'INSERT INTO lifecycle_history (customer_id, from_stage, to_stage, source, idempotency_key) VALUES ($1, $2, $3, $4, $5)',
      [customerId, from, change.stage, `run:${change.runId}`, change.idempotencyKey],
    );
    const event = await emitEngineEvent(client, {
      type: 'lifecycle.changed',
      customerId,
      sourceRunId: change.runId,
      listened: change.listenedEvents,
      data: { customer_id: customerId, from, to: change.stage, source: `run:${change.runId}` },
    });
    return { customerId, from, to: change.stage, changed: true, events: event === undefined ? [] : [event] };
  });
}

export interface ScoreResult {
  customerId: number;
  previous: number;
  score: number;
  /** Thresholds crossed upward by this change. */
  crossed: number[];
  /** False when a retry found the change already made. */
  applied: boolean;
  /** Engine events written with the change (score.threshold), to be queued. */
  events: number[];
}

/**
 * Adds `delta` to the customer's score once per key and records it. Each threshold the score reaches from below
 * emits score.threshold.
 */
export async function addScore(
  pool: Pool,
  change: StepChange & { delta: number; thresholds: number[] },
): Promise<ScoreResult> {
  return withRetriedTransaction(pool, async (client) => {
    const { rows: done } = await client.query<{ customer_id: number; delta: number; score: number }>(
      'SELECT customer_id, delta, score FROM score_history WHERE idempotency_key = $1',
      [change.idempotencyKey],
    );
    if (done[0])
      return {
        customerId: done[0].customer_id,
        previous: done[0].score - done[0].delta,
        score: done[0].score,
        crossed: [],
        applied: false,
        events: [],
      };
    const customerId = await lockCustomerForUpdate(client, change.customerId);
    const { rows } = await client.query<{ previous: number; score: number }>(
      'UPDATE customers SET score = score + $2, updated_at = now() WHERE id = $1 RETURNING score - $2 AS previous, score',
      [customerId, change.delta],
    );
    const { previous, score } = rows[0]!;
    await client.query(
      'INSERT INTO score_history (customer_id, delta, score, source, idempotency_key) VALUES ($1, $2, $3, $4, $5)',
      [customerId, change.delta, score, `run:${change.runId}`, change.idempotencyKey],
    );
    const crossed = change.thresholds.filter((threshold) => previous < threshold && score >= threshold);
    const events: number[] = [];
    for (const threshold of crossed) {
      const event = await emitEngineEvent(client, {
        type: 'score.threshold',
        customerId,
        sourceRunId: change.runId,
        listened: change.listenedEvents,
        data: { customer_id: customerId, threshold, score, previous },
      });
      if (event !== undefined) events.push(event);
    }
    return { customerId, previous, score, crossed, applied: true, events };
  });
}
