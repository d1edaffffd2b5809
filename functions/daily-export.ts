// dailyExport: the timer that records the day's run and sends its planning message; the queue worker
// then lists the tenant and fans it out as one job message per entity.
import { app, type InvocationContext, type Timer, type TimerFunctionOptions } from '@azure/functions';
import { getAppContext, invocationLogger, type GetAppContext } from '../src/app/app-context';
import { requestDailyRun } from '../src/app/plan-on-queue';
import { scheduledTimeOf } from '../src/app/start-run';

export function createDailyExportHandler(getCtx: GetAppContext) {
  return async function dailyExport(timer: Timer, context: InvocationContext): Promise<void> {
    const log = invocationLogger(context);
    try {
      const ctx = await getCtx();
      const scheduledMs = scheduledTimeOf(timer, ctx.clock.now());
      const started = await requestDailyRun(ctx, scheduledMs, log);
      log.info('daily run started', { ...started, isPastDue: timer.isPastDue });
    } catch (err) {
      // Rethrown so this invocation is reported failed; a repeat of this time sends the planning message again.
      log.error('daily run could not be started', { error: err instanceof Error ? err.message : String(err) });
      throw err;
    }
  };
}

export const dailyExport = createDailyExportHandler(getAppContext);

export const dailyExportOptions = {
  // NCRONTAB (UTC) from the EXPORT_SCHEDULE app setting, default '0 30 2 * * *'.
  schedule: '%EXPORT_SCHEDULE%',
  runOnStartup: false,
  // The schedule monitor keeps last/next in storage: a missed occurrence runs as past-due, with the same run id.
  useMonitor: true,
  handler: dailyExport,
} satisfies TimerFunctionOptions;

app.timer('dailyExport', dailyExportOptions);
