// glibc's malloc settings for the product's processes (docs/design.md §14).
//
// Day buffers and pages are ArrayBuffers of 64 KiB to a few MiB, taken and freed all the time. glibc maps
// a chunk of 128 KiB or more on its own, but after freeing such a chunk it raises that threshold to the
// chunk's size (up to 32 MiB), so the next buffers of that size come from the middle of its heap, which it
// does not give back while anything above them lives: the process keeps the peak of every buffer it ever
// held. A fixed threshold keeps large buffers mapped on their own and returned to the system when freed.
// In the bench's heavy profile (bench/RESULTS.md, "Peak RSS (issue 22)") it lowered peak RSS from 317-321
// to under 300 MB at the same throughput.
//
// glibc reads the setting once, when the process starts, so it has to be in the environment the process
// starts with: the Function App's app settings (infra/app/function-app.bicep) and, for the CLI, a restart
// of the process image with it (`execWithMallocEnv`). The bench starts its product processes with it.
import { isMainThread } from 'node:worker_threads';

/** The environment the product's processes start with. Other C libraries ignore it. */
export const MALLOC_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '65536' };

/** `env` with the malloc settings it lacks (a value already set, by an operator, stays). */
export function withMallocEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...MALLOC_ENV, ...env };
}

/**
 * Replaces the running process (same pid, same streams and arguments) with one started with the malloc
 * settings, when they are missing from its environment. Does nothing where that cannot work or would not
 * help: not Linux, not the main thread, a Node without `process.execve`, or the settings already set (so a
 * restarted process never restarts again). Call it before anything else runs: nothing of this process survives.
 */
export function execWithMallocEnv(proc: NodeJS.Process = process): void {
  if (proc.platform !== 'linux' || !isMainThread || typeof proc.execve !== 'function') return;
  if (Object.keys(MALLOC_ENV).every((name) => proc.env[name] !== undefined)) return;
  try {
    proc.execve(proc.execPath, [proc.execPath, ...proc.execArgv, ...proc.argv.slice(1)], withMallocEnv(proc.env) as Record<string, string>);
  } catch {
    // A sandbox refusing execve: run as it is, with glibc's default thresholds.
  }
}
