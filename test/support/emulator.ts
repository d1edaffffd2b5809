// Starts an in-process Graph + identity emulator for a test file and trusts its certificate.

import { startEmulator, trustCertificateInProcess, type Emulator, type EmulatorOptions } from '../../src/emulator';

export async function startTestEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const emulator = await startEmulator(opts);
  trustCertificateInProcess(emulator.caCertPem);
  return emulator;
}
