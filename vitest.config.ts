import { defineConfig } from 'vitest/config';

/**
 * Two projects:
 * - unit: fast tests with fakes at the boundaries, run in parallel.
 * - lab: integration (`*.itg.test.ts`), end-to-end and chaos tests on the real lab
 *   (Docker engines, registry, sshd, OpenVPN). They share one lab, so files run one at a
 *   time, with long timeouts. `npm test` brings the lab up before and down after.
 */
export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts', 'lab/test/**/*.test.ts', 'action-*/test/**/*.test.ts', 'app/test/**/*.test.ts', 'test/unit/**/*.test.ts', 'scripts/test/**/*.test.ts'],
          exclude: ['**/*.itg.test.ts', '**/node_modules/**', '**/dist/**'],
          testTimeout: 30_000,
          setupFiles: ['test/setup/secret-sweep.ts'],
        },
      },
      {
        test: {
          name: 'lab',
          include: ['**/*.itg.test.ts', 'test/e2e/**/*.test.ts', 'test/chaos/**/*.test.ts'],
          exclude: ['**/node_modules/**', '**/dist/**'],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 300_000,
          setupFiles: ['test/setup/secret-sweep.ts'],
        },
      },
    ],
  },
});
