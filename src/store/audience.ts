import type { Pool } from './pool.js';

/** Which customers an audience trigger selects. */
export type AudienceSelector =
  /** Win-back: the newest `order.*` timeline entry is older than this; once per lapse (a new order starts a new one). */
  | { kind: 'no_order_for'; olderThanMs: number }
  /** `attributes.<attribute>` (`YYYY-MM-DD` or `MM-DD`) falls on today's month and day. */
  | { kind: 'date_attribute'; attribute: string };

export interface AudiencePage {
  workflow: string;
  selector: AudienceSelector;
  /** Today in the trigger's time zone, `YYYY-MM-DD`. */
  day: string;
  now: Date;
  afterId: number;
  limit: number;
}

/**
 * One page (by customer id) of the live customers an audience trigger selects today. A win-back customer who already
 * had a run of this workflow on an earlier day since their last order is not selected again.
 */
export async function selectAudience(pool: Pool, page: AudiencePage): Promise<number[]> {
  const { selector } = page;
  const { rows } =
    selector.kind === 'no_order_for'
      ? await pool.query<{ id: number }>(
          `SELECT c.id FROM customers c
           CROSS JOIN LATERAL (SELECT max(occurred_at) AS last FROM timeline_events t WHERE t.customer_id = c.id AND t.type LIKE 'order.%') AS o
           WHERE c.merged_into IS NULL AND c.id > $1 AND o.last < $2
             AND NOT EXISTS (SELECT 1 FROM workflow_runs r
                             WHERE r.workflow = $3 AND r.trigger_key LIKE 'audience:%' AND r.trigger->>'customer_id' = c.id::text
                               AND r.trigger->>'day' <> $4 AND r.created_at > o.last)
           ORDER BY c.id LIMIT $5`,
          [page.afterId, new Date(page.now.getTime() - selector.olderThanMs), page.workflow, page.day, page.limit],
        )
      : await pool.query<{ id: number }>(
          `SELECT c.id FROM customers c
           WHERE c.merged_into IS NULL AND c.id > $1 AND right(c.attributes->>$2, 5) = $3
           ORDER BY c.id LIMIT $4`,
          [page.afterId, selector.attribute, page.day.slice(5), page.limit],
        );
  return rows.map((row) => row.id);
}
