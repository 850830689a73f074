import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Files share the machine's PostgreSQL and Redis (each with its own database and queue prefix); a few at a time.
    maxWorkers: 3,
    fileParallelism: true,
  },
});
