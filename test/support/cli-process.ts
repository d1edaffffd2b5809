// Runs the `teams-export` command as a user does: a separate Node.js process, only the env vars given
// (nothing inherited from the developer's shell but PATH), its exit code and both output streams.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

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
