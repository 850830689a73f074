import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkStaleDeals } from '../src/engine/deal-staleness.js';
import type { Crmflow } from '../src/runtime.js';
import { mergeLiveCustomers, unmergeCustomer } from '../src/store/customers.js';
import { withTransaction } from '../src/store/pool.js';
import { api, post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { fixtureBytes, formHeaders, shopifyHeaders } from './helpers/sign.js';
import { startSmtpServer } from './helpers/smtp.js';
import { waitFor } from './helpers/wait.js';

/** The shipped workflows.yaml, as users get it. */
const SHIPPED = readFileSync(new URL('../workflows.yaml', import.meta.url), 'utf8');

interface Deal {
  id: number;
  customer_id: number;
  stage: string;
  status: string;
  amount: number | null;
  currency: string | null;
  owner_agent_id: string | null;
}

let db: TestDatabase;
let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
let app: Crmflow;

beforeAll(async () => {
  db = await createTestDatabase();
  smtp = await startSmtpServer();
  app = await startTestCrmflow(
    testEnv({ databaseUrl: db.url, configPath: writeConfig(SHIPPED), prefix: testPrefix(), smtpUrl: smtp.url }),
  );
});
afterAll(async () => {
  await app?.close();
  await smtp?.close();
  await db?.drop();
});

/** Shopify's own checkout and order samples, made about one shop customer `n` at the given vendor times. */
function shopifyPair(
  n: number,
  cartAt: string,
  orderAt: string,
): { checkout: string; order: string; orderTotal: number } {
  const order = JSON.parse(fixtureBytes('shopify', 'orders_create.json').toString('utf8')) as Record<string, any>;
  const checkout = JSON.parse(fixtureBytes('shopify', 'checkouts_create.json').toString('utf8')) as Record<string, any>;
  const email = `buyer${n}@deals.example`;
  const customer = {
    ...order.customer,
    id: 9_000 + n,
    email,
    admin_graphql_api_id: `gid://shopify/Customer/${9_000 + n}`,
  };
  Object.assign(order, {
    email,
    contact_email: email,
    customer,
    created_at: orderAt,
    updated_at: orderAt,
    financial_status: 'paid',
  });
  order.admin_graphql_api_id = `gid://shopify/Order/${7_000 + n}`;
  Object.assign(checkout, { email, customer, token: `cart-token-${n}`, created_at: cartAt, updated_at: cartAt });
  return { checkout: JSON.stringify(checkout), order: JSON.stringify(order), orderTotal: Number(order.total_price) };
}

const sendCheckout = (body: string) =>
  post(app, '/webhooks/shopify', body, shopifyHeaders(body, SECRETS.SHOPIFY_WEBHOOK_SECRET, 'checkouts/create'));
const sendOrder = (body: string) =>
  post(app, '/webhooks/shopify', body, shopifyHeaders(body, SECRETS.SHOPIFY_WEBHOOK_SECRET, 'orders/create'));

async function dealsOf(email: string): Promise<Deal[]> {
  const { rows } = await db.pool.query<{ id: number }>(
    `SELECT customer_id AS id FROM customer_identities WHERE kind = 'email' AND value = $1`,
    [email],
  );
  if (!rows[0]) return [];
  return (await api(app, `/api/deals?customer_id=${rows[0].id}&pipeline=sales`)).body.deals as Deal[];
}

/** Runs of the workflow that have not finished yet. */
const unfinished = (workflow: string) =>
  count(
    db.pool,
    `SELECT 1 FROM workflow_runs WHERE workflow = $1 AND status NOT IN ('succeeded', 'filtered', 'failed', 'cancelled')`,
    [workflow],
  );

async function settled(): Promise<void> {
  await waitFor(
    'runs to finish',
    async () =>
      (await unfinished('shopify-checkout-deal')) + (await unfinished('shopify-order')) === 0 &&
      (await count(db.pool, `SELECT 1 FROM inbox_events WHERE status = 'pending'`)) === 0,
  );
}

async function history(dealId: number): Promise<string[]> {
  return ((await api(app, `/api/deals/${dealId}`)).body.history as Array<{ to_stage: string }>).map(
    (row) => row.to_stage,
  );
}

describe('Shopify: abandoned checkout and order for one customer make one deal', () => {
  it('cart then order, each delivered twice: one deal, cart then won with the order amount', async () => {
    const pair = shopifyPair(1, '2026-11-20T10:00:00Z', '2026-11-20T11:00:00Z');
    await sendCheckout(pair.checkout);
    await sendCheckout(pair.checkout);
    const [cart] = await waitFor(
      'the cart deal',
      async () =>
        (await dealsOf('buyer1@deals.example')).filter((deal) => deal.stage === 'cart').length === 1 &&
        dealsOf('buyer1@deals.example'),
    );
    expect(cart).toMatchObject({ stage: 'cart', status: 'open', amount: 421.88, currency: 'USD' });
    expect(cart!.owner_agent_id).not.toBeNull();
    await sendOrder(pair.order);
    await sendOrder(pair.order);
    await waitFor('the win', async () => (await dealsOf('buyer1@deals.example'))[0]?.status === 'won');
    await settled();
    const deals = await dealsOf('buyer1@deals.example');
    expect(deals).toHaveLength(1);
    expect(deals[0]).toMatchObject({
      id: cart!.id,
      stage: 'won',
      status: 'won',
      amount: pair.orderTotal,
      owner_agent_id: cart!.owner_agent_id,
    });
    expect(await history(cart!.id)).toEqual(['cart', 'won']);
  });

  it('order first (twice), the older cart later (twice): the deal opens won and the cart does not reopen it', async () => {
    const pair = shopifyPair(2, '2026-11-21T10:00:00Z', '2026-11-21T11:00:00Z');
    await sendOrder(pair.order);
    await sendOrder(pair.order);
    await waitFor('the won deal', async () => (await dealsOf('buyer2@deals.example'))[0]?.status === 'won');
    await sendCheckout(pair.checkout);
    await sendCheckout(pair.checkout);
    await waitFor(
      'the cart run',
      async () =>
        (await count(
          db.pool,
          `SELECT 1 FROM workflow_runs WHERE workflow = 'shopify-checkout-deal' AND status = 'succeeded' AND trigger->>'external_id' LIKE '%cart-token-2%'`,
        )) > 0,
    );
    await settled();
    const deals = await dealsOf('buyer2@deals.example');
    expect(deals).toHaveLength(1);
    expect(deals[0]).toMatchObject({ stage: 'won', status: 'won', amount: pair.orderTotal });
    expect(await history(deals[0]!.id)).toEqual(['won']);
    const { rows } = await db.pool.query<{ output: { action: string; reason: string } }>(
      `SELECT s.output FROM run_steps s JOIN workflow_runs r ON r.id = s.run_id WHERE r.workflow = 'shopify-checkout-deal' AND s.step_id = 'open_deal' AND r.trigger->>'external_id' LIKE '%cart-token-2%'`,
    );
    expect(rows.map((row) => row.output.action)).toEqual(['skipped']);
    expect(rows[0]!.output.reason).toContain('after this event');
  });

  it('all four deliveries at once, order and cart interleaved: still one deal, won with the order amount', async () => {
    const pair = shopifyPair(3, '2026-11-22T10:00:00Z', '2026-11-22T11:00:00Z');
    await Promise.all([
      sendOrder(pair.order),
      sendCheckout(pair.checkout),
      sendCheckout(pair.checkout),
      sendOrder(pair.order),
    ]);
    await waitFor('the won deal', async () => (await dealsOf('buyer3@deals.example'))[0]?.status === 'won');
    await settled();
    const deals = await dealsOf('buyer3@deals.example');
    expect(deals).toHaveLength(1);
    expect(deals[0]).toMatchObject({ status: 'won', amount: pair.orderTotal });
  });

  it('a cart started after the purchase is a new buying episode: a new deal', async () => {
    const pair = shopifyPair(1, '2026-11-25T10:00:00Z', '2026-11-20T11:00:00Z');
    await sendCheckout(pair.checkout.replace('cart-token-1', 'cart-token-1b'));
    await waitFor('the second deal', async () => (await dealsOf('buyer1@deals.example')).length === 2);
    expect((await dealsOf('buyer1@deals.example')).map((deal) => deal.status)).toEqual(['open', 'won']);
  });
});

describe('crash and replay', () => {
  it('a worker killed between open_deal and its step record, then retried and replayed: no second deal', async () => {
    const pair = shopifyPair(4, '2026-11-23T10:00:00Z', '2026-11-23T11:00:00Z');
    await sendCheckout(pair.checkout);
    await waitFor('the cart deal', async () => (await dealsOf('buyer4@deals.example')).length === 1);
    await settled();
    const { rows } = await db.pool.query<{ id: number; step_index: number }>(
      `SELECT r.id, s.step_index FROM workflow_runs r JOIN run_steps s ON s.run_id = r.id
       WHERE r.workflow = 'shopify-checkout-deal' AND s.step_id = 'open_deal' AND r.trigger->>'external_id' LIKE '%cart-token-4%'`,
    );
    const run = rows[0]!;
    // As a worker killed after open_deal committed but before its step record was written leaves it.
    await db.pool.query('DELETE FROM run_steps WHERE run_id = $1 AND step_index >= $2', [run.id, run.step_index]);
    await db.pool.query(
      `UPDATE workflow_runs SET status = 'failed', error = 'worker killed', error_retryable = true WHERE id = $1`,
      [run.id],
    );
    expect((await api(app, `/api/runs/${run.id}/retry`, { method: 'POST' })).status).toBe(202);
    await waitFor('the retried run', async () => (await api(app, `/api/runs/${run.id}`)).body.status === 'succeeded');
    expect((await api(app, `/api/runs/${run.id}/replay`, { method: 'POST' })).status).toBe(202);
    await waitFor(
      'the replay',
      async () =>
        (await count(
          db.pool,
          `SELECT 1 FROM workflow_runs WHERE workflow = 'shopify-checkout-deal' AND trigger_key LIKE '%@%' AND status = 'succeeded'`,
        )) > 0,
    );
    expect(await dealsOf('buyer4@deals.example')).toHaveLength(1);
    const outputs = await db.pool.query<{ output: { action: string } }>(
      `SELECT s.output FROM run_steps s JOIN workflow_runs r ON r.id = s.run_id WHERE r.workflow = 'shopify-checkout-deal' AND s.step_id = 'open_deal' AND r.trigger->>'external_id' LIKE '%cart-token-4%' ORDER BY r.id`,
    );
    expect(outputs.rows.map((row) => row.output.action)).toEqual(['opened', 'opened']);
  });
});

describe('the customer data map', () => {
  it('a merge of two customers with a deal each keeps both on the survivor; unmerge gives them back; erasure removes them', async () => {
    const a = shopifyPair(5, '2026-11-24T10:00:00Z', '2026-11-24T11:00:00Z');
    const b = shopifyPair(6, '2026-11-24T10:00:00Z', '2026-11-24T11:00:00Z');
    await sendCheckout(a.checkout);
    await sendCheckout(b.checkout);
    const [dealA] = await waitFor(
      'deal A',
      async () => (await dealsOf('buyer5@deals.example')).length === 1 && dealsOf('buyer5@deals.example'),
    );
    const [dealB] = await waitFor(
      'deal B',
      async () => (await dealsOf('buyer6@deals.example')).length === 1 && dealsOf('buyer6@deals.example'),
    );
    const merged = await withTransaction(db.pool, (client) =>
      mergeLiveCustomers(client, dealA!.customer_id, dealB!.customer_id, { event: 'test', why: 'same person' }),
    );
    const onSurvivor = (await api(app, `/api/deals?customer_id=${merged.keptId}`)).body.deals as Deal[];
    expect(onSurvivor.map((deal) => deal.id).sort()).toEqual([dealA!.id, dealB!.id].sort());
    expect(onSurvivor.every((deal) => deal.customer_id === merged.keptId)).toBe(true);
    // Both stay open: a merge never closes a deal; the next event moves the newest.
    expect(onSurvivor.map((deal) => deal.status)).toEqual(['open', 'open']);

    await unmergeCustomer(db.pool, merged.keptId, { mergeId: merged.mergeId }, 'test');
    expect(
      ((await api(app, `/api/deals?customer_id=${merged.mergedId}`)).body.deals as Deal[]).map((deal) => deal.id),
    ).toHaveLength(1);

    expect((await api(app, `/api/customers/${dealA!.customer_id}`, { method: 'DELETE' })).status).toBe(200);
    expect(await count(db.pool, 'SELECT 1 FROM deals WHERE id = $1', [dealA!.id])).toBe(0);
    expect(await count(db.pool, 'SELECT 1 FROM deal_stage_history WHERE deal_id = $1', [dealA!.id])).toBe(0);
    expect(await count(db.pool, 'SELECT 1 FROM deals WHERE id = $1', [dealB!.id])).toBe(1);
  });
});

describe('shipped examples', () => {
  it('a cart left 24 h fires deal.stale once: one reminder email, however often the check runs', async () => {
    const staleAt = new Date(Date.now() - 30 * 3_600_000).toISOString();
    const pair = shopifyPair(7, staleAt, staleAt);
    await sendCheckout(pair.checkout);
    await waitFor('the cart deal', async () => (await dealsOf('buyer7@deals.example')).length === 1);
    const reminders = () =>
      smtp.messages.filter(
        (message) => message.to.includes('buyer7@deals.example') && (message.subject ?? '').includes('left something'),
      );
    // The scheduled job, as the job scheduler queues it every 5 minutes, and a second check right after.
    await app.queue.add('deal-stale-check', { kind: 'deal-stale-check' });
    await checkStaleDeals(db.pool, app.queue, app.config, new Date());
    await waitFor('the reminder', async () => reminders().length > 0);
    await checkStaleDeals(db.pool, app.queue, app.config, new Date(Date.now() + 3_600_000));
    await waitFor('the reminder runs to finish', async () => (await unfinished('cart-reminder')) === 0);
    expect(reminders()).toHaveLength(1);
    expect(
      await count(
        db.pool,
        `SELECT 1 FROM engine_events WHERE type = 'deal.stale' AND (data->>'deal_id')::bigint = $1`,
        [(await dealsOf('buyer7@deals.example'))[0]!.id],
      ),
    ).toBe(1);
  });

  it('WooCommerce: pending payment opens a cart deal, completed wins it; a late pending opens nothing', async () => {
    const order = JSON.parse(fixtureBytes('woocommerce', 'order_created.json').toString('utf8')) as Record<string, any>;
    order.billing.email = 'woo@deals.example';
    const send = (status: string, modified: string, topic: string) => {
      const body = JSON.stringify({ ...order, status, date_modified_gmt: modified });
      const signature = createHmac('sha256', SECRETS.WOOCOMMERCE_WEBHOOK_SECRET!).update(body).digest('base64');
      return post(app, '/webhooks/woocommerce', body, {
        'content-type': 'application/json',
        'x-wc-webhook-topic': topic,
        'x-wc-webhook-signature': signature,
      });
    };
    await send('pending', '2026-11-26T10:00:00', 'order.created');
    await waitFor('the cart deal', async () => (await dealsOf('woo@deals.example'))[0]?.stage === 'cart');
    await send('completed', '2026-11-26T12:00:00', 'order.updated');
    await waitFor('the win', async () => (await dealsOf('woo@deals.example'))[0]?.status === 'won');
    await send('pending', '2026-11-26T11:00:00', 'order.updated');
    await waitFor(
      'the late update',
      async () =>
        (await count(
          db.pool,
          `SELECT 1 FROM inbox_events WHERE connector = 'woocommerce' AND status = 'processed'`,
        )) === 3,
    );
    const deals = await dealsOf('woo@deals.example');
    expect(deals).toHaveLength(1);
    expect(deals[0]).toMatchObject({ status: 'won', amount: Number(order.total), currency: order.currency });
  });

  it('a form with interest: quote opens a deal in new, owned by the lead owner', async () => {
    const body = JSON.stringify({
      submission_id: 'quote-1',
      name: 'Quinn Quote',
      email: 'quote@deals.example',
      interest: 'quote',
      message: 'A quote please',
    });
    await post(app, '/webhooks/form', body, formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET));
    const [deal] = await waitFor(
      'the deal',
      async () => (await dealsOf('quote@deals.example')).length === 1 && dealsOf('quote@deals.example'),
    );
    const customer = (await api(app, `/api/customers/${deal!.customer_id}`)).body as { owner_agent_id: string };
    expect(deal).toMatchObject({ stage: 'new', status: 'open' });
    expect(deal!.owner_agent_id).toBe(customer.owner_agent_id);
    expect(deal!.owner_agent_id).not.toBeNull();
  });
});
