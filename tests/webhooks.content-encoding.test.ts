import { createHmac } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Crmflow } from '../src/runtime.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { FORM_CONNECTOR } from './helpers/engine.js';

const sign = (bytes: Buffer | string) =>
  `sha256=${createHmac('sha256', SECRETS.FORM_WEBHOOK_SECRET).update(bytes).digest('hex')}`;

describe('compressed webhooks: the signature is checked on the payload the sender signed, the size limit on the decoded bytes', () => {
  let db: TestDatabase;
  let app: Crmflow;
  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestCrmflow(
      testEnv({
        databaseUrl: db.url,
        configPath: writeConfig(`${FORM_CONNECTOR}\nworkflows: []\n`),
        prefix: testPrefix(),
      }),
      { api: true, worker: false, scheduler: false },
    );
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('accepts a gzip delivery signed over its JSON; refuses one signed over the compressed bytes; a bomb is a 413; compress is a 415', async () => {
    const json = JSON.stringify({ submission_id: 'gz-1', name: 'Ana', email: 'ana@example.com' });
    const gz = gzipSync(json);
    const headers = { 'content-type': 'application/json', 'content-encoding': 'gzip' };
    expect((await post(app, '/webhooks/form', gz, { ...headers, 'x-crmflow-signature': sign(json) })).status).toBe(202);

    const other = JSON.stringify({ submission_id: 'gz-2', name: 'Bo', email: 'bo@example.com' });
    const otherGz = gzipSync(other);
    expect(
      (await post(app, '/webhooks/form', otherGz, { ...headers, 'x-crmflow-signature': sign(otherGz) })).status,
    ).toBe(401);

    // 30 MB of JSON that compresses to about 30 kB: decoded, it is over the 1 MB limit, and nothing is stored.
    const bomb = gzipSync(`{"submission_id":"bomb","pad":"${' '.repeat(30 * 1024 * 1024)}"}`);
    expect(bomb.length).toBeLessThan(100 * 1024);
    expect(
      (await post(app, '/webhooks/form', bomb, { ...headers, 'x-crmflow-signature': sign('whatever') })).status,
    ).toBe(413);

    expect(
      (
        await post(app, '/webhooks/form', json, {
          'content-type': 'application/json',
          'content-encoding': 'compress',
          'x-crmflow-signature': sign(json),
        })
      ).status,
    ).toBe(415);
    expect(await count(db.pool, 'SELECT 1 FROM inbox_events')).toBe(1);
  });
});
