// Starts an in-process Graph + identity emulator for a test file and trusts its certificate.

import { ClientSecretCredential } from '@azure/identity';
import { startEmulator, trustCertificateInProcess, type Emulator, type EmulatorOptions } from '../../emulator';

/**
 * Graph allows about one hosted-content download per chat and second; the emulator enforces that by
 * default. Tests that are not about that limit lift it (and the product's own pacing, through
 * GRAPH_HOSTED_CONTENT_RPS in TEST_HOSTED_CONTENT_ENV) so a tenant with images exports in seconds.
 */
export async function startTestEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const emulator = await startEmulator({ ...opts, faults: { hostedContentRps: null, ...opts.faults } });
  trustCertificateInProcess(emulator.caCertPem);
  return emulator;
}

/** The product side of the lifted limit (see startTestEmulator); file downloads unpaced too (content-streaming tests the pacing). */
export const TEST_HOSTED_CONTENT_ENV = { GRAPH_HOSTED_CONTENT_RPS: '1000', GRAPH_FILE_DOWNLOAD_RPS: '1000' } as const;

/** A Graph access token from the emulator's identity endpoint, as the product's credential gets one. */
export async function emulatorToken(emulator: Emulator): Promise<string> {
  const cred = new ClientSecretCredential(emulator.tenantId, emulator.clientId, emulator.clientSecret, {
    authorityHost: emulator.authorityHost,
    disableInstanceDiscovery: true,
  });
  return (await cred.getToken(`${emulator.origin}/.default`)).token;
}
