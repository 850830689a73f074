import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRETS, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { FORM_CONNECTOR } from './helpers/engine.js';
import { freePort } from './helpers/net.js';
import { formHeaders } from './helpers/sign.js';
import { waitFor } from './helpers/wait.js';

const CONFIG = `
version: 1
${FORM_CONNECTOR}
workflows:
  - id: lead
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps: [{ type: map }, { type: upsert_customer }]
`;

/** Scrapes as Prometheus does in the compose file: with the metrics token (the test environment sets one). */
const scrape = (url: string) => fetch(url, { headers: { authorization: `Bearer ${SECRETS.CRMFLOW_METRICS_TOKEN}` } });

/** The value of one sample of a metric in the Prometheus text format (0 when absent). */
function sample(text: string, metric: string, labels: string): number {
  const line = text
    .split('\n')
    .find((row) => row.startsWith(`${metric}{`) && labels.split(',').every((label) => row.includes(label)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('metrics in the documented deployment: one API process and two worker processes', () => {
  let db: TestDatabase;
  const children: ChildProcess[] = [];
  let apiUrl: string;
  const workerMetrics: string[] = [];

  const start = (role: 'api' | 'worker', env: Record<string, string>) => {
    const child = spawn(process.execPath, [fileURLToPath(new URL('../bin/crmflow.js', import.meta.url)), role], {
      env: { ...process.env, ...env, CI: 'true' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    const env = testEnv({ databaseUrl: db.url, configPath: writeConfig(CONFIG), prefix: testPrefix() });
    const apiPort = await freePort();
    apiUrl = `http://127.0.0.1:${apiPort}`;
    start('api', { ...env, PORT: String(apiPort) });
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      workerMetrics.push(`http://127.0.0.1:${port}/metrics`);
      start('worker', { ...env, CRMFLOW_METRICS_PORT: String(port) });
    }
    await waitFor(
      'the three processes to answer',
      async () => {
        const answers = await Promise.all(
          [`${apiUrl}/healthz`, ...workerMetrics].map((url) =>
            scrape(url)
              .then((response) => response.ok)
              .catch(() => false),
          ),
        );
        return answers.every(Boolean);
      },
      60_000,
      250,
    );
  }, 90_000);

  afterAll(async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise((resolve) =>
            child.exitCode !== null ? resolve(null) : (child.once('exit', resolve), child.kill('SIGTERM')),
          ),
      ),
    );
    await db?.drop();
  });

  it('every worker serves its own /metrics, and a scrape of them sees the run counters move', async () => {
    const before = await Promise.all(
      workerMetrics.map(async (url) =>
        sample(await (await scrape(url)).text(), 'crmflow_runs_finished_total', 'workflow="lead",status="succeeded"'),
      ),
    );
    const leads = 12;
    for (let i = 0; i < leads; i++) {
      const body = JSON.stringify({
        submission_id: `metrics-${i}`,
        name: `Lead ${i}`,
        email: `lead${i}@metrics.example`,
      });
      const answer = await fetch(`${apiUrl}/webhooks/form`, {
        method: 'POST',
        body,
        headers: formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET),
      });
      expect(answer.status).toBe(202);
    }
    await waitFor(
      'every run to succeed',
      async () => (await count(db.pool, "SELECT 1 FROM workflow_runs WHERE status = 'succeeded'")) === leads,
      60_000,
    );

    const scraped = await Promise.all(
      workerMetrics.map(async (url) => {
        expect((await fetch(url)).status).toBe(401); // no token, no metrics
        const response = await scrape(url);
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
        return response.text();
      }),
    );
    const after = scraped.map((text) =>
      sample(text, 'crmflow_runs_finished_total', 'workflow="lead",status="succeeded"'),
    );
    expect(after.reduce((sum, n) => sum + n, 0) - before.reduce((sum, n) => sum + n, 0)).toBe(leads);
    for (const text of scraped) expect(text).toContain('process_resident_memory_bytes');
    // The API process ran nothing: its own /metrics cannot show these runs, which is why workers are scraped too.
    const api = await (await scrape(`${apiUrl}/metrics`)).text();
    expect(sample(api, 'crmflow_runs_finished_total', 'workflow="lead",status="succeeded"')).toBe(0);
    expect(sample(api, 'crmflow_webhooks_received_total', 'connector="form",status="202"')).toBe(leads);
    // Only /metrics is served on a worker's port.
    expect((await scrape(workerMetrics[0]!.replace('/metrics', '/api/runs'))).status).toBe(404);
  }, 120_000);
});
