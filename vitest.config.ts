import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    setupFiles: ['test/helpers/worker-env.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration suites share one redis-server and one cluster; each uses its own random shard
    // names, so files may run in parallel on the two cores.
    fileParallelism: true,
    // CI also keeps a machine-readable result, from which .ci/run prints its closing line.
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: { json: '.cache/test-results.json' },
  },
});
