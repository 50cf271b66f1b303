import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Marks the run and, after it, fails it if any process it started is still running.
    globalSetup: ['test/support/global-setup.ts'],
  },
})
