import { describe, expect, it } from 'vitest';
import { api, TEST_TOKEN } from './helpers/crmflow.js';
import { FORM_CONNECTOR, useCrmflow } from './helpers/engine.js';

const CONFIG = `
version: 1
${FORM_CONNECTOR}
workflows:
  - id: web-lead
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps: [{ type: map }, { type: upsert_customer }]
`;

describe('a run whose reply ended uncertain needs a person', () => {
  const ctx = useCrmflow(CONFIG);

  /** A succeeded run, and its email reply in the given state. */
  async function runWithReply(
    status: 'sent' | 'uncertain',
    key: string,
  ): Promise<{ runId: number; messageId: number }> {
    const { rows: runs } = await ctx.db.pool.query<{ id: number }>(
      "INSERT INTO workflow_runs (workflow, workflow_version, trigger_key, status, attempts) VALUES ('web-lead', 'v', $1, 'succeeded', 1) RETURNING id",
      [`test:${key}`],
    );
    const { rows: messages } = await ctx.db.pool.query<{ id: number }>(
      `INSERT INTO outbound_messages (idempotency_key, run_id, channel, transport, recipient, subject, body, status, status_reason)
       VALUES ($1, $2, 'email', 'smtp', $3, 'Hello', 'We got your message', $4, $5) RETURNING id`,
      [
        key,
        runs[0]!.id,
        `${key}@uncertain.example`,
        status,
        status === 'uncertain' ? 'connection reset after the DATA command' : null,
      ],
    );
    return { runId: Number(runs[0]!.id), messageId: Number(messages[0]!.id) };
  }

  it('is counted on the overview, found by the runs filter, shown as needing a person, and resent from its page', async () => {
    const fine = await runWithReply('sent', 'fine');
    const unsure = await runWithReply('uncertain', 'unsure');
    const login = await fetch(`${ctx.app.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ token: TEST_TOKEN, next: '/' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const page = async (path: string) => (await fetch(`${ctx.app.url}${path}`, { headers: { cookie } })).text();

    expect(await page('/')).toMatch(
      /<a href="\/runs\?status=needs_person"><strong>1<\/strong> run has a reply that may not have arrived<\/a>/,
    );
    const all = await page('/runs');
    expect(all).toMatch(
      new RegExp(`<tr data-run-id="${unsure.runId}"[^>]*data-needs-person="1">[\\s\\S]*?needs a person`),
    );
    expect(all).toMatch(new RegExp(`<tr data-run-id="${fine.runId}" data-status="succeeded" data-attempts="1">`));
    const filtered = await page('/runs?status=needs_person');
    expect(filtered).toContain(`data-run-id="${unsure.runId}"`);
    expect(filtered).not.toContain(`data-run-id="${fine.runId}"`);
    expect(filtered).toContain('<option value="needs_person" selected>needs a person</option>');

    const detail = await page(`/runs/${unsure.runId}`);
    expect(detail).toMatch(/<dd id="run-status"><span class="status status-needs_person">needs a person<\/span><\/dd>/);
    expect(detail).toContain('connection reset after the DATA command');
    expect(detail).toContain(`action="/messages/${unsure.messageId}/resend"`);
    expect(await page(`/runs/${fine.runId}`)).not.toContain('needs a person');

    const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(detail)![1]!;
    const resend = await fetch(`${ctx.app.url}/messages/${unsure.messageId}/resend`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ _csrf: csrf }),
      headers: { cookie, origin: ctx.app.url!, 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(resend.status).toBe(303);
    expect(resend.headers.get('location')).toBe(`/runs/${unsure.runId}?notice=resent`);
    const { rows } = await ctx.db.pool.query('SELECT status FROM outbound_messages WHERE id = $1', [unsure.messageId]);
    expect(rows[0].status).toBe('sent');
    const audit = (await api(ctx.app, '/api/audit')).body.entries[0];
    expect(audit).toMatchObject({
      action: 'message.resend',
      target: `message:${unsure.messageId}`,
      details: { channel: 'email', via: 'dashboard' },
    });
    expect(await page('/')).toContain('No run needs a person');
    expect(await page(`/runs/${unsure.runId}`)).not.toContain('needs a person');
  });
});
