import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  changeDeal,
  emitStaleDeals,
  getDealHistory,
  pipelineForecast,
  pipelineStats,
  type DealOpening,
} from '../src/store/deals.js';
import { migrate } from '../src/store/migrate.js';
import { createPool } from '../src/store/pool.js';
import { ConfigError, formatIssue, loadConfigText } from '../src/workflows/load.js';
import type { Pipeline } from '../src/workflows/pipelines.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';

const CONFIG = `
pipelines:
  sales:
    currency: USD
    rot_after: 14d
    stages:
      - { id: new, probability: 0.1 }
      - { id: cart, probability: 0.3, rot_after: 24h }
      - { id: quote, probability: 0.5 }
      - { id: won, won: true }
      - { id: lost, lost: true }
  b2b:
    currency: EUR
    stages: [{ id: lead, probability: 0.2 }, { id: proposal, probability: 0.6 }, { id: won, won: true }, { id: lost, lost: true }]
workflows:
  - id: noop
    trigger: { type: schedule, cron: "0 0 * * *" }
    steps: [{ type: log, message: x }]
`;

function issuesOf(text: string): string[] {
  try {
    loadConfigText(text, 'workflows.yaml', { env: {} });
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map(formatIssue);
    throw error;
  }
}

describe('pipelines in workflows.yaml', () => {
  it('compiles stages in order with their probabilities and rot times', () => {
    const sales = loadConfigText(CONFIG, 'workflows.yaml', { env: {} }).pipelines.get('sales')!;
    expect(sales.stages.map((stage) => [stage.id, stage.kind, stage.probability, stage.rotAfterMs])).toEqual([
      ['new', 'open', 0.1, 14 * 86_400_000],
      ['cart', 'open', 0.3, 86_400_000],
      ['quote', 'open', 0.5, 14 * 86_400_000],
      ['won', 'won', 1, undefined],
      ['lost', 'lost', 0, undefined],
    ]);
  });

  it('reports each problem at its line and column', () => {
    const broken = `pipelines:
  sales:
    currency: usd
    stages:
      - { id: new }
      - { id: new, probability: 0.2 }
      - { id: won, won: true, probability: 0.9 }
`;
    expect(issuesOf(broken)).toEqual([
      'workflows.yaml:3:15 `currency` "usd" is not valid: ISO 4217 currency of the forecast, e.g. USD; deals take it unless a step gives another.',
    ]);
    const semantic = broken.replace('currency: usd', 'currency: USD');
    expect(issuesOf(semantic)).toEqual([
      'workflows.yaml:5:9 missing field `probability` (open stage new)',
      'workflows.yaml:6:15 duplicate stage id "new" in pipeline sales',
      'workflows.yaml:7:44 stage won is won: its probability is 1 and cannot be set',
      'workflows.yaml:5:7 pipeline sales needs exactly one `lost: true` stage (has 0)',
    ]);
    const steps = `${CONFIG.replace('workflows:', `connectors: { form: { secrets: { webhook_secret: x } } }\nworkflows:`)}  - id: deal
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps:
      - { type: open_deal, pipeline: sales, stage: nope }
      - { type: close_deal, pipeline: nopeline, outcome: won }
`;
    expect(issuesOf(steps)).toEqual([
      'workflows.yaml:23:52 pipeline sales has no stage "nope"; its stages: new, cart, quote, won, lost',
      'workflows.yaml:24:39 unknown pipeline "nopeline"; declared pipelines: sales, b2b',
    ]);
  });
});

describe('forecast and staleness on real PostgreSQL', () => {
  let db: TestDatabase;
  let sales: Pipeline;
  const now = new Date('2026-12-07T12:00:00Z');

  beforeAll(async () => {
    db = await createTestDatabase();
    await migrate(db.pool);
    sales = loadConfigText(CONFIG, 'workflows.yaml', { env: {} }).pipelines.get('sales')!;
  });
  afterAll(async () => db?.drop());

  async function customer(name: string): Promise<number> {
    return (await db.pool.query<{ id: number }>('INSERT INTO customers (name) VALUES ($1) RETURNING id', [name]))
      .rows[0]!.id;
  }

  /** Opens a deal in `stage` (closing it when won or lost) at `at`, another per call. */
  async function deal(
    customerId: number,
    stage: string,
    amount: number | null,
    expectedCloseOn: string | null,
    at: Date,
    currency: string | null = null,
  ): Promise<number> {
    const result = await changeDeal(db.pool, {
      customerId,
      pipeline: sales,
      stage,
      at,
      amount,
      source: 'fixture',
      allowBackwards: false,
      open: { another: true, name: null, currency, expectedCloseOn },
    });
    return result.deal!.id;
  }

  it('equals the hand computation on a fixture', async () => {
    const a = await customer('A');
    const b = await customer('B');
    const earlier = new Date('2026-12-01T09:00:00Z');
    await deal(a, 'new', 1000, '2026-12-20', earlier); //      Dec: open 1000, weighted 100
    await deal(a, 'cart', 200.5, '2026-12-31', earlier); //    Dec: open 200.50, weighted 60.15
    await deal(b, 'quote', 3000, '2027-01-15', earlier); //    Jan: open 3000, weighted 1500
    await deal(b, 'quote', null, '2027-01-15', earlier); //    Jan: one more deal, no amount
    await deal(b, 'cart', 99.99, '2027-05-01', earlier); //    May: outside 3 months: not in any month
    await deal(b, 'new', 50, null, earlier); //                unscheduled
    await deal(b, 'quote', 70, '2026-11-30', earlier); //      before the first month: unscheduled
    await deal(a, 'won', 400, '2026-10-01', new Date('2026-12-03T10:00:00Z')); // won in Dec
    await deal(b, 'won', 250, null, new Date('2027-01-02T10:00:00Z')); //         won in Jan
    await deal(b, 'won', 999, null, new Date('2026-11-30T23:59:00Z')); //         won in Nov: outside
    await deal(b, 'lost', 5000, '2026-12-10', earlier); //                        lost: nowhere
    await deal(b, 'quote', 800, '2026-12-15', earlier, 'EUR'); //                 another currency

    const forecast = await pipelineForecast(db.pool, sales, 3, now);
    expect(forecast).toEqual({
      pipeline: 'sales',
      currency: 'USD',
      months: [
        {
          month: '2026-12',
          open_amount: 1200.5,
          weighted_amount: 160.15,
          won_amount: 400,
          open_deals: 2,
          won_deals: 1,
        },
        { month: '2027-01', open_amount: 3000, weighted_amount: 1500, won_amount: 250, open_deals: 2, won_deals: 1 },
        { month: '2027-02', open_amount: 0, weighted_amount: 0, won_amount: 0, open_deals: 0, won_deals: 0 },
      ],
      unscheduled: { deals: 2, amount: 120 },
      other_currency_deals: 1,
    });
  });

  it('deal.stale fires once per staleness: again only after the deal moved and rotted again', async () => {
    const c = await customer('C');
    const opened = new Date(now.getTime() - 25 * 3_600_000);
    const id = await deal(c, 'cart', 10, null, opened);
    const staleOf = () =>
      count(db.pool, `SELECT 1 FROM engine_events WHERE type = 'deal.stale' AND (data->>'deal_id')::bigint = $1`, [id]);
    await emitStaleDeals(db.pool, [sales], now);
    await emitStaleDeals(db.pool, [sales], now);
    await emitStaleDeals(db.pool, [sales], new Date(now.getTime() + 3_600_000));
    expect(await staleOf()).toBe(1);

    // Moved to quote: not stale there before 14 days, then once more.
    await changeDeal(db.pool, {
      customerId: c,
      pipeline: sales,
      stage: 'quote',
      at: now,
      source: 'test',
      allowBackwards: false,
    });
    await emitStaleDeals(db.pool, [sales], new Date(now.getTime() + 13 * 86_400_000));
    expect(await staleOf()).toBe(1);
    await emitStaleDeals(db.pool, [sales], new Date(now.getTime() + 15 * 86_400_000));
    await emitStaleDeals(db.pool, [sales], new Date(now.getTime() + 16 * 86_400_000));
    expect(await staleOf()).toBe(2);

    // Closed deals never rot.
    await changeDeal(db.pool, {
      customerId: c,
      pipeline: sales,
      stage: 'won',
      at: now,
      source: 'test',
      allowBackwards: true,
    });
    await emitStaleDeals(db.pool, [sales], new Date(now.getTime() + 60 * 86_400_000));
    expect(await staleOf()).toBe(2);
  });

  it('win rate and average days per stage equal the hand computation', async () => {
    const b2b = loadConfigText(CONFIG, 'workflows.yaml', { env: {} }).pipelines.get('b2b')!;
    const day = 86_400_000;
    const t0 = new Date(now.getTime() - 10 * day);
    const at = (days: number) => new Date(t0.getTime() + days * day);
    const move = (customerId: number, stage: string, when: Date) =>
      changeDeal(db.pool, { customerId, pipeline: b2b, stage, at: when, source: 'test', allowBackwards: true });
    const open = (customerId: number, when: Date) =>
      changeDeal(db.pool, {
        customerId,
        pipeline: b2b,
        stage: 'lead',
        at: when,
        source: 'test',
        allowBackwards: false,
        open: { another: false, name: null, currency: null, expectedCloseOn: null },
      });
    const [x, y, z] = [await customer('X'), await customer('Y'), await customer('Z')];
    await open(x, t0); //                  lead 2 days, proposal 3 days, won
    await move(x, 'proposal', at(2));
    await move(x, 'won', at(5));
    await open(y, t0); //                  lead 4 days, proposal 1 day, lost
    await move(y, 'proposal', at(4));
    await move(y, 'lost', at(5));
    await open(z, at(9)); //               still in lead: 1 day until now
    expect(await pipelineStats(db.pool, b2b, now)).toEqual({
      pipeline: 'b2b',
      won_deals: 1,
      lost_deals: 1,
      win_rate: 0.5,
      stages: [
        { stage: 'lead', deals: 3, average_days: 2.33 },
        { stage: 'proposal', deals: 2, average_days: 2 },
      ],
    });
  });

  it('moves never go backwards unless allowed', async () => {
    const d = await customer('D');
    await deal(d, 'quote', 10, null, now);
    const back = await changeDeal(db.pool, {
      customerId: d,
      pipeline: sales,
      stage: 'cart',
      at: now,
      source: 'test',
      allowBackwards: false,
    });
    expect(back).toMatchObject({ action: 'skipped', deal: { stage: 'quote' } });
    const allowed = await changeDeal(db.pool, {
      customerId: d,
      pipeline: sales,
      stage: 'cart',
      at: now,
      source: 'test',
      allowBackwards: true,
    });
    expect(allowed).toMatchObject({ action: 'moved', deal: { stage: 'cart' } });
  });

  it('a keyed change costs 7 statements when it opens a deal won and 6 when it moves one, BEGIN and COMMIT included', async () => {
    const statements: string[] = [];
    // A pool of our own whose connections note every statement they send (BEGIN and COMMIT too).
    const counted = createPool(db.url, { max: 1 });
    counted.on('connect', (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      Object.assign(client, {
        query: (...args: unknown[]) => {
          statements.push(typeof args[0] === 'string' ? args[0] : (args[0] as { text: string }).text);
          return query(...args);
        },
      });
    });
    // As the shipped workflows.yaml: no workflow starts on deal.opened, deal.stage_changed or deal.won.
    const listenedEvents = new Set(['deal.stale']);
    const change = (customerId: number, stage: string, key: string, open?: DealOpening) =>
      changeDeal(counted, {
        customerId,
        pipeline: sales,
        stage,
        at: now,
        amount: 25,
        idempotencyKey: key,
        source: 'test',
        allowBackwards: true,
        open,
        listenedEvents,
      });
    try {
      const buyer = await customer('Counted buyer');
      // The shipped close_deal on an order without a cart deal: no open deal, no closed one after it; opened won.
      const won = await change(buyer, 'won', 'count/order', {
        another: false,
        name: null,
        currency: null,
        expectedCloseOn: null,
      });
      expect(won).toMatchObject({ action: 'opened', deal: { stage: 'won', status: 'won', amount: 25 } });
      expect(statements, statements.join('\n')).toHaveLength(7);

      const cart = await customer('Counted cart');
      await change(cart, 'cart', 'count/cart', { another: false, name: null, currency: null, expectedCloseOn: null });
      statements.length = 0;
      const moved = await change(cart, 'quote', 'count/quote');
      expect(moved).toMatchObject({ action: 'moved', deal: { stage: 'quote', status: 'open', amount: 25 } });
      expect(statements, statements.join('\n')).toHaveLength(6);
      const rerun = await change(cart, 'quote', 'count/quote');
      expect(rerun).toMatchObject({ action: 'moved', deal: { id: moved.deal!.id, stage: 'quote' } });
      expect(await getDealHistory(db.pool, moved.deal!.id)).toMatchObject([
        { from_stage: null, to_stage: 'cart', amount: 25, at: now, source: 'test' },
        { from_stage: 'cart', to_stage: 'quote', amount: 25, at: now, source: 'test' },
      ]);
    } finally {
      await counted.end();
    }
  });
});
