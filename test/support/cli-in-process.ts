// The CLI's `main` run in this process with captured output: the exit code and everything it printed,
// for tests that need the product's real command paths without a child process.
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/main';
import type { Env } from '../../src/settings';

export async function cliInProcess(
  env: Env,
  args: string[],
  opts: { signal?: AbortSignal; onOut?: (text: string) => void } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => {
    out += String(d);
    opts.onOut?.(out);
  });
  stderr.on('data', (d) => (err += String(d)));
  const code = await main(args, {
    env,
    stdout,
    stderr: stderr as unknown as NodeJS.WriteStream,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  return { code, stdout: out, stderr: err };
}
