// Two test groups: `unit` (crypto, protocol roles in memory, nodes over real gRPC on
// loopback, adversarial cases) and `containers` (docker images, compose faults). The
// container group skips itself with one clear line when no Docker engine is reachable.
// The unit group runs two files at a time even on two cores (vitest's default there is one):
// most files spend part of their time waiting on child processes, sockets or timers, and no
// test depends on running alone (none has a timing threshold; deadlines are generous).
import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['shared/src/**/*.test.ts', 'services/*/src/**/*.test.ts', 'cli/src/**/*.test.ts', 'test/unit/**/*.test.ts', 'test/privacy/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          pool: 'forks',
          maxWorkers: Math.max(2, availableParallelism() - 1),
        },
      },
      {
        test: {
          name: 'containers',
          include: ['test/containers/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 900_000,
          pool: 'forks',
          fileParallelism: false,
        },
      },
    ],
  },
});
