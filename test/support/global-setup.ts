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
  const azurite = await startAzurite();
  project.provide('storageConnectionString', azurite.connectionString);
  return async () => {
    await azurite.stop();
  };
}
