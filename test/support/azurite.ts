// Azurite for tests: the same starter the CLI demo uses (src/azurite-process.ts).
export { startAzurite, azuriteConnectionString, AZURITE_ACCOUNT_NAME, AZURITE_ACCOUNT_KEY } from '../../src/azurite-process';
export type { AzuriteProcess, StartAzuriteOptions } from '../../src/azurite-process';
