import { afterAll, beforeAll } from 'vitest';
import type { Crmflow } from '../../src/runtime.js';
import { post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './crmflow.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { formHeaders } from './sign.js';

/** The `connectors:` block of a test workflows.yaml with the form connector (its secret from the test environment). */
export const FORM_CONNECTOR = `
connectors:
  form:
    secrets:
      webhook_secret: \${FORM_WEBHOOK_SECRET}
`;

/** A crmflow (API, worker, scheduler) on a fresh database for the test file, started before its tests, closed after. */
export function useCrmflow(config: string, extra: Record<string, string> = {}): { db: TestDatabase; app: Crmflow } {
  const context = {} as { db: TestDatabase; app: Crmflow };
  beforeAll(async () => {
    context.db = await createTestDatabase();
    context.app = await startTestCrmflow(
      testEnv({ databaseUrl: context.db.url, configPath: writeConfig(config), prefix: testPrefix(), extra }),
    );
  });
  afterAll(async () => {
    await context.app?.close();
    await context.db?.drop();
  });
  return context;
}

/** Posts a signed website lead to /webhooks/form. */
export function submitLead(app: Crmflow, lead: Record<string, unknown>) {
  const body = JSON.stringify(lead);
  return post(app, '/webhooks/form', body, formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET));
}
