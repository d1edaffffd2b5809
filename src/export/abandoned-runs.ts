// The owner of a run whose process died (docs/design.md §16): an in-process run (the CLI, the demo)
// holds its run lock leased for as long as its process runs, so a run still open whose lock is free
// was left by a process that was killed or crashed. Nobody else would ever close it: the next
// in-process run, and the Functions sweep, fail it with why (its checkpoints are as its jobs left
// them; the next run goes on from them), and write its run.json.
import { EntityLease, lockLeased } from '../archive/entity-lease';
import { runLockName } from '../archive/blob-layout';
import type { Logger } from '../log';
import type { RunRecord } from '../state/run-store';
import { DAY, MINUTE } from '../time';
import { failRun } from './run-close';
import type { RunLifecycleDeps } from './run-lifecycle';

/** A run this young may not have taken its lock yet (it is taken right after the run row is written). */
export const ABANDON_GRACE_MS = MINUTE;
/** Older open runs are failed by the sweep's own give-up age, or were already: not looked at. */
const LOOK_BACK_MS = 8 * DAY;

export const ABANDONED_RUN_ERROR =
  'the process running it stopped before the run finished (killed or crashed); nothing archived is lost, and the next run goes on from the checkpoints its jobs left';

type Deps = Pick<RunLifecycleDeps, 'runs' | 'container' | 'selection' | 'chatMode' | 'content'>;

/** Takes the run's lock for as long as `run` runs in this process: other processes see it alive. */
export async function holdRunLock<T>(deps: Pick<Deps, 'container'>, runId: string, run: () => Promise<T>): Promise<T> {
  const lock = await EntityLease.acquireLock(deps.container, runLockName(runId));
  if (!lock) throw new Error(`run ${runId} is held by another process`);
  try {
    return await run();
  } finally {
    await lock.release().catch(() => undefined);
  }
}

/**
 * Whether an in-process run's process is gone: its lock is not leased (released or expired with the
 * run still open), or was never taken and the run is past the grace in which it would have been.
 */
export async function isAbandoned(deps: Pick<Deps, 'container'>, run: RunRecord, nowMs: number): Promise<boolean> {
  if (!run.inProcess || run.finishedAtMs !== undefined) return false;
  const leased = await lockLeased(deps.container, runLockName(run.runId));
  return leased === undefined ? nowMs - run.startedAtMs >= ABANDON_GRACE_MS : !leased;
}

/** Fails every recent in-process run whose process is gone; returns how many. */
export async function failAbandonedRuns(deps: Deps, nowMs: number, now: () => number, log: Logger): Promise<number> {
  let failed = 0;
  for (const run of await deps.runs.listRuns({ startedSinceMs: nowMs - LOOK_BACK_MS })) {
    if (!(await isAbandoned(deps, run, nowMs))) continue;
    if (await failRun(deps, run.runId, ABANDONED_RUN_ERROR, now, log)) failed++;
  }
  return failed;
}
