import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // The fault suite kills its own servers and takes minutes: `npm run test:faults` runs it.
    exclude: [...configDefaults.exclude, 'tests/faults/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Files share the machine's PostgreSQL and Redis (each with its own database and queue prefix); a few at a time.
    maxWorkers: 3,
    fileParallelism: true,
  },
});
