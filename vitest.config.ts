import { defineConfig } from 'vitest/config';

// Azurite is started once for the whole run (test/support/global-setup.ts); each test owns its own
// container and table names. Graph emulators are started per test file, in-process, on random ports.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'emulator/test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
