import { storeInboxEvents, type InboxEventInput } from '../store/inbox.js';

export type { InboxEventInput } from '../store/inbox.js';
import type { Pool } from '../store/pool.js';

/** Most events one write stores; a larger backlog is written in several. */
const MAX_BATCH_EVENTS = 500;
/** Writes in flight at once: each takes what is waiting when it starts. */
const MAX_WRITES = 4;

interface Delivery {
  events: InboxEventInput[];
  resolve: (ids: number[]) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for webhook deliveries: what arrives while MAX_WRITES writes are in flight is stored by the next one,
 * in one INSERT and one commit. An idle server writes each delivery at once (no timer, no added latency); under load
 * the cost per event falls. Each delivery gets its own new inbox ids, only once they are stored, all or none. When the
 * database refuses a group's values ({@link isDataError}), each delivery of it is written on its own, so one poisoned
 * body fails only itself; a group that fails otherwise (the database is away) fails every delivery in it.
 */
export function createInboxWriter(pool: Pool): (events: InboxEventInput[]) => Promise<number[]> {
  const waiting: Delivery[] = [];
  let writes = 0;

  /** The oldest waiting deliveries, up to MAX_BATCH_EVENTS events (at least one delivery). */
  const nextBatch = (): Delivery[] => {
    let count = 0;
    let events = 0;
    while (count < waiting.length && (count === 0 || events + waiting[count]!.events.length <= MAX_BATCH_EVENTS))
      events += waiting[count++]!.events.length;
    return waiting.splice(0, count);
  };

  async function writeWaiting(): Promise<void> {
    writes++;
    while (waiting.length > 0) {
      const batch = nextBatch();
      try {
        const ids = await storeInboxEvents(
          pool,
          batch.flatMap((delivery) => delivery.events),
        );
        let at = 0;
        for (const delivery of batch) {
          delivery.resolve(ids.slice(at, at + delivery.events.length).filter((id): id is number => id !== undefined));
          at += delivery.events.length;
        }
      } catch (error) {
        if (batch.length > 1 && isDataError(error)) await Promise.all(batch.map((delivery) => writeAlone(delivery)));
        else for (const delivery of batch) delivery.reject(error);
      }
    }
    writes--;
  }

  async function writeAlone(delivery: Delivery): Promise<void> {
    try {
      delivery.resolve((await storeInboxEvents(pool, delivery.events)).filter((id): id is number => id !== undefined));
    } catch (error) {
      delivery.reject(error);
    }
  }

  return (events) =>
    new Promise<number[]>((resolve, reject) => {
      waiting.push({ events, resolve, reject });
      if (writes < MAX_WRITES) void writeWaiting();
    });
}

/**
 * True for an error PostgreSQL raised about the values written (SQLSTATE class 22, data exception: e.g. 22P05, a NUL in
 * jsonb): the same values fail again on every retry, unlike a lost connection or a server shutting down.
 */
export function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('22') && code.length === 5;
}
