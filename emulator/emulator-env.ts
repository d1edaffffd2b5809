// The settings that point the app at an emulator (identity and Graph), as environment variables:
// the same names a real deployment uses, so the product runs its real credential and Graph paths.
import type { Env } from '../src/settings';

export interface EmulatorEndpoints {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  authorityHost: string;
  graphBaseUrl: string;
}

export function emulatorEnv(emulator: EmulatorEndpoints): Env {
  return {
    AZURE_TENANT_ID: emulator.tenantId,
    AZURE_CLIENT_ID: emulator.clientId,
    AZURE_CLIENT_SECRET: emulator.clientSecret,
    AZURE_AUTHORITY_HOST: emulator.authorityHost,
    GRAPH_BASE_URL: emulator.graphBaseUrl,
  };
}
