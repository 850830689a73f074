import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Crmflow } from '../src/runtime.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { startTestCrmflow, TEST_TOKEN, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { FORM_CONNECTOR } from './helpers/engine.js';

describe('a NUL (or unpaired surrogate) in a search is a 400 that says why, never a 500', () => {
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

  it('answers 400 on the dashboard searches and the API search', async () => {
    const login = await fetch(`${app.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ token: TEST_TOKEN }),
    });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const asViewer = { cookie };
    const asApi = { authorization: `Bearer ${TEST_TOKEN}` };
    for (const [path, headers] of [
      ['/customers?q=%00', asViewer],
      ['/runs?customer=%00', asViewer],
      ['/customers?q=a%00b', asViewer],
      ['/api/customers?q=%00', asApi],
      ['/api/customers?email=x%00%40example.com', asApi],
      ['/api/runs?workflow=%00', asApi],
    ] as const) {
      const response = await fetch(`${app.url}${path}`, { headers, redirect: 'manual' });
      expect([path, response.status]).toEqual([path, 400]);
      expect((await response.json()).error.message).toMatch(/cannot be searched: (a NUL character|an unpaired)/);
    }
    // An ordinary search still works.
    expect((await fetch(`${app.url}/api/customers?q=ana`, { headers: asApi })).status).toBe(200);
  });
});
