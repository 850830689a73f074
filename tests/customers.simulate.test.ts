import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateIdentity as simulate } from '../src/operations/identity.js';
import type { Crmflow } from '../src/runtime.js';
import { loadConfigText, type LoadedConfig } from '../src/workflows/load.js';
import { post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { formHeaders } from './helpers/sign.js';
import { waitFor } from './helpers/wait.js';

const simulateIdentity = (pool: TestDatabase['pool'], config: LoadedConfig, defaultRegion: string) =>
  simulate({ pool, defaultRegion }, { config });

const config = (identity: string) => `
version: 1
identity:
  default_region: US
  suggest_duplicates: false
${identity}
connectors:
  form:
    secrets:
      webhook_secret: \${FORM_WEBHOOK_SECRET}
workflows:
  - id: web-lead
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps: [{ type: map }, { type: upsert_customer }]
`;

/** Today's rules: every kind merges, the shop's switchboard number is blocked, no Gmail folding. */
const CURRENT = config('  blocked:\n    phone: ["+14155550100"]');
/** The rules an admin wants to try: only emails merge, the switchboard is no longer blocked, Gmail folding on. */
const TRIED = config('  merge_on: [email]\n  fold_gmail: true');

describe('crmflow identity simulate', () => {
  let db: TestDatabase;
  let app: Crmflow;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestCrmflow(
      testEnv({ databaseUrl: db.url, configPath: writeConfig(CURRENT), prefix: testPrefix() }),
    );
    // A seeded history, one event at a time as it arrived.
    const leads = [
      { email: 'ann@example.org' },
      { phone: '(415) 555-0111' },
      { email: 'ann@example.org', phone: '+1 415 555 0111' }, // merges the phone's customer into Ann's today
      { email: 'bob@example.org', phone: '415-555-0100' },
      { email: 'carl@example.org', phone: '415 555 0100' }, // the blocked switchboard number links no one today
      { email: 'dina.smith@gmail.com' },
      { email: 'DinaSmith+shop@gmail.com' }, // another customer today; one mailbox with Gmail folding
      { email: 'erin@example.org' },
    ];
    for (const [i, fields] of leads.entries()) {
      const body = JSON.stringify({ submission_id: `s${i}`, name: `Lead ${i}`, ...fields });
      expect((await post(app, '/webhooks/form', body, formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET))).status).toBe(
        202,
      );
      await waitFor(
        `lead ${i}`,
        async () => (await count(db.pool, "SELECT 1 FROM inbox_events WHERE status = 'processed'")) === i + 1,
      );
    }
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  const load = (text: string) => loadConfigText(text, 'workflows.yaml', { env: { FORM_WEBHOOK_SECRET: 'x' } });

  it('reports how many customers a changed identity section would merge, split or keep, and writes nothing', async () => {
    const tables = async () =>
      (
        await db.pool.query(
          'SELECT (SELECT count(*) FROM customers) AS c, (SELECT count(*) FROM customer_identities) AS i, (SELECT count(*) FROM customer_merges) AS m, (SELECT count(*) FROM customer_merge_suggestions) AS s',
        )
      ).rows[0];
    const before = await tables();
    const { rows: live } = await db.pool.query<{ id: number; email: string | null }>(
      "SELECT c.id, (SELECT min(value) FROM customer_identities WHERE customer_id = c.id AND kind = 'email') AS email FROM customers c WHERE merged_into IS NULL ORDER BY id",
    );
    const idOf = (email: string) => live.find((row) => row.email === email)!.id;
    expect(live).toHaveLength(6);

    const report = await simulateIdentity(db.pool, load(TRIED), 'US');
    expect(report).toEqual({
      events: 8,
      customers: 6,
      merge: { customers: 2, into: 1, examples: [[idOf('dina.smith@gmail.com'), idOf('dinasmith+shop@gmail.com')]] },
      split: { customers: 1, examples: [idOf('ann@example.org')] },
      // Bob and Carl stay apart: the unblocked switchboard phone only attaches, and Carl brings his own email.
      stay: 3,
      created: 0,
      unresolved: { events: 0, customers: 0 },
    });
    expect(await tables()).toEqual(before);

    // Today's rules replayed give today's customers.
    expect(await simulateIdentity(db.pool, load(CURRENT), 'US')).toMatchObject({
      events: 8,
      customers: 6,
      merge: { customers: 0 },
      split: { customers: 0 },
      stay: 6,
      created: 0,
    });
    // Blocking every email leaves only the phone events (2 and 3, Ann's customer today) resolving someone.
    const blocked = await simulateIdentity(
      db.pool,
      load(config('  blocked:\n    email: ["*"]\n    phone: ["+14155550100"]')),
      'US',
    );
    expect(blocked).toMatchObject({
      customers: 6,
      unresolved: { events: 6, customers: 5 },
      merge: { customers: 0 },
      split: { customers: 0 },
      stay: 1,
    });
  });
});
