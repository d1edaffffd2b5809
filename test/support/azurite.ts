// Azurite for tests: the same starter the CLI demo uses (emulator/azurite-process.ts).
export { startAzurite, azuriteConnectionString, AZURITE_ACCOUNT_NAME, AZURITE_ACCOUNT_KEY } from '../../emulator/azurite-process';
export type { AzuriteProcess, StartAzuriteOptions } from '../../emulator/azurite-process';
