import { describe, expect, it } from 'vitest';
import { dayIn } from '../src/engine/audience-runs.js';
import { useCrmflow } from './helpers/engine.js';
import { waitFor } from './helpers/wait.js';

/** Batches of 2, so every selection below takes several pages. */
const CONFIG = `
workflows:
  - id: win-back
    trigger: { type: audience, cron: "0 9 * * *", no_order_for: 90d, batch_size: 2 }
    steps:
      - type: log
        message: "we miss you, {{ $customer.name }}"
  - id: birthday
    trigger: { type: audience, cron: "0 8 * * *", timezone: Pacific/Auckland, date_attribute: birthday, batch_size: 2 }
    steps:
      - type: score
        rules: [{ when: "true", add: 1 }]
`;

const DAY = 86_400_000;

describe('audience triggers', () => {
  const crm = useCrmflow(CONFIG);
  let jobs = 0;

  /** One cron tick of a workflow, as the scheduler enqueues it; resolves when the worker has finished it. */
  const tick = async (workflow: string, at: Date) => {
    const jobId = `test-tick-${jobs++}`;
    await crm.app.queue.add('schedule', { kind: 'schedule', workflow, tick: at.toISOString() }, { jobId });
    await waitFor(
      `tick ${at.toISOString()} of ${workflow}`,
      async () => (await crm.app.queue.getJobState(jobId)) === 'completed',
    );
  };
  const runs = async (workflow: string) =>
    (
      await crm.db.pool.query<{ name: string; trigger_key: string; status: string }>(
        `SELECT c.name, r.trigger_key, r.status FROM workflow_runs r JOIN customers c ON c.id = (r.trigger->>'customer_id')::bigint WHERE r.workflow = $1 ORDER BY r.id`,
        [workflow],
      )
    ).rows;
  const customer = async (name: string, attributes: Record<string, unknown> = {}, orderAgesInDays: number[] = []) => {
    const { rows } = await crm.db.pool.query<{ id: number }>(
      'INSERT INTO customers (name, attributes) VALUES ($1, $2) RETURNING id',
      [name, JSON.stringify(attributes)],
    );
    const id = rows[0]!.id;
    for (const [i, age] of orderAgesInDays.entries()) {
      await crm.db.pool.query(
        `INSERT INTO timeline_events (customer_id, source, external_id, type, occurred_at, version_at) VALUES ($1, 'shop', $2, 'order.created', $3, $3)`,
        [id, `order/${name}/${i}`, new Date(Date.now() - age * DAY)],
      );
    }
    return id;
  };

  it('win-back: runs once per customer whose last order is older than no_order_for, once per lapse', async () => {
    const wendy = await customer('Wendy', {}, [120, 100]);
    await customer('Walt', {}, [95]);
    await customer('Wanda', {}, [91]);
    await customer('Recent Rita', {}, [200, 10]);
    await customer('Never Ned');
    const merged = await customer('Merged Max', {}, [100]);
    await crm.db.pool.query('UPDATE customers SET merged_into = $1 WHERE id = $2', [wendy, merged]);

    const now = new Date();
    const sameDay =
      dayIn(new Date(now.getTime() + 1000), 'UTC') === dayIn(now, 'UTC')
        ? new Date(now.getTime() + 1000)
        : new Date(now.getTime() - 1000);
    await tick('win-back', now);
    await tick('win-back', sameDay);
    const day = dayIn(now, 'UTC');
    expect(await runs('win-back')).toEqual(
      ['Wendy', 'Walt', 'Wanda'].map((name) => ({
        name,
        trigger_key: expect.stringMatching(new RegExp(`^audience:${day}:\\d+$`)),
        status: 'succeeded',
      })),
    );
    const output = (
      await crm.db.pool.query(
        "SELECT s.output FROM run_steps s JOIN workflow_runs r ON r.id = s.run_id WHERE r.workflow = 'win-back' ORDER BY r.id LIMIT 1",
      )
    ).rows[0];
    expect(output.output).toEqual({ message: 'we miss you, Wendy' });

    // The next day they are still lapsed, but they already had their win-back for this lapse.
    await tick('win-back', new Date(now.getTime() + DAY));
    expect(await runs('win-back')).toHaveLength(3);
    // Wendy orders again. 100 days later she has lapsed again and Rita (last order 10 days ago) for the first time;
    // Walt and Wanda have not ordered since their win-back.
    await crm.db.pool.query(
      `INSERT INTO timeline_events (customer_id, source, external_id, type, occurred_at, version_at) VALUES ($1, 'shop', 'order/Wendy/again', 'order.created', now() + interval '1 minute', now() + interval '1 minute')`,
      [wendy],
    );
    await tick('win-back', new Date(now.getTime() + 100 * DAY));
    expect((await runs('win-back')).map((run) => run.name)).toEqual(['Wendy', 'Walt', 'Wanda', 'Wendy', 'Recent Rita']);
  });

  it('birthday: runs for the customers whose date attribute is today in the trigger time zone, once per customer and day', async () => {
    // 20:00 UTC on 15 March is already 16 March in Auckland (UTC+13).
    const at = new Date('2026-03-15T20:00:00Z');
    await customer('Bea', { birthday: '1990-03-16' });
    await customer('Bo', { birthday: '03-16' });
    await customer('Bill', { birthday: '1985-03-16' });
    await customer('Ben UTC', { birthday: '1990-03-15' });
    await customer('No Date');

    await tick('birthday', at);
    await tick('birthday', new Date('2026-03-16T02:00:00Z'));
    expect(await runs('birthday')).toEqual(
      ['Bea', 'Bo', 'Bill'].map((name) => ({
        name,
        trigger_key: expect.stringMatching(/^audience:2026-03-16:\d+$/),
        status: 'succeeded',
      })),
    );
    const scores = (
      await crm.db.pool.query(
        "SELECT name, score FROM customers WHERE name IN ('Bea', 'Bo', 'Bill', 'Ben UTC') ORDER BY name",
      )
    ).rows;
    expect(scores).toEqual([
      { name: 'Bea', score: 1 },
      { name: 'Ben UTC', score: 0 },
      { name: 'Bill', score: 1 },
      { name: 'Bo', score: 1 },
    ]);

    // A year later it is their birthday again.
    await tick('birthday', new Date('2027-03-15T20:00:00Z'));
    expect((await runs('birthday')).filter((run) => run.trigger_key.startsWith('audience:2027-03-16:'))).toHaveLength(
      3,
    );
  });

  it('rejects an audience trigger without exactly one selector, with its position', async () => {
    const { loadConfigText } = await import('../src/workflows/load.js');
    const text =
      'workflows:\n  - id: x\n    trigger: { type: audience, cron: "0 9 * * *" }\n    steps: [{ type: log, message: hi }]\n';
    expect(() => loadConfigText(text, 'workflows.yaml', { env: {} })).toThrow(
      'workflows.yaml:3:14 an audience trigger selects with exactly one of `no_order_for` and `date_attribute`',
    );
  });
});
