// Sender mode's follow-up on the queue (docs/design.md §15): when every user job of a sender-mode run
// has ended and some were skipped or failed, the run is not closed: the close decision claims the
// follow-ups instead (export/run-close.ts, one ETag-conditional write of the run row), and the worker
// that claimed them sends one 'cover' message per user whose job succeeded, asking that user's chats,
// over the windows its job read, for the messages of those members. Each runs under the user's lease,
// within the job budget (continuing in a new message when it runs out, from its recorded progress), is
// counted (the counter rows' coverFinished), and the last one closes the run. The request is the one
// the single-process run builds (export/sender-cover.ts).
import { contentStageOf } from './content-queue';
import { EntityLease, LeaseLostError } from '../archive/entity-lease';
import { readOtherSenders } from '../archive/run-files';
import { exportEntity } from '../export/export-entity';
import { countsFromManifests } from '../export/job-counts';
import type { CoverDecision } from '../export/run-close';
import { recordCoverFailure } from '../export/run-lifecycle';
import { coverPlan, coverRequest, type CoverReader } from '../export/sender-cover';
import { storeOpenRead, loadOpenRead } from '../export/open-read';
import type { Logger } from '../log';
import { entityLabel } from '../model/entity';
import { emptyCounts, type JobCounts, type JobError, type JobMode } from '../model/job';
import type { JobRecord } from '../state/run-store';
import { backoffDelaySec, type AppContext } from './app-context';
import { MAX_COVER_SENDERS, type CoverMessage } from './job-message';

export type CoverOutcome = 'done' | 'failed' | 'retry' | 'busy' | 'duplicate' | 'continued';

/** What a claimed follow-up set is: the members to cover and who reads them. */
interface CoverSet {
  missing: string[];
  readers: CoverReader[];
}

/**
 * The close decision's question for a sender-mode run (export/run-close.ts): given its final user job
 * rows, does it need follow-ups first? More members than one message carries fails the run loudly
 * rather than closing it with their messages missing.
 */
export async function coverDecision(ctx: AppContext, runId: string, userJobs: readonly JobRecord[]): Promise<CoverDecision> {
  const { missing, readers } = coverPlan(userJobs, new Set(await readOtherSenders(ctx.deps.container, runId)));
  if (missing.length === 0 || readers.length === 0) return { kind: 'none' };
  if (missing.length > MAX_COVER_SENDERS) {
    return {
      kind: 'fail',
      error: `sender mode: ${missing.length} members without a successful job is more than the ${MAX_COVER_SENDERS} one follow-up can cover`,
    };
  }
  const set: CoverSet = { missing, readers };
  return { kind: 'cover', readers: readers.length, plan: set };
}

/** Sends the follow-ups this worker claimed, then marks them all sent (so nobody sends them again). */
export async function sendCovers(ctx: AppContext, runId: string, plan: unknown, log: Logger): Promise<void> {
  const { missing, readers } = plan as CoverSet;
  log.info('sender mode: covering members without a successful job', { runId, members: missing.length, readers: readers.length });
  for (const r of readers) {
    await ctx.queue.send({ type: 'cover', runId, entity: r.entity, window: r.readSpan, senderIds: missing, attempt: 1 });
  }
  await ctx.deps.runs.updateRun(runId, { coverSent: true });
}

/**
 * A claimed follow-up set whose sending was never confirmed (its claimer died between the claim and its
 * last send): sends it again to every reader whose follow-up is not counted yet. One still on the queue
 * or running is not harmed by a second message: it runs under the same lease, and the second finds the
 * row covered and ends as a duplicate.
 */
export async function resendUnsentCovers(ctx: AppContext, runId: string, log: Logger): Promise<boolean> {
  const run = await ctx.deps.runs.getRun(runId);
  if (!run || run.finishedAtMs !== undefined || run.coverPlanned === undefined || run.coverSent) return false;
  const jobs: JobRecord[] = [];
  for await (const job of ctx.deps.runs.listJobs(runId)) if (job.entity.kind === 'user') jobs.push(job);
  // The claim was made over the rows as they were: a reader whose follow-up failed (row failed, and
  // covered) was done then, and its members were no less missing.
  const asClaimed = jobs.map((j) => (j.covered ? { ...j, status: 'done' as const } : j));
  const { missing, readers } = coverPlan(asClaimed, new Set(await readOtherSenders(ctx.deps.container, runId)));
  const pending = readers.filter((r) => !jobs.some((j) => j.covered && j.entity.id === r.entity.id));
  for (const r of pending) {
    await ctx.queue.send({ type: 'cover', runId, entity: r.entity, window: r.readSpan, senderIds: missing, attempt: 1 });
  }
  await ctx.deps.runs.updateRun(runId, { coverSent: true });
  log.warn('sender mode: follow-ups sent again (their claimer stopped before sending them all)', { runId, readers: pending.length });
  return true;
}

/**
 * Runs one follow-up under the user's lease, within the job budget: when the budget runs out it records
 * where it stands and sends itself again. A retryable failure comes back with backoff; a final failure
 * marks the user's job failed (so the run fails). The caller then tries to close the run.
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
    const recorded = await ctx.progress.get(runId, entity, { cover: true });
    const read = loadOpenRead(recorded?.readState);
    const result = await exportEntity(
      {
        ...coverRequest(runId, { entity, readSpan: msg.window }, msg.senderIds),
        ...(recorded?.fromMs !== undefined || read
          ? { resume: { ...(recorded?.fromMs !== undefined ? { fromMs: recorded.fromMs } : {}), ...(read ? { read } : {}) } }
          : {}),
        budget: { budgetMs: deps.settings.jobBudgetMs, now: () => ctx.clock.now() },
        onChunkCommitted: async (progress) => {
          lease.assertHeld();
          await ctx.progress.put(
            runId,
            entity,
            {
              ...(progress.fromMs !== undefined ? { fromMs: progress.fromMs } : {}),
              ...(progress.read ? { readState: storeOpenRead(progress.read) } : {}),
            },
            { cover: true },
          );
        },
      },
      { ...deps, container: lease.fence(deps.container), log: clog, ...contentStageOf(ctx) },
      stop,
    );
    // A lost lease: another worker may hold the user now. Nothing more is written here; the message
    // comes back and whoever holds the lease then decides (docs/design.md §16).
    if (lease.lost || result.error?.code === 'LeaseLostError') {
      await queue.send(msg, { delaySec: policy.busyDelaySec });
      clog.warn('lease lost; follow-up re-enqueued');
      return 'busy';
    }
    if (result.continueAt) {
      await queue.send(msg);
      clog.info('follow-up continues in a new invocation');
      return 'continued';
    }
    if (result.status === 'failed' && result.error?.retryable && attempt < policy.maxAttempts) {
      const delaySec = backoffDelaySec(attempt, policy);
      await queue.send({ ...msg, attempt: attempt + 1 }, { delaySec });
      clog.warn('follow-up failed; retrying later', { delaySec, code: result.error.code, status: result.error.status });
      return 'retry';
    }
    lease.assertHeld();
    if (result.status !== 'done') await failCoveredJob(ctx, msg, result, clog);
    // What every execution of the follow-up archived, from its manifests: one that died wrote some too.
    const covered = await countsFromManifests(deps.container, runId, entity, { cover: true });
    lease.assertHeld();
    await deps.runs.countCover(row, addArchived(row.counts, covered));
    return result.status === 'done' ? 'done' : 'failed';
  } catch (err) {
    if (err instanceof LeaseLostError) {
      await queue.send(msg, { delaySec: policy.busyDelaySec });
      clog.warn('lease lost; follow-up re-enqueued');
      return 'busy';
    }
    throw err;
  } finally {
    await lease.release().catch(() => undefined);
  }
}

/** The job's counts with what its follow-up archived added (the run's totals count what is archived). */
function addArchived(counts: JobCounts, covered: Pick<JobCounts, 'messages' | 'quarantined' | 'blobs' | 'bytes'>): JobCounts {
  return {
    ...counts,
    messages: counts.messages + covered.messages,
    quarantined: counts.quarantined + covered.quarantined,
    blobs: counts.blobs + covered.blobs,
    bytes: counts.bytes + covered.bytes,
  };
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
  const covered = await countsFromManifests(ctx.deps.container, msg.runId, msg.entity, { cover: true });
  await ctx.deps.runs.countCover(row, addArchived(row.counts, covered));
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
