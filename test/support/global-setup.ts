// Vitest global setup: one Azurite for the whole test run; tests reach it through
// inject('storageConnectionString') (see test/support/storage.ts) and own their own names.
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { startAzurite } from './azurite';

declare module 'vitest' {
  export interface ProvidedContext {
    storageConnectionString: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Azurite alone starts in a few seconds; on a loaded machine it can take minutes: only a hang should fail here.
  const azurite = await startAzurite({ timeoutMs: 300_000 });
  project.provide('storageConnectionString', azurite.connectionString);
  return async () => {
    await azurite.stop();
  };
}
