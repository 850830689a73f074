import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { weightedCycle } from '../src/customers/assignment-order.js';
import { assignLead, setAgentAvailability, type Candidate } from '../src/store/assignments.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';

const SCRIPT = fileURLToPath(new URL('./fixtures/assign-many.ts', import.meta.url));

/** Runs the assignments of `ids` split over `processes` real OS processes; resolves to how many each made. */
async function assignInProcesses(
  db: TestDatabase,
  pool: string,
  strategy: string,
  candidates: Candidate[],
  ids: number[],
  processes: number,
): Promise<number[]> {
  const shares = Array.from({ length: processes }, (_, p) => ids.filter((_, i) => i % processes === p));
  return Promise.all(
    shares.map(
      (share) =>
        new Promise<number>((resolve, reject) => {
          const child = spawn(
            process.execPath,
            ['--import', 'tsx', SCRIPT, db.url, pool, strategy, JSON.stringify(candidates), share.join(',')],
            { stdio: ['ignore', 'pipe', 'inherit'] },
          );
          let out = '';
          child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
          child.on('exit', (code) =>
            code === 0 ? resolve(Number(out.trim())) : reject(new Error(`assigner exited ${code}`)),
          );
        }),
    ),
  );
}

async function newCustomers(db: TestDatabase, n: number): Promise<number[]> {
  const { rows } = await db.pool.query<{ id: number }>(
    'INSERT INTO customers (name) SELECT $1 || g FROM generate_series(1, $2) AS g RETURNING id',
    ['lead ', n],
  );
  return rows.map((row) => row.id);
}

async function distribution(db: TestDatabase, pool: string): Promise<Record<string, number>> {
  const { rows } = await db.pool.query<{ agent_id: string; n: number }>(
    'SELECT agent_id, count(*)::int AS n FROM lead_assignments WHERE pool = $1 GROUP BY 1',
    [pool],
  );
  return Object.fromEntries(rows.map((row) => [row.agent_id, row.n]));
}

describe('lead assignment strategies', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  it('round robin over 10,000 assignments from 4 processes is exact to within 1 per agent', async () => {
    const agents: Candidate[] = ['ann', 'ben', 'cat'].map((id) => ({ id, weight: 1 }));
    const ids = await newCustomers(db, 10_000);
    const made = await assignInProcesses(db, 'rr', 'round_robin', agents, ids, 4);
    expect(made.reduce((a, b) => a + b, 0)).toBe(10_000);
    const counts = Object.values(await distribution(db, 'rr'));
    expect(counts).toHaveLength(3);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
  }, 240_000);

  it('weighted over 10,000 assignments from 4 processes is within 2% of the weights', async () => {
    const agents: Candidate[] = [
      { id: 'ann', weight: 5 },
      { id: 'ben', weight: 3 },
      { id: 'cat', weight: 2 },
    ];
    const ids = await newCustomers(db, 10_000);
    await assignInProcesses(db, 'weighted', 'weighted', agents, ids, 4);
    const counts = await distribution(db, 'weighted');
    for (const agent of agents)
      expect(Math.abs(counts[agent.id]! / 10_000 - agent.weight / 10)).toBeLessThanOrEqual(0.02);
  }, 240_000);

  it('spreads the weighted cycle instead of giving runs to one agent', () => {
    expect(
      weightedCycle([
        { id: 'a', weight: 5 },
        { id: 'b', weight: 1 },
        { id: 'c', weight: 1 },
      ]).join(''),
    ).toBe('aabacaa');
  });

  it('round robin steps over agents switched off or excluded, holds its position when nobody can take the lead, and walks the same way when lead.assigned is written with it', async () => {
    const agents: Candidate[] = ['gus', 'hal', 'ivy'].map((id) => ({ id, weight: 1 }));
    const customers = await newCustomers(db, 6);
    const assign = (
      customerId: number,
      key: string,
      extra: { exclude?: string[]; listenedEvents?: Set<string> } = {},
    ) =>
      assignLead(db.pool, {
        customerId,
        pool: 'rr-off',
        strategy: 'round_robin',
        candidates: agents,
        idempotencyKey: key,
        sticky: true,
        ...extra,
      });

    expect((await assign(customers[0]!, 'o1')).agentId).toBe('gus');
    await setAgentAvailability(db.pool, 'hal', false, 'test');
    expect((await assign(customers[1]!, 'o2')).agentId).toBe('ivy'); // hal is off
    expect((await assign(customers[2]!, 'o3', { exclude: ['gus'] })).agentId).toBe('ivy'); // gus excluded, hal off
    await setAgentAvailability(db.pool, 'gus', false, 'test');
    await setAgentAvailability(db.pool, 'ivy', false, 'test');
    expect(await assign(customers[3]!, 'o4')).toMatchObject({ outcome: 'no_agent' });
    const position = async () =>
      (await db.pool.query<{ position: number }>("SELECT position FROM pool_cursors WHERE pool = 'rr-off'")).rows[0]!
        .position;
    expect(await position()).toBe(6);
    // With lead.assigned listened for, the event is written in the assignment's transaction; the walk is the same.
    await setAgentAvailability(db.pool, 'gus', true, 'test');
    const listened = { listenedEvents: new Set(['lead.assigned']) };
    expect(await assign(customers[4]!, 'o5', listened)).toMatchObject({
      agentId: 'gus',
      outcome: 'assigned',
      event: expect.any(Number),
    });
    expect(await assign(customers[5]!, 'o6')).toMatchObject({ agentId: 'gus', outcome: 'assigned' });
    expect(await position()).toBe(10);
    expect(await assign(customers[5]!, 'o6')).toMatchObject({ agentId: 'gus', outcome: 'already_assigned' });
  });

  it('least loaded picks the agent with the fewest open leads; capacity and run-time availability are respected; sticky keeps the owner', async () => {
    const [c1, c2, c3, c4, c5] = await newCustomers(db, 5);
    await db.pool.query("UPDATE customers SET owner_agent_id = 'dan' WHERE id = ANY($1)", [[c1, c2]]);
    const candidates: Candidate[] = [
      { id: 'dan', weight: 1 },
      { id: 'eve', weight: 1, capacity: 1 },
      { id: 'fay', weight: 1 },
    ];
    const assign = (customerId: number, key: string, sticky = true) =>
      assignLead(db.pool, {
        customerId,
        pool: 'll',
        strategy: 'least_loaded',
        candidates,
        idempotencyKey: key,
        sticky,
      });

    expect((await assign(c3!, 'k3')).agentId).toBe('eve'); // dan has 2, eve and fay 0: eve is declared first
    expect((await assign(c4!, 'k4')).agentId).toBe('fay'); // eve is at capacity (1)
    await setAgentAvailability(db.pool, 'fay', false, 'test');
    expect((await assign(c5!, 'k5')).agentId).toBe('dan'); // fay switched off, eve full
    expect(await assign(c5!, 'k5')).toMatchObject({ agentId: 'dan', outcome: 'already_assigned' });
    expect(await assign(c3!, 'k3-again')).toMatchObject({ agentId: 'eve', outcome: 'kept' });
    await setAgentAvailability(db.pool, 'dan', false, 'test');
    expect(await assign(c1!, 'k1', false)).toMatchObject({ outcome: 'no_agent' });
    expect(await count(db.pool, "SELECT 1 FROM lead_assignments WHERE pool = 'll'")).toBe(3);
  });
});
