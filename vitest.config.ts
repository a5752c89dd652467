import os from 'node:os';
import { defineConfig } from 'vitest/config';

// Tests run against each package's source (the `@regime-zoo/source` export condition), so no build is
// needed first; `pool: 'forks'` because tfjs-node's native addon belongs to one thread per process.
// At least two workers even on 2 cores: a training step is mostly single-threaded per-op overhead, so two
// test files side by side take ~60% of the time of one after the other (measured: 49 s vs 81 s).
const conditions = ['@regime-zoo/source'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    pool: 'forks',
    maxWorkers: Math.max(2, os.availableParallelism()),
    testTimeout: 180_000,
    projects: [
      { extends: true, test: { name: 'packages', include: ['packages/*/src/**/*.test.ts'] } },
      { extends: true, test: { name: 'examples', include: ['examples/*/src/**/*.test.ts'], passWithNoTests: true } },
    ],
  },
});
