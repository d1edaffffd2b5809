// Runs the `teams-export` command as a user does: a separate Node.js process, only the env vars given
// (nothing inherited from the developer's shell but PATH), its exit code and both output streams.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Emulator } from '../../emulator';
import { emulatorEnv } from '../../emulator/emulator-env';
import { TEST_HOSTED_CONTENT_ENV } from './emulator';
import type { TestStorage } from './storage';

/** The CLI as `npm run build` leaves it in this checkout. */
export const BUILT_CLI = resolve(__dirname, '../../dist/src/cli/main.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** The script to run (default BUILT_CLI), e.g. bin/teams-export.js of an installed copy. */
  script?: string;
  cwd?: string;
  /** Polled every 10 ms; SIGKILLs the process the first time it returns true. */
  killWhen?: () => boolean;
}

export function runCli(args: string[], env: Record<string, string>, opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [opts.script ?? BUILT_CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    if (opts.killWhen) {
      const poll = setInterval(() => {
        if (opts.killWhen!()) {
          clearInterval(poll);
          child.kill('SIGKILL');
        }
      }, 10);
      child.on('close', () => clearInterval(poll));
    }
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/**
 * The env vars of a CLI process that exports from `emulator` into `storage`: the emulator's settings and
 * its certificate (written to a fresh temp file, trusted through NODE_EXTRA_CA_CERTS), the test storage
 * names, and `EXPORT_START`.
 */
export async function cliEnv(emulator: Emulator, storage: TestStorage, exportStart: string): Promise<Record<string, string>> {
  const caFile = join(mkdtempSync(join(tmpdir(), 'te-cli-')), 'ca.pem');
  await emulator.writeCaCert(caFile);
  return {
    NODE_EXTRA_CA_CERTS: caFile,
    ...(emulatorEnv(emulator) as Record<string, string>),
    GRAPH_MAX_RPS: '300',
    ...TEST_HOSTED_CONTENT_ENV,
    EXPORT_STORAGE: storage.connectionString,
    EXPORT_CONTAINER: storage.container,
    EXPORT_TABLE_PREFIX: storage.tablePrefix,
    EXPORT_START: exportStart,
  };
}
