// Sender mode's follow-up on the queue (docs/design.md §15): when the last user job of a sender-mode
// run is counted and some user jobs were skipped or failed, the run is not closed yet. One 'cover'
// message per user whose job succeeded asks that user's chats, over the windows its job read, for the
// messages of those members; each runs under the user's lease and is counted (the run row's
// coverPlanned, the counter rows' coverFinished), and the last one closes the run. The request is the one the
// single-process run builds (export/sender-cover.ts).
import { EntityLease } from '../archive/entity-lease';
import { readOtherSenders } from '../archive/run-files';
import { exportEntity } from '../export/export-entity';
import { recordCoverFailure } from '../export/run-lifecycle';
import { coverPlan, coverRequest } from '../export/sender-cover';
import type { Logger } from '../log';
import { entityLabel } from '../model/entity';
import { emptyCounts, type JobCounts, type JobError, type JobMode } from '../model/job';
import { finishedTotal, type JobRecord } from '../state/run-store';
import { backoffDelaySec, type AppContext } from './app-context';
import { MAX_COVER_SENDERS, type CoverMessage } from './job-message';

export type CoverOutcome = 'done' | 'failed' | 'retry' | 'busy' | 'duplicate';

/**
 * Called by the worker that may close the run: sends the run's follow-ups if it needs them and they
 * are not sent yet. True when the run waits for follow-ups (sent now or earlier), so it must not close.
 */
export async function startSenderCover(
  ctx: AppContext,
  runId: string,
  log: Logger,
  opts: { redelivered?: boolean } = {},
): Promise<boolean> {
  const { runs } = ctx.deps;
  const run = await runs.getRun(runId);
  if (!run || run.finishedAtMs !== undefined || run.planned === 0) return false;
  // Claimed already: finishRun waits for the follow-ups' counters. A redelivered finished job may be
  // the one whose worker claimed them and died before sending them all: send the missing ones again.
  if (run.coverPlanned !== undefined) {
    if (opts.redelivered && (await runs.counters(run)).coverFinished < run.coverPlanned) await resendCovers(ctx, runId, log);
    return false;
  }
  const finished = await runs.finishedJobs(run);
  if (finished && finishedTotal(finished) < run.planned) return false;
  const jobs: JobRecord[] = [];
  for await (const job of runs.listJobs(runId)) jobs.push(job);
  if (jobs.length < run.planned || jobs.some((j) => j.status === 'queued' || j.status === 'running')) return false;
  const { missing, readers } = coverPlan(jobs, new Set(await readOtherSenders(ctx.deps.container, runId)));
  if (missing.length === 0 || readers.length === 0) return false;
  if (missing.length > MAX_COVER_SENDERS) {
    // Too many for one message: fail loudly rather than close the run with their messages missing.
    const error = `sender mode: ${missing.length} members without a successful job is more than the ${MAX_COVER_SENDERS} one follow-up can cover`;
    await runs.updateRun(runId, { status: 'failed', error });
    log.error('run failed', { runId, error });
    return false;
  }
  // Claimed before sending, so two workers closing the run at once send one set of follow-ups.
  if (!(await runs.claimCover(runId, readers.length))) return true;
  log.info('sender mode: covering members without a successful job', { runId, members: missing.length, readers: readers.length });
  for (const r of readers) {
    await ctx.queue.send({ type: 'cover', runId, entity: r.entity, window: r.readSpan, senderIds: missing, attempt: 1 });
  }
  return true;
}

/**
 * Sends the follow-ups of a claimed run again to every reader whose follow-up is not counted yet (its
 * row not `covered`). A claimer that died between the claim and its last send left the run waiting
 * for follow-ups never sent; one still on the queue or running is not harmed by a second message: it
 * runs under the same lease, and the second finds the row covered and ends as a duplicate.
 */
async function resendCovers(ctx: AppContext, runId: string, log: Logger): Promise<void> {
  const jobs: JobRecord[] = [];
  for await (const job of ctx.deps.runs.listJobs(runId)) jobs.push(job);
  // The claim was made over the rows as they were: a reader whose follow-up failed (row failed, and
  // covered) was done then, and its members were no less missing.
  const asClaimed = jobs.map((j) => (j.covered ? { ...j, status: 'done' as const } : j));
  const { missing, readers } = coverPlan(asClaimed, new Set(await readOtherSenders(ctx.deps.container, runId)));
  const pending = readers.filter((r) => !jobs.some((j) => j.covered && j.entity.kind === r.entity.kind && j.entity.id === r.entity.id));
  for (const r of pending) {
    await ctx.queue.send({ type: 'cover', runId, entity: r.entity, window: r.readSpan, senderIds: missing, attempt: 1 });
  }
  log.warn('sender mode: follow-ups sent again after a redelivery', { runId, readers: pending.length });
}

/**
 * Runs one follow-up under the user's lease. A retryable failure comes back with backoff; a final
 * failure marks the user's job failed (so the run fails). The caller then tries to close the run.
 */
export async function runCoverMessage(ctx: AppContext, msg: CoverMessage, log: Logger, signal?: AbortSignal): Promise<CoverOutcome> {
  const { deps, queue, policy } = ctx;
  const { runId, entity, attempt } = msg;
  const clog = log.child({ runId, entity: entityLabel(entity), attempt, cover: true });
  const lease = await EntityLease.acquire(deps.container, entity, signal ? { signal } : {});
  if (!lease) {
    await queue.send(msg, { delaySec: policy.busyDelaySec });
    clog.info('entity busy; follow-up re-enqueued', { delaySec: policy.busyDelaySec });
    return 'busy';
  }
  try {
    const row = await deps.runs.getJob(runId, entity);
    if (!row || row.covered) {
      clog.info('follow-up already counted (or its job is gone)');
      return 'duplicate';
    }
    const stop = AbortSignal.any([lease.lostSignal, ...(signal ? [signal] : [])]);
    const result = await exportEntity(
      coverRequest(runId, { entity, readSpan: msg.window }, msg.senderIds),
      { ...deps, container: lease.fence(deps.container), log: clog },
      stop,
    );
    if (result.status === 'failed' && result.error?.retryable && attempt < policy.maxAttempts) {
      const delaySec = backoffDelaySec(attempt, policy);
      await queue.send({ ...msg, attempt: attempt + 1 }, { delaySec });
      clog.warn('follow-up failed; retrying later', { delaySec, code: result.error.code, status: result.error.status });
      return 'retry';
    }
    if (result.status !== 'done') await failCoveredJob(ctx, msg, result, clog);
    await deps.runs.countCover(row);
    return result.status === 'done' ? 'done' : 'failed';
  } finally {
    await lease.release().catch(() => undefined);
  }
}

/** A follow-up the host gave up on (poison queue): its user's job fails, and the follow-up is counted. */
export async function failPoisonedCover(ctx: AppContext, msg: CoverMessage, log: Logger): Promise<void> {
  const row = await ctx.deps.runs.getJob(msg.runId, msg.entity);
  if (!row || row.covered) return;
  const error: JobError = {
    code: 'PoisonMessage',
    message: 'the follow-up message failed every delivery the host allows',
    retryable: false,
  };
  await failCoveredJob(ctx, msg, { error, counts: emptyCounts() }, log);
  await ctx.deps.runs.countCover(row);
}

/** The user's job row turns failed, as in the single-process run (run-lifecycle.ts recordCoverFailure). */
async function failCoveredJob(
  ctx: AppContext,
  msg: CoverMessage,
  cause: { error?: JobError | undefined; counts: JobCounts },
  log: Logger,
): Promise<void> {
  // Only the kind of the run's mode matters here: a daily run records the outcome on the checkpoint.
  const daily = (await ctx.deps.runs.getRun(msg.runId))?.kind === 'daily';
  const mode: JobMode = daily ? { kind: 'daily', nowMs: msg.window.toMs } : { kind: 'backfill', window: msg.window };
  await recordCoverFailure(ctx.deps, mode, msg.runId, msg.entity, cause, ctx.clock.now(), log);
}
