import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopback } from '../src/http/metrics.js';
import { QUEUE_STATES, registry } from '../src/observability/metrics.js';
import type { Crmflow } from '../src/runtime.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { formHeaders } from './helpers/sign.js';
import { startSmtpServer } from './helpers/smtp.js';
import { waitFor } from './helpers/wait.js';

const CONFIG = `
connectors:
  form: { secrets: { webhook_secret: "\${FORM_WEBHOOK_SECRET}" } }
workflows:
  - id: greet-lead
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps:
      - type: map
      - type: upsert_customer
      - type: reply
        channel: email
        subject: "Hello {{ name }}"
        body: "Thanks for writing."
`;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (enough of the format for what prom-client writes). */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((pair) => [
        pair[1]!,
        pair[2]!,
      ]),
    );
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** Sum of the samples named `name` whose labels include `labels` (0 when there is none yet). */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter(
      (sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
    )
    .reduce((sum, sample) => sum + sample.value, 0);
}

async function scrape(url: string, headers: Record<string, string> = {}): Promise<Sample[]> {
  const response = await fetch(`${url}/metrics`, { headers });
  expect(response.status).toBe(200);
  return parseExposition(await response.text());
}

describe('Prometheus metrics', () => {
  let db: TestDatabase;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let app: Crmflow;
  let guarded: Crmflow | undefined;
  const submit = (fields: Record<string, string>, secret = SECRETS.FORM_WEBHOOK_SECRET) => {
    const body = JSON.stringify(fields);
    return post(app, '/webhooks/form', body, formHeaders(body, secret));
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    smtp = await startSmtpServer();
    // The token is read from the process environment (and from the app options, should the runtime pass it).
    delete process.env.CRMFLOW_METRICS_TOKEN;
    app = await startTestCrmflow(
      testEnv({
        databaseUrl: db.url,
        configPath: writeConfig(CONFIG),
        prefix: testPrefix(),
        smtpUrl: smtp.url,
        extra: { CRMFLOW_METRICS_TOKEN: '' },
      }),
    );
  });
  afterAll(async () => {
    delete process.env.CRMFLOW_METRICS_TOKEN;
    await guarded?.close();
    await app?.close();
    await smtp?.close();
    await db?.drop();
  });

  it('counts webhooks by status, runs, replies and shows the queue depth', async () => {
    const before = await scrape(app.url!);

    expect((await submit({ submission_id: 'm-1', name: 'Mia Metric', email: 'mia@metrics.example' })).status).toBe(202);
    expect((await submit({ submission_id: 'm-2', email: 'x@metrics.example' }, 'wrong-secret')).status).toBe(401);
    expect((await post(app, '/webhooks/nosuch', '{}', { 'content-type': 'application/json' })).status).toBe(404);
    const huge = JSON.stringify({ submission_id: 'm-3', message: 'x'.repeat(1024 * 1024 + 10) });
    expect((await post(app, '/webhooks/form', huge, formHeaders(huge, SECRETS.FORM_WEBHOOK_SECRET))).status).toBe(413);
    // Stored and run, but a lead with neither email nor phone fails its upsert_customer step for good.
    expect((await submit({ submission_id: 'm-4', name: 'Nobody Reachable' })).status).toBe(202);

    await waitFor('the reply email', async () => smtp.messages.length >= 1);
    const runLabels = { workflow: 'greet-lead', status: 'succeeded' };
    const after = await waitFor('both runs to be counted', async () => {
      const samples = await scrape(app.url!);
      const finished =
        valueOf(samples, 'crmflow_runs_finished_total', { workflow: 'greet-lead' }) -
        valueOf(before, 'crmflow_runs_finished_total', { workflow: 'greet-lead' });
      return finished >= 2 && samples;
    });
    const delta = (name: string, labels: Record<string, string> = {}) =>
      valueOf(after, name, labels) - valueOf(before, name, labels);

    expect(delta('crmflow_webhooks_received_total', { connector: 'form', status: '202' })).toBe(2);
    expect(delta('crmflow_webhooks_received_total', { connector: 'form', status: '401' })).toBe(1);
    expect(delta('crmflow_webhooks_received_total', { connector: 'form', status: '413' })).toBe(1);
    expect(delta('crmflow_webhooks_received_total', { connector: 'unknown', status: '404' })).toBe(1);
    expect(after.some((sample) => sample.labels.connector === 'nosuch')).toBe(false);

    expect(delta('crmflow_runs_started_total', { workflow: 'greet-lead' })).toBe(2);
    expect(delta('crmflow_runs_finished_total', runLabels)).toBe(1);
    expect(delta('crmflow_runs_finished_total', { workflow: 'greet-lead', status: 'failed' })).toBe(1);
    expect(delta('crmflow_run_duration_seconds_count', runLabels)).toBe(1);
    expect(delta('crmflow_run_duration_seconds_sum', runLabels)).toBeGreaterThan(0);
    expect(delta('crmflow_outbound_messages_total', { channel: 'email', status: 'sent' })).toBe(1);
    expect(delta('crmflow_outbound_messages_total')).toBe(1);
    expect(smtp.messages).toHaveLength(1);

    for (const state of QUEUE_STATES)
      expect(after.some((sample) => sample.name === 'crmflow_queue_depth' && sample.labels.state === state)).toBe(true);
    expect(after.some((sample) => sample.name === 'process_cpu_user_seconds_total')).toBe(true);
  });

  it('counts customers merged by identity resolution', async () => {
    const finishedRuns = async () =>
      valueOf(await scrape(app.url!), 'crmflow_runs_finished_total', { workflow: 'greet-lead' });
    const runsBefore = await finishedRuns();
    expect((await submit({ submission_id: 'j-1', name: 'Jo Email', email: 'jo@merge.example' })).status).toBe(202);
    expect((await submit({ submission_id: 'j-2', name: 'Jo Phone', phone: '+1 415 555 0199' })).status).toBe(202);
    await waitFor('two customers, one by email and one by phone', async () => (await finishedRuns()) >= runsBefore + 2);
    const before = await scrape(app.url!);
    expect(
      (await submit({ submission_id: 'j-3', name: 'Jo Both', email: 'jo@merge.example', phone: '+1 415 555 0199' }))
        .status,
    ).toBe(202);
    const after = await waitFor('the merging run', async () => {
      const samples = await scrape(app.url!);
      return valueOf(samples, 'crmflow_runs_finished_total', { workflow: 'greet-lead' }) >= runsBefore + 3 && samples;
    });
    expect(valueOf(after, 'crmflow_identity_merges_total') - valueOf(before, 'crmflow_identity_merges_total')).toBe(1);
  });

  it('answers loopback clients only when no token is set, also behind a proxy on this host', async () => {
    expect((await fetch(`${app.url}/metrics`)).status).toBe(200);
    const proxied = await fetch(`${app.url}/metrics`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(proxied.status).toBe(403);
    expect(await proxied.json()).toEqual({
      error: { code: 'forbidden', message: expect.stringContaining('CRMFLOW_METRICS_TOKEN') },
    });
    expect([
      isLoopback('127.0.0.1'),
      isLoopback('127.8.9.10'),
      isLoopback('::1'),
      isLoopback('::ffff:127.0.0.1'),
    ]).toEqual([true, true, true, true]);
    expect([
      isLoopback('10.0.0.1'),
      isLoopback('::ffff:10.0.0.1'),
      isLoopback('128.0.0.1'),
      isLoopback('::2'),
      isLoopback(undefined),
    ]).toEqual([false, false, false, false, false]);
  });

  it('requires the bearer token when CRMFLOW_METRICS_TOKEN is set, from any address', async () => {
    process.env.CRMFLOW_METRICS_TOKEN = 'metrics-test-token';
    guarded = await startTestCrmflow(
      testEnv({
        databaseUrl: db.url,
        configPath: writeConfig(CONFIG),
        prefix: testPrefix(),
        smtpUrl: smtp.url,
        extra: { CRMFLOW_METRICS_TOKEN: 'metrics-test-token' },
      }),
      { api: true, worker: false, scheduler: false },
    );
    delete process.env.CRMFLOW_METRICS_TOKEN;
    const missing = await fetch(`${guarded.url}/metrics`);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    expect(await missing.json()).toMatchObject({ error: { code: 'unauthorized' } });
    expect(
      (await fetch(`${guarded.url}/metrics`, { headers: { authorization: 'Bearer metrics-test-tokeN' } })).status,
    ).toBe(401);
    const ok = await fetch(`${guarded.url}/metrics`, {
      headers: { authorization: 'Bearer metrics-test-token', 'x-forwarded-for': '203.0.113.9' },
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await ok.text()).toContain('# TYPE crmflow_webhooks_received_total counter');
  });
});

describe('the example Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(new URL('../docs/grafana-dashboard.json', import.meta.url), 'utf8'));
  const PROMQL_WORDS = new Set([
    'by',
    'without',
    'on',
    'ignoring',
    'group_left',
    'group_right',
    'bool',
    'and',
    'or',
    'unless',
    'offset',
  ]);

  /** Every metric name a PromQL expression reads: identifiers that are not functions, keywords, labels or strings. */
  function metricNames(expr: string): string[] {
    const bare = expr
      .replace(/"(?:[^"\\]|\\.)*"/g, '""')
      .replace(/\{[^}]*\}/g, '')
      .replace(/\[[^\]]*\]/g, '')
      .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
    return [...bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?/g)]
      .filter((match) => !match[2] && !PROMQL_WORDS.has(match[1]!))
      .map((match) => match[1]!);
  }

  it('is a Grafana dashboard with a Prometheus data source variable used by every panel', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const variable = dashboard.templating.list.find((item: { type: string }) => item.type === 'datasource');
    expect(variable).toMatchObject({ name: 'datasource', query: 'prometheus' });
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(6);
    for (const panel of dashboard.panels) {
      expect(panel.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets.length).toBeGreaterThan(0);
    }
  });

  it('queries only metrics the registry exports', async () => {
    const exported = new Set<string>();
    for (const metric of await registry.getMetricsAsJSON()) {
      exported.add(metric.name);
      if (String(metric.type) === 'histogram')
        for (const suffix of ['_bucket', '_sum', '_count']) exported.add(`${metric.name}${suffix}`);
    }
    const used = new Set<string>();
    for (const panel of dashboard.panels)
      for (const target of panel.targets) for (const name of metricNames(target.expr)) used.add(name);
    expect(used.size).toBeGreaterThanOrEqual(7);
    for (const name of used) expect(exported, `${name} is not exported`).toContain(name);
    expect(metricNames('sum by (a) (rate(x_total{s="y"}[$__rate_interval])) / on (a) group_left max(y)')).toEqual([
      'x_total',
      'y',
    ]);
  });
});
