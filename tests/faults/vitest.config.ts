import { defineConfig } from 'vitest/config';

/**
 * The fault suite (`npm run test:faults`): each scenario starts its own PostgreSQL, Redis, SMTP server and crmflow
 * processes and kills some of them, so the scenarios run one at a time and take minutes, not seconds.
 */
export default defineConfig({
  test: {
    include: ['tests/faults/**/*.test.ts'],
    testTimeout: 240_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
});
