import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Suites start their own nats-server and coordinator; two cores here, so keep forks modest.
    pool: 'forks',
    maxWorkers: 2,
  },
});
