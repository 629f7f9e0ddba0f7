import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/chaos/**/*.test.ts'],
    // Two cores: two workers keep the loopback server and the client from starving each other.
    maxWorkers: 2,
    testTimeout: 30_000,
    // No test may reach a cloud's metadata address (169.254.169.254) by accident when a credential
    // chain finds nothing: tests that exercise those flows point them at loopback fakes.
    env: { AWS_EC2_METADATA_DISABLED: 'true', GCE_METADATA_HOST: '127.0.0.1:9' },
    hookTimeout: 30_000,
    // CI also writes a JSON report, from which .ci/run prints the plain "N passed, N failed" line.
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: { json: 'test-results/vitest.json' },
  },
});
