// sweepStuck: every 15 minutes, finishes what a crash left behind (docs/design.md §16): overdue
// planning messages, runs whose last worker died before closing them, follow-ups never sent, runs
// open for a week, productions whose worker stopped or whose message was lost.
import { app, type InvocationContext, type Timer, type TimerFunctionOptions } from '@azure/functions';
import { getAppContext, invocationLogger, type GetAppContext } from '../src/app/app-context';
import { sweepStuck } from '../src/app/sweep';

/** Every 15 minutes (NCRONTAB, UTC): a lost message waits at most that long for its owner. */
export const SWEEP_SCHEDULE = '0 */15 * * * *';

export function createSweepHandler(getCtx: GetAppContext) {
  return async function sweep(_timer: Timer, context: InvocationContext): Promise<void> {
    const log = invocationLogger(context);
    try {
      await sweepStuck(await getCtx(), log);
    } catch (err) {
      // Rethrown so the invocation is reported failed; the next tick sweeps again.
      log.error('sweep failed', { error: err instanceof Error ? err.message : String(err) });
      throw err;
    }
  };
}

export const sweepStuckRuns = createSweepHandler(getAppContext);

export const sweepStuckOptions = {
  schedule: SWEEP_SCHEDULE,
  runOnStartup: false,
  useMonitor: true,
  handler: sweepStuckRuns,
} satisfies TimerFunctionOptions;

app.timer('sweepStuck', sweepStuckOptions);
