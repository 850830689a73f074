import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { Crmflow } from '../src/runtime.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { api, post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { submitLead } from './helpers/engine.js';
import { fixtureBytes, shopifyHeaders } from './helpers/sign.js';
import { startSmtpServer } from './helpers/smtp.js';
import { waitFor } from './helpers/wait.js';

/** The shipped example workflows.yaml, the file users copy: its scores, conditions and routing, run on sample customers. */
const EXAMPLE_CONFIG = readFileSync(new URL('../workflows.yaml', import.meta.url), 'utf8');

describe('the rules of the shipped workflows.yaml', () => {
  let db: TestDatabase;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let app: Crmflow;

  beforeAll(async () => {
    db = await createTestDatabase();
    smtp = await startSmtpServer();
    app = await startTestCrmflow(
      testEnv({
        databaseUrl: db.url,
        configPath: writeConfig(EXAMPLE_CONFIG),
        prefix: testPrefix(),
        smtpUrl: smtp.url,
      }),
    );
  });
  afterAll(async () => {
    await app?.close();
    await smtp?.close();
    await db?.drop();
  });

  /** The customer once every run about it (web-lead, score-web-leads, hot-lead...) has finished. */
  async function settled(email: string, finished: string[]) {
    const customer = await waitFor(
      `the customer ${email}`,
      async () => (await api(app, `/api/customers?email=${encodeURIComponent(email)}`)).body.customers[0],
    );
    await waitFor(`the runs about ${email}`, async () => {
      const { rows } = await db.pool.query<{ workflow: string; status: string }>(
        'SELECT workflow, status FROM workflow_runs WHERE customer_id = $1',
        [customer.id],
      );
      return (
        finished.every((workflow) => rows.some((run) => run.workflow === workflow)) &&
        rows.every((run) => !['queued', 'running'].includes(run.status))
      );
    });
    const { body } = await api(app, `/api/customers/${customer.id}`);
    const { rows: runs } = await db.pool.query<{ workflow: string; status: string }>(
      'SELECT workflow, status FROM workflow_runs WHERE customer_id = $1 ORDER BY id',
      [customer.id],
    );
    return { ...body, runs: runs.map((run) => `${run.workflow}:${run.status}`) };
  }

  it('scores a form lead without a phone for its company and source only (a null phone is no phone)', async () => {
    await submitLead(app, {
      submission_id: 'ex-1',
      name: 'Nora Nophone',
      email: 'nora@leads.example',
      company: 'Nophone Ltd',
      source: 'google-ads',
    });
    const nora = await settled('nora@leads.example', ['web-lead', 'score-web-leads']);
    expect(nora.phone).toBeNull();
    expect(nora.score).toBe(30);
    expect(nora.lifecycle_stage).toBe('lead');
    expect(nora.runs).toContain('score-web-leads:succeeded');
    expect(nora.runs).not.toContain('hot-lead:succeeded');
  });

  it('makes a lead with phone, company and ad source (50 points) an opportunity, and routes Spanish speakers to Carol', async () => {
    await submitLead(app, {
      submission_id: 'ex-2',
      name: 'Paco Completo',
      email: 'paco@leads.example',
      phone: '+1 212 555 0177',
      company: 'Completo SA',
      source: 'google-ads',
      language: 'es',
    });
    const paco = await settled('paco@leads.example', ['web-lead', 'score-web-leads', 'hot-lead']);
    expect(paco.score).toBe(50);
    expect(paco.lifecycle_stage).toBe('opportunity');
    expect(paco.owner_agent_id).toBe('carol');
    expect(paco.runs).toEqual(
      expect.arrayContaining(['web-lead:succeeded', 'score-web-leads:succeeded', 'hot-lead:succeeded']),
    );
    await waitFor('the Spanish auto-reply', async () =>
      smtp.messages.some(
        (email) => email.to.includes('paco@leads.example') && email.subject === 'Recibimos tu mensaje',
      ),
    );
  });

  it('gives a bare lead no points, and does not score customers who did not come from the form', async () => {
    await submitLead(app, { submission_id: 'ex-3', email: 'bare@leads.example' });
    const bare = await settled('bare@leads.example', ['web-lead', 'score-web-leads']);
    expect(bare.score).toBe(0);
    expect(bare.lifecycle_stage).toBe('lead');

    const order = fixtureBytes('shopify', 'orders_create.json');
    expect(
      (await post(app, '/webhooks/shopify', order, shopifyHeaders(order, SECRETS.SHOPIFY_WEBHOOK_SECRET))).status,
    ).toBe(202);
    const shopper = await settled('jon@example.com', ['shopify-order']);
    expect(shopper.score).toBe(0);
    expect(shopper.runs.some((run: string) => run.startsWith('score-web-leads'))).toBe(false);
  });
});
