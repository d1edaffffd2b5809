// The owner of every state a crash can leave behind (docs/design.md §16): a timer sweeps, every 15
// minutes, the runs of the last days that have not finished and the productions still queued or
// running, and finishes what nobody else will:
// - a run still 'planning' whose planning message is overdue (it was never sent, or it was lost) gets
//   it again; one that has not got past planning in a day fails, with why;
// - a run whose jobs have all ended is closed (its last worker died before closing it), follow-ups
//   that were claimed but never all sent are sent, and a run finished in the last day gets its run.json
//   if its closer died before writing it;
// - a run still open a week after it started fails, naming how many jobs never ended;
// - a CLI run whose process died (its run lock is free) fails, saying so (export/abandoned-runs.ts);
// - a production whose worker stopped fails with why; one whose message was never sent gets it;
// - a batch whose content message was lost (or poisoned) gets it again (app/content-queue.ts).
import { ABANDONED_RUN_ERROR, isAbandoned } from '../export/abandoned-runs';
import { ensureRunManifest, failRun } from '../export/run-close';
import type { Logger } from '../log';
import type { RunRecord } from '../state/run-store';
import { DAY, MINUTE } from '../time';
import type { AppContext } from './app-context';
import { sendPlan } from './plan-on-queue';
import { sweepProductions } from './productions';
import { finishIfComplete } from './queue-job-handler';
import { resendUnsentCovers } from './sender-cover-queue';
import { resendOverdueContent } from './content-queue';

/** A planning message this long overdue is taken as lost and sent again (planning is idempotent). */
export const PLAN_OVERDUE_MS = 15 * MINUTE;
/** A run that has not got past planning in this long fails (its planning keeps failing or never runs). */
export const PLANNING_GIVE_UP_MS = DAY;
/** Follow-ups claimed this long ago and still not all sent: their claimer died; they are sent again. */
export const COVER_UNSENT_MS = 15 * MINUTE;
/** A run still open this long after it started fails: some job's messages were lost for good. */
export const RUN_GIVE_UP_MS = 7 * DAY;
/** A production still queued this long after it was requested lost its message. */
export const PRODUCTION_QUEUED_MS = 15 * MINUTE;

export interface SweepReport {
  runsLooked: number;
  plansResent: number;
  runsClosed: number;
  coversResent: number;
  runsFailed: number;
  productionsFailed: number;
  productionsResent: number;
  contentResent: number;
}

export async function sweepStuck(ctx: AppContext, log: Logger): Promise<SweepReport> {
  const now = ctx.clock.now();
  const report: SweepReport = {
    runsLooked: 0,
    plansResent: 0,
    runsClosed: 0,
    coversResent: 0,
    runsFailed: 0,
    productionsFailed: 0,
    productionsResent: 0,
    contentResent: 0,
  };
  // Runs older than the give-up age have been failed by an earlier sweep: only the last days are read.
  const runs = await ctx.deps.runs.listRuns({ startedSinceMs: now - RUN_GIVE_UP_MS - DAY });
  for (const run of runs) {
    if (run.finishedAtMs !== undefined) {
      // A closer that died between its close and run.json: whoever redelivers its message writes it;
      // the sweep's own close has no message, so the last day's finished runs are checked here.
      if (now - run.finishedAtMs < DAY) await ensureRunManifest(ctx.deps, run, log).catch(() => undefined);
      continue;
    }
    report.runsLooked++;
    try {
      await sweepRun(ctx, run, now, log, report);
    } catch (err) {
      // One run's trouble must not stop the sweep of the others.
      log.error('sweep: run not swept', { runId: run.runId, error: err instanceof Error ? err.message : String(err) });
    }
  }
  const productions = await sweepProductions(ctx, log, { queuedGraceMs: PRODUCTION_QUEUED_MS, sinceMs: now - RUN_GIVE_UP_MS });
  report.productionsFailed = productions.failed;
  report.productionsResent = productions.resent;
  report.contentResent = await resendOverdueContent(ctx, log).catch((err: unknown) => {
    log.error('sweep: content backlog not swept', { error: err instanceof Error ? err.message : String(err) });
    return 0;
  });
  log.info('sweep finished', { ...report });
  return report;
}

async function sweepRun(ctx: AppContext, run: RunRecord, now: number, log: Logger, report: SweepReport): Promise<void> {
  const nowFn = () => ctx.clock.now();
  if (run.status === 'planning') {
    if (now - run.startedAtMs > PLANNING_GIVE_UP_MS) {
      const error = `planning never completed within a day${run.error ? ` (last error: ${run.error})` : ''}`;
      if (await failRun(ctx.deps, run.runId, error, nowFn, log)) report.runsFailed++;
      return;
    }
    if (now - (run.planDueAtMs ?? run.startedAtMs) > PLAN_OVERDUE_MS) {
      log.warn('sweep: planning message overdue; sent again', { runId: run.runId });
      await sendPlan(ctx, run);
      report.plansResent++;
    }
    return;
  }
  if (run.inProcess) {
    // A CLI run (the CLI and the app may share the tables) is closed by its own process, which also
    // plans it and runs its follow-ups: never here while that process lives (a run still planning has
    // no jobs and would look complete). One whose process died fails: its follow-ups may not have run.
    if (await isAbandoned(ctx.deps, run, now)) {
      if (await failRun(ctx.deps, run.runId, ABANDONED_RUN_ERROR, nowFn, log)) report.runsFailed++;
    }
    return;
  }
  const status = await finishIfComplete(ctx, run.runId, log);
  if (status !== undefined) {
    report.runsClosed++;
    return;
  }
  const after = await ctx.deps.runs.getRun(run.runId);
  if (!after || after.finishedAtMs !== undefined) return;
  if (after.coverPlanned !== undefined && !after.coverSent && now - (after.coverClaimedAtMs ?? after.startedAtMs) > COVER_UNSENT_MS) {
    if (await resendUnsentCovers(ctx, run.runId, log)) report.coversResent++;
  }
  if (now - after.startedAtMs > RUN_GIVE_UP_MS) {
    const { finished } = await ctx.deps.runs.counters(after);
    const ended = (finished?.done ?? 0) + (finished?.skipped ?? 0) + (finished?.failed ?? 0);
    const error = `the run was still open ${Math.round(RUN_GIVE_UP_MS / DAY)} days after it started: ${Math.max(0, after.planned - ended)} of ${after.planned} jobs never ended`;
    if (await failRun(ctx.deps, run.runId, error, nowFn, log)) report.runsFailed++;
    // A job that does end later finds the run finished and leaves it so (export/run-close.ts).
  }
}
