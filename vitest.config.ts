import { defineConfig } from 'vitest/config';

// Azurite is started once for the whole run (test/support/global-setup.ts); each test owns its own
// container and table names. Graph emulators are started per test file, in-process, on random ports.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'emulator/test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Refuses (and reports) any connection that is not to loopback.
    setupFiles: ['test/support/loopback-only.ts'],
    // Only a hang should hit these: a scenario that takes 30 s alone can take several times that on a
    // busy 2-core machine. Speed is measured by the bench, never by a test.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
