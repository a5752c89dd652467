import { defineConfig } from 'vitest/config';

// Tests run against each package's source (the `@regime-zoo/source` export condition), so no build is
// needed first; `pool: 'forks'` because tfjs-node's native addon belongs to one thread per process.
const conditions = ['@regime-zoo/source'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    pool: 'forks',
    testTimeout: 180_000,
    projects: [
      { extends: true, test: { name: 'packages', include: ['packages/*/src/**/*.test.ts'] } },
      { extends: true, test: { name: 'examples', include: ['examples/*/src/**/*.test.ts'], passWithNoTests: true } },
    ],
  },
});
