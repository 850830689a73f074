import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotationStep, weightedCycle } from '../src/customers/assignment-order.js';
import { nextPosition } from '../src/store/assignments.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';

/**
 * Round robin is walked in two places: `rotationStep` (TypeScript, for assignments made in a transaction) and
 * `nextPosition` (SQL, for the one-statement assignment). For any cycle, position and set of barred agents they must
 * pick the same agent and the same next position, or a pool's rotation would skip or repeat someone depending on
 * which path assigned.
 */
describe('the SQL and TypeScript rotation walks agree', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('for any weighted pool, position and barred agents', async () => {
    const agents = ['ana', 'ben', 'cy', 'dee', 'eve'];
    const pool = fc
      .uniqueArray(fc.constantFrom(...agents), { minLength: 1, maxLength: agents.length })
      .chain((ids) =>
        fc.tuple(
          fc.constant(ids),
          fc.array(fc.integer({ min: 1, max: 4 }), { minLength: ids.length, maxLength: ids.length }),
        ),
      );
    await fc.assert(
      fc.asyncProperty(
        pool,
        fc.integer({ min: 0, max: 10_000 }),
        fc.subarray(agents),
        async ([ids, weights], position, barred) => {
          const cycle = weightedCycle(ids.map((id, i) => ({ id, weight: weights[i]! })));
          const { rows } = await db.pool.query<{ next: number | null }>(
            `WITH barred AS (SELECT $2::text[] AS agents) SELECT ${nextPosition('$1::bigint')} AS next`,
            [position, barred, cycle],
          );
          const step = rotationStep(cycle, position, (agentId) => !barred.includes(agentId));
          expect(rows[0]!.next).toBe(step?.nextPosition ?? null);
          // The agent the SQL assigns is the cycle's entry just before the new position.
          if (step) expect(cycle[(rows[0]!.next! - 1) % cycle.length]).toBe(step.agentId);
        },
      ),
      { numRuns: 200 },
    );
  });
});
