import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { comparableName, jaro, jaroWinkler } from '../src/customers/jaro-winkler.js';
import { normalizeIdentities, type Identity } from '../src/customers/normalize.js';
import type { Crmflow } from '../src/runtime.js';
import { upsertCustomer } from '../src/store/customers.js';
import { decideSuggestion, suggestDuplicates } from '../src/store/merge-suggestions.js';
import { startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { waitFor } from './helpers/wait.js';

describe('Jaro–Winkler', () => {
  it('gives the textbook values', () => {
    expect(jaro('MARTHA', 'MARHTA')).toBeCloseTo(0.944, 3);
    expect(jaroWinkler('MARTHA', 'MARHTA')).toBeCloseTo(0.961, 3);
    expect(jaroWinkler('DWAYNE', 'DUANE')).toBeCloseTo(0.84, 3);
    expect(jaroWinkler('DIXON', 'DICKSONX')).toBeCloseTo(0.813, 3);
    expect(jaroWinkler('same', 'same')).toBe(1);
    expect(jaroWinkler('', 'abc')).toBe(0);
    expect(jaroWinkler('abc', 'xyz')).toBe(0);
  });

  it('is symmetric and between 0 and 1', () => {
    const names = ['Ana Souza', 'Anna Souza', 'Souza Ana', 'Bob', 'Roberta Flack', ''];
    for (const a of names) {
      for (const b of names) {
        expect(jaroWinkler(a, b)).toBeCloseTo(jaroWinkler(b, a), 12);
        expect(jaroWinkler(a, b)).toBeGreaterThanOrEqual(0);
        expect(jaroWinkler(a, b)).toBeLessThanOrEqual(1);
      }
    }
  });

  it('compares names without case, accents, punctuation or word order', () => {
    expect(comparableName('Souza, Ana')).toBe(comparableName('ANA SOUZA'));
    expect(comparableName('Zoë  Marlow-Smith')).toBe('marlow smith zoe');
  });
});

describe('the duplicate finder', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  const person = async (name: string, identities: Identity[]) =>
    (
      await upsertCustomer(db.pool, {
        identities: normalizeIdentities(identities, { defaultRegion: 'US' }),
        profile: { name },
        occurredAt: new Date(),
        source: 'test',
        eventRef: 'test',
      })
    ).customerId;

  it('suggests similar names sharing an email local part or a phone suffix, with evidence, once; never a rejected pair', async () => {
    const ana = await person('Ana Souza', [{ kind: 'email', value: 'ana.souza@gmail.com' }]);
    const anna = await person('Anna Souza', [{ kind: 'email', value: 'ana.souza@souza-design.com' }]);
    const jon = await person('Jon Smith', [{ kind: 'phone', value: '+1 212 555 0199' }]);
    const john = await person('John Smith', [{ kind: 'phone', value: '+44 20 2555 0199' }]);
    // Same local part, different people: names too far apart.
    await person('Robert King', [{ kind: 'email', value: 'ana.souza@other.example' }]);
    // A role address is no evidence, whatever the names.
    await person('Mia Wong', [{ kind: 'email', value: 'info@wong.example' }]);
    await person('Mia Wong', [{ kind: 'email', value: 'info@wong-studio.example' }]);

    expect(await suggestDuplicates(db.pool, { minScore: 0.9 })).toEqual({ examined: 4, suggested: 2 });
    const { rows } = await db.pool.query(
      'SELECT customer_a, customer_b, score, reason, status FROM customer_merge_suggestions ORDER BY id',
    );
    expect(rows).toEqual([
      {
        customer_a: ana,
        customer_b: anna,
        score: expect.closeTo(0.97, 2),
        status: 'open',
        reason: {
          why: 'similar names with a shared email local part or phone suffix',
          names: ['Ana Souza', 'Anna Souza'],
          name_similarity: expect.any(Number),
          shared: [{ kind: 'email_local_part', value: 'ana.souza' }],
        },
      },
      {
        customer_a: jon,
        customer_b: john,
        score: expect.any(Number),
        status: 'open',
        reason: expect.objectContaining({ shared: [{ kind: 'phone_suffix', value: '5550199' }] }),
      },
    ]);

    // Already suggested pairs are skipped; a rejected one stays rejected for good.
    const { rows: jonJohn } = await db.pool.query<{ id: number }>(
      'SELECT id FROM customer_merge_suggestions WHERE customer_a = $1',
      [jon],
    );
    await decideSuggestion(db.pool, jonJohn[0]!.id, 'rejected', 'tester');
    expect(await suggestDuplicates(db.pool, { minScore: 0.9 })).toEqual({ examined: 2, suggested: 0 });
    expect(await count(db.pool, 'SELECT 1 FROM customer_merge_suggestions')).toBe(2);
    await expect(decideSuggestion(db.pool, jonJohn[0]!.id, 'accepted', 'tester')).rejects.toThrow('already rejected');
  });

  it('works in bounded batches', async () => {
    await db.pool.query('TRUNCATE customer_merge_suggestions');
    expect(await suggestDuplicates(db.pool, { minScore: 0.9, batchSize: 1, maxPairs: 2 })).toEqual({
      examined: 2,
      suggested: 1,
    });
    expect(await suggestDuplicates(db.pool, { minScore: 0.9, batchSize: 2 })).toEqual({ examined: 3, suggested: 1 });
  });
});

describe('the duplicate finder as a scheduled job', () => {
  let db: TestDatabase;
  let app: Crmflow;
  beforeAll(async () => {
    db = await createTestDatabase();
    const config = 'version: 1\nidentity:\n  suggest_duplicates: { every: 500ms, min_score: 0.85 }\nworkflows: []\n';
    app = await startTestCrmflow(
      testEnv({ databaseUrl: db.url, configPath: writeConfig(config), prefix: testPrefix() }),
    );
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('runs on its BullMQ job scheduler and suggests what it finds', async () => {
    const schedulers = await app.queue.getJobSchedulers();
    expect(schedulers.map((scheduler) => scheduler.key)).toContain('suggest-duplicates');
    for (const [name, email] of [
      ['Dana Ruiz', 'dana.ruiz@a.example'],
      ['Dana Ruíz', 'dana.ruiz@b.example'],
    ] as const) {
      await upsertCustomer(app.pool, {
        identities: [{ kind: 'email', value: email }],
        profile: { name },
        occurredAt: new Date(),
        source: 'test',
        eventRef: 'test',
      });
    }
    await waitFor('a suggestion', async () => (await count(db.pool, 'SELECT 1 FROM customer_merge_suggestions')) === 1);
  });
});
