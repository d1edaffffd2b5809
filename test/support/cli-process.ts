// Runs the compiled `teams-export` command (dist/src/cli/main.js) as a separate process, the way an
// operator does: real env vars, real exit codes. Shared by the end-to-end and security tests and the
// soak (soak/soak.ts), so it imports nothing from vitest.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Emulator } from '../../emulator';
import { emulatorEnv, type EmulatorEndpoints } from '../../emulator/emulator-env';

export interface CliResult {
  /** Exit code; null when the process ended by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliRunOptions {
  /** The script to run (default CLI_PATH), e.g. bin/teams-export.js of an installed copy. */
  script?: string;
  cwd?: string;
  /** Polled every few milliseconds; the process is SIGKILLed the first time it returns true. */
  killWhen?: () => boolean;
}

/**
 * The repository root: the nearest folder above this file holding package.json. Found by walking up
 * because this file also runs from the soak's own build folder.
 */
function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

/** The CLI entry point of the product build (`npm run build`). */
export const CLI_PATH = join(repoRoot(), 'dist', 'src', 'cli', 'main.js');

/**
 * Runs `teams-export ...args` with exactly `env` (plus PATH): no settings leak in from the developer's
 * shell. Resolves when the process has exited, with everything it printed.
 */
export function runCli(args: string[], env: Record<string, string>, opts: CliRunOptions = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [opts.script ?? CLI_PATH, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    let poll: NodeJS.Timeout | undefined;
    if (opts.killWhen) {
      const killWhen = opts.killWhen;
      poll = setInterval(() => {
        if (killWhen()) {
          clearInterval(poll);
          child.kill('SIGKILL');
        }
      }, 5);
    }
    child.on('error', (err) => {
      clearInterval(poll);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearInterval(poll);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

/**
 * Writes the emulator's CA certificate to a fresh temporary file, for NODE_EXTRA_CA_CERTS: a CLI
 * process trusts the emulator's HTTPS only through that variable.
 */
export async function emulatorCaFile(emulator: Pick<Emulator, 'writeCaCert'>): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'te-ca-')), 'ca.pem');
  await emulator.writeCaCert(file);
  return file;
}

/** Where a CLI process keeps its archive and state (a test's or the soak's own names on Azurite). */
export interface CliStorage {
  connectionString: string;
  container: string;
  tablePrefix: string;
}

/**
 * The settings of a CLI process against the emulator and `storage`, plus `extra`. A child process
 * trusts the emulator's certificate only through NODE_EXTRA_CA_CERTS (see emulatorCaFile).
 */
export function cliEnv(emulator: EmulatorEndpoints, storage: CliStorage, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...(emulatorEnv(emulator) as Record<string, string>),
    GRAPH_MAX_RPS: '300',
    EXPORT_STORAGE: storage.connectionString,
    EXPORT_CONTAINER: storage.container,
    EXPORT_TABLE_PREFIX: storage.tablePrefix,
    ...extra,
  };
}
