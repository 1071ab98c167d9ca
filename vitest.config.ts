import { defineConfig } from 'vitest/config';

// Tests share two cores: run files in forked processes (each loads its own wasm backend), two at a time.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // In CI also write a JSON report, from which .ci/run prints the 'N passed, N failed' line.
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: process.env.CI ? { json: '.ci/results.json' } : undefined,
    // Slow tests (kill/resume, 1,000-step leak runs) run only when FSRGAN_SLOW=1 (set by .ci/run).
  },
});
