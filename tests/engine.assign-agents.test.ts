import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { runHandOver } from '../src/cli/hand-over.js';
import { startCrmflow } from '../src/runtime.js';
import { api, TEST_TOKEN, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { FORM_CONNECTOR, submitLead, useCrmflow } from './helpers/engine.js';
import { waitFor } from './helpers/wait.js';

const CONFIG = `
version: 1
${FORM_CONNECTOR}
agents:
  - { id: ann, name: Ann, languages: [en] }
  - { id: bea, name: Bea, languages: [es-MX, en] }
  - { id: cid, name: Cid, languages: [en] }
  - { id: dan, name: Dan, languages: [fr] }
pools:
  sales: { agents: [ann, bea, cid] }
  support: { agents: [dan] }
workflows:
  - id: lead
    trigger: { type: webhook, connector: form, event: lead.submitted, when: "source = 'web'" }
    steps:
      - type: map
      - type: upsert_customer
      - type: assign_lead
        pool: sales
        away_owner: { unavailable: reassign }
        sla: { within: 2h, then: reassign }
      - type: create_task
        title: "Call {{ $customer.name }}"
        due_in: 1h
  - id: lead-only
    trigger: { type: webhook, connector: form, event: lead.submitted, when: "source = 'only'" }
    steps:
      - type: map
      - type: upsert_customer
      - type: assign_lead
        pool: sales
        language: only
        fallback_pool: support
`;

describe('assignment by language, owners who are away or gone, and hand-overs', () => {
  const ctx = useCrmflow(CONFIG);
  let n = 0;

  /** Submits a lead and resolves to the live customer's owner once its run has succeeded. */
  async function lead(fields: Record<string, unknown>): Promise<{ customerId: number; owner: string | null }> {
    const id = `sub-${++n}`;
    expect((await submitLead(ctx.app, { submission_id: id, source: 'web', ...fields })).status).toBe(202);
    const run = await waitFor(`the run of ${id}`, async () => {
      const { rows } = await ctx.db.pool.query<{ status: string; customer_id: number }>(
        `SELECT r.status, r.customer_id FROM workflow_runs r JOIN inbox_events i ON i.id = r.inbox_event_id WHERE i.external_id = $1`,
        [id],
      );
      return rows.find((row) => row.status === 'succeeded' || row.status === 'failed');
    });
    expect(run.status).toBe('succeeded');
    const { rows } = await ctx.db.pool.query<{ id: number; owner_agent_id: string | null }>(
      'SELECT id, owner_agent_id FROM customers WHERE id = (SELECT coalesce(merged_into, id) FROM customers WHERE id = $1)',
      [run.customer_id],
    );
    return { customerId: rows[0]!.id, owner: rows[0]!.owner_agent_id };
  }

  const setAvailable = (agent: string, available: boolean) =>
    api(ctx.app, `/api/agents/${agent}/availability`, {
      method: 'PUT',
      body: JSON.stringify({ available }),
      headers: { 'content-type': 'application/json' },
    });

  it('gives a lead in a language to the agents who speak it first, and to the rest of the pool when none of them can take it', async () => {
    const spanish = [];
    for (let i = 0; i < 3; i++)
      spanish.push((await lead({ name: `Lola ${i}`, email: `lola${i}@lang.example`, language: 'es' })).owner);
    expect(spanish).toEqual(['bea', 'bea', 'bea']);
    const english = [];
    for (let i = 0; i < 3; i++)
      english.push((await lead({ name: `Eve ${i}`, email: `eve${i}@lang.example`, language: 'en' })).owner);
    expect(new Set(english)).toEqual(new Set(['ann', 'bea', 'cid'])); // everyone speaks English: the plain rotation

    expect((await setAvailable('bea', false)).status).toBe(200);
    const fallback = (await lead({ name: 'Lupe', email: 'lupe@lang.example', language: 'es' })).owner;
    expect(['ann', 'cid']).toContain(fallback);
    // language: only keeps the lead from non-speakers of the pool: the declared fallback pool takes it.
    expect((await lead({ name: 'Luz', email: 'luz@lang.example', language: 'es', source: 'only' })).owner).toBe('dan');
    expect((await setAvailable('bea', true)).status).toBe(200);
    expect((await lead({ name: 'Lia', email: 'lia@lang.example', language: 'es', source: 'only' })).owner).toBe('bea');
  });

  it('reassigns a sticky owner who is switched off or no longer declared, as the step declares, with the reason in the history', async () => {
    const first = await lead({ name: 'Stan', email: 'stan@away.example', language: 'es' });
    expect(first.owner).toBe('bea');
    expect((await setAvailable('bea', false)).status).toBe(200);
    const again = await lead({ name: 'Stan', email: 'stan@away.example', language: 'es' });
    expect(again.customerId).toBe(first.customerId);
    expect(['ann', 'cid']).toContain(again.owner);
    expect((await setAvailable('bea', true)).status).toBe(200);

    await ctx.db.pool.query("UPDATE customers SET owner_agent_id = 'zed' WHERE id = $1", [first.customerId]);
    const gone = await lead({ name: 'Stan', email: 'stan@away.example', language: 'es' });
    expect(gone.owner).toBe('bea');
    const { rows } = await ctx.db.pool.query<{ reason: string | null }>(
      'SELECT reason FROM lead_assignments WHERE customer_id = $1 ORDER BY id',
      [first.customerId],
    );
    expect(rows.map((row) => row.reason)).toEqual([
      null,
      'owner bea is unavailable',
      'owner zed is no longer an agent',
    ]);

    // The lead-only workflow keeps an unavailable owner (the default), so it has its owner back.
    expect((await setAvailable('cid', false)).status).toBe(200);
    const kept = await lead({ name: 'Kim', email: 'kim@away.example', language: 'en', source: 'only' });
    await ctx.db.pool.query('UPDATE customers SET owner_agent_id = $2 WHERE id = $1', [kept.customerId, 'cid']);
    expect((await lead({ name: 'Kim', email: 'kim@away.example', language: 'en', source: 'only' })).owner).toBe('cid');
    expect((await setAvailable('cid', true)).status).toBe(200);
  });

  it('hands an agent over: customers, open tasks and pending SLAs move in one audited operation (API, CLI, dashboard)', async () => {
    const mine = [];
    for (let i = 0; i < 2; i++)
      mine.push(await lead({ name: `Hal ${i}`, email: `hal${i}@hand.example`, language: 'fr' }));
    const annCustomers = (
      await ctx.db.pool.query<{ id: number }>(
        "SELECT id FROM customers WHERE owner_agent_id = 'ann' AND merged_into IS NULL",
      )
    ).rows.map((row) => row.id);
    expect(annCustomers.length).toBeGreaterThan(0);
    const openTasks = async (agent: string) =>
      Number(
        (await ctx.db.pool.query("SELECT count(*) FROM tasks WHERE agent_id = $1 AND status = 'open'", [agent])).rows[0]
          .count,
      );
    const pendingSlas = async (agent: string) =>
      Number(
        (
          await ctx.db.pool.query(
            "SELECT count(*) FROM lead_slas s JOIN lead_assignments a ON a.id = s.assignment_id WHERE a.agent_id = $1 AND s.status = 'pending'",
            [agent],
          )
        ).rows[0].count,
      );
    const [annTasks, annSlas, cidSlas] = [await openTasks('ann'), await pendingSlas('ann'), await pendingSlas('cid')];
    expect(annTasks).toBeGreaterThan(0);
    expect(annSlas).toBeGreaterThan(0);
    // An open deal and an active case of hers, and a won deal that stays hers (closed business is history).
    await ctx.db.pool.query(
      `INSERT INTO deals (customer_id, pipeline, stage, status, owner_agent_id, opened_at, stage_entered_at)
       VALUES ($1, 'sales', 'cart', 'open', 'ann', now(), now()), ($1, 'sales', 'won', 'won', 'ann', now(), now())`,
      [annCustomers[0]],
    );
    await ctx.db.pool.query(
      `INSERT INTO cases (idempotency_key, customer_id, subject, priority, status, pool, owner_agent_id, opened_at, status_changed_at)
       VALUES ('hand-over-case', $1, 'Broken', 'normal', 'waiting_on_customer', 'sales', 'ann', now(), now())`,
      [annCustomers[0]],
    );

    const refused = await api(ctx.app, '/api/agents/ann/hand-over', {
      method: 'POST',
      body: JSON.stringify({ to_agent: 'ann' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(refused.status).toBe(400);
    expect(
      (
        await api(ctx.app, '/api/agents/ann/hand-over', {
          method: 'POST',
          body: JSON.stringify({ to_pool: 'nope' }),
          headers: { 'content-type': 'application/json' },
        })
      ).status,
    ).toBe(404);
    const handed = await api(ctx.app, '/api/agents/ann/hand-over', {
      method: 'POST',
      body: JSON.stringify({ to_agent: 'cid' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(handed.status).toBe(200);
    expect(handed.body).toEqual({
      from: 'ann',
      to: ['cid'],
      customers: annCustomers.length,
      tasks: annTasks,
      slas: annSlas,
      deals: 1,
      cases: 1,
    });
    const { rows: deals } = await ctx.db.pool.query<{ status: string; owner_agent_id: string }>(
      'SELECT status, owner_agent_id FROM deals ORDER BY id',
    );
    expect(deals).toEqual([
      { status: 'open', owner_agent_id: 'cid' },
      { status: 'won', owner_agent_id: 'ann' },
    ]);
    expect(
      (await ctx.db.pool.query("SELECT owner_agent_id FROM cases WHERE idempotency_key = 'hand-over-case'")).rows,
    ).toEqual([{ owner_agent_id: 'cid' }]);
    const { rows: owners } = await ctx.db.pool.query<{ owner_agent_id: string }>(
      'SELECT owner_agent_id FROM customers WHERE id = ANY($1)',
      [annCustomers],
    );
    expect(owners.every((row) => row.owner_agent_id === 'cid')).toBe(true);
    expect(await openTasks('ann')).toBe(0);
    expect(await pendingSlas('ann')).toBe(0);
    expect(await pendingSlas('cid')).toBe(cidSlas + annSlas);
    const { rows: history } = await ctx.db.pool.query<{ reason: string; replaces: number | null }>(
      "SELECT reason, replaces FROM lead_assignments WHERE agent_id = 'cid' AND strategy = 'hand_over'",
    );
    expect(history).toHaveLength(annCustomers.length);
    expect(history.every((row) => row.reason === 'hand-over from ann by api-token' && row.replaces !== null)).toBe(
      true,
    );
    const audit = (await api(ctx.app, '/api/audit')).body.entries.find(
      (entry: { action: string }) => entry.action === 'agent.hand_over',
    );
    expect(audit).toMatchObject({
      actor: 'api-token',
      target: 'agent:ann',
      details: { to: 'agent:cid', customers: annCustomers.length, tasks: annTasks, slas: annSlas, via: 'api' },
    });
    // Again: nothing left to move.
    expect(
      (
        await api(ctx.app, '/api/agents/ann/hand-over', {
          method: 'POST',
          body: JSON.stringify({ to_agent: 'cid' }),
          headers: { 'content-type': 'application/json' },
        })
      ).body,
    ).toMatchObject({ customers: 0, tasks: 0, slas: 0 });

    // An agent removed from workflows.yaml who still owns customers: listed by the API, the dashboard, at start-up.
    await ctx.db.pool.query("UPDATE customers SET owner_agent_id = 'zed' WHERE id = ANY($1)", [
      mine.map((customer) => customer.customerId),
    ]);
    await ctx.db.pool.query("UPDATE tasks SET agent_id = 'zed' WHERE customer_id = ANY($1)", [
      mine.map((customer) => customer.customerId),
    ]);
    expect((await api(ctx.app, '/api/agents/former')).body).toEqual({
      agents: [{ agent_id: 'zed', customers: 2, open_tasks: 2 }],
    });

    const lines: string[] = [];
    const logger = pino(
      { level: 'warn' },
      new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) }),
    );
    const env = testEnv({ databaseUrl: ctx.db.url, configPath: writeConfig(CONFIG), prefix: testPrefix() });
    const quiet = await startCrmflow({ env, roles: { api: false, worker: false, scheduler: false }, logger });
    await quiet.close();
    expect(lines.map((line) => JSON.parse(line)).find((line) => line.agent_id === 'zed')).toMatchObject({
      customers: 2,
      open_tasks: 2,
      msg: expect.stringMatching(/agent zed is no longer in .* hand them over/),
    });

    const login = await fetch(`${ctx.app.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ token: TEST_TOKEN, next: '/hand-over' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const page = await (await fetch(`${ctx.app.url}/hand-over`, { headers: { cookie } })).text();
    expect(page).toMatch(/<li data-former="zed"><strong>zed<\/strong>: 2 customers, 2 open tasks<\/li>/);

    const out: string[] = [];
    await runHandOver(
      ctx.app,
      ['zed', '--pool', 'sales'],
      new Writable({ write: (chunk, _encoding, done) => (out.push(String(chunk)), done()) }),
    );
    expect(out.join('')).toMatch(/^handed over from zed to ann, bea, cid: 2 customers, 2 open tasks, 0 pending SLAs/);
    const dealt = (
      await ctx.db.pool.query<{ owner_agent_id: string }>(
        'SELECT owner_agent_id FROM customers WHERE id = ANY($1) ORDER BY id',
        [mine.map((customer) => customer.customerId)],
      )
    ).rows;
    expect(dealt.map((row) => row.owner_agent_id)).toEqual(['ann', 'bea']);
    expect((await api(ctx.app, '/api/agents/former')).body).toEqual({ agents: [] });
    const after = await (await fetch(`${ctx.app.url}/hand-over`, { headers: { cookie } })).text();
    expect(after).toContain('Every owner of a customer or an open task is a declared agent.');

    // The dashboard's form: the same operation, audited as the signed-in user.
    const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(after)![1]!;
    const cidCustomers = Number(
      (await ctx.db.pool.query("SELECT count(*) FROM customers WHERE owner_agent_id = 'cid' AND merged_into IS NULL"))
        .rows[0].count,
    );
    const posted = await fetch(`${ctx.app.url}/hand-over`, {
      method: 'POST',
      body: new URLSearchParams({ _csrf: csrf, from: 'cid', to: 'agent:dan' }),
      headers: { cookie, origin: ctx.app.url!, 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(posted.status).toBe(200);
    expect(await posted.text()).toContain(`Handed over from cid to dan: ${cidCustomers} customers`);
    expect((await api(ctx.app, '/api/audit')).body.entries[0]).toMatchObject({
      action: 'agent.hand_over',
      target: 'agent:cid',
      details: { to: 'agent:dan', via: 'dashboard' },
    });
  });
});
