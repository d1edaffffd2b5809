// Runs one job message from the jobs queue (the worker) and settles messages that ended on the poison
// queue. Transient failures come back later through a re-enqueue with a growing delay, not through the
// host's fast redelivery; duplicates and stale deliveries are recognised from the job row. Recording
// a result and finishing the run are export/run-lifecycle.ts's, as for the single-process run.
import { contentStageOf } from './content-queue';
import { EntityLease, LeaseLostError } from '../archive/entity-lease';
import { readOtherSenders } from '../archive/run-files';
import { exportEntity } from '../export/export-entity';
import { joinSpans } from '../export/sender-cover';
import { recordJobResult, refusedJobError } from '../export/run-lifecycle';
import { closeRunIfComplete } from '../export/run-close';
import { countsFromManifests } from '../export/job-counts';
import { addCounts, emptyCounts, type JobCounts, type JobError, type JobStatus } from '../model/job';
import type { Window } from '../model/window';
import { entityLabel, type Entity } from '../model/entity';
import { errorText } from '../model/errors';
import type { Logger } from '../log';
import type { JobRecord, RunStatus } from '../state/run-store';
import { backoffDelaySec, type AppContext } from './app-context';
import { continueJob, resumeOptions } from './continuation';
import { coverDecision, resendUnsentCovers, sendCovers } from './sender-cover-queue';
import { decodeJobMessage, InvalidJobMessageError, type JobMessage } from './job-message';

export type JobOutcome = 'done' | 'skipped' | 'failed' | 'retry' | 'busy' | 'duplicate' | 'continued';

export interface JobRunResult {
  outcome: JobOutcome;
  runId: string;
  entity: Entity;
  attempt: number;
  /** For retry/busy: how long the re-enqueued message stays hidden. */
  delaySec?: number;
  error?: JobError;
}

const FINAL: ReadonlySet<JobStatus> = new Set(['done', 'skipped', 'failed']);

export { backoffDelaySec } from './app-context';

/**
 * Runs one delivered job message. Throws InvalidJobMessageError for a message that can never run
 * (the host then moves it to the poison queue) and rethrows storage failures (the host redelivers).
 */
export async function runJobMessage(ctx: AppContext, item: unknown, log: Logger, signal?: AbortSignal): Promise<JobRunResult> {
  const msg = decodeJobMessage(item);
  const { runId, entity, attempt } = msg;
  const jlog = log.child({ runId, entity: entityLabel(entity), attempt });
  const { deps, queue, policy } = ctx;
  const base = { runId, entity, attempt };

  // The worker holds the entity lease (exportEntity never takes one), so reading and writing the job row
  // below cannot race another worker running the same job.
  const lease = await EntityLease.acquire(deps.container, entity, { durationSec: policy.leaseSeconds, ...(signal ? { signal } : {}) });
  if (!lease) {
    // Another worker exports this entity (a duplicate delivery, or another run's job): try again later.
    // Not counted as an attempt, and the job row is left to the worker that holds the lease.
    await queue.send(msg, { delaySec: policy.busyDelaySec });
    jlog.info('entity busy; job re-enqueued', { delaySec: policy.busyDelaySec });
    return { ...base, outcome: 'busy', delaySec: policy.busyDelaySec };
  }
  let result: JobRunResult;
  try {
    const row = await deps.runs.getJob(runId, entity);
    if (row && (FINAL.has(row.status) || (row.attempts ?? 0) > attempt)) {
      jlog.info('duplicate delivery ignored', { status: row.status, rowAttempts: row.attempts });
      // The worker that wrote this final row may have died before counting it or closing the run:
      // count it (once per job) and fall through to the completion check below (issue 13, defect 6).
      if (FINAL.has(row.status)) {
        lease.assertHeld();
        await deps.runs.countFinishedJob(row);
      }
      result = { ...base, outcome: 'duplicate' };
    } else {
      result = await runUnderLease(ctx, msg, row, lease, jlog, signal);
    }
  } catch (err) {
    if (!(err instanceof LeaseLostError)) throw err;
    result = await leaseLost(ctx, msg, jlog);
  } finally {
    await lease.release().catch((err: unknown) => jlog.warn('lease not released', { error: errorText(err) }));
  }
  if (result.outcome !== 'retry' && result.outcome !== 'continued' && result.outcome !== 'busy')
    await finishIfComplete(ctx, runId, jlog, { redelivered: result.outcome === 'duplicate' });
  return result;
}

/**
 * The lease was lost while the job ran: another worker may hold the entity now, so this one writes
 * nothing more, not even the job row (a stale 'failed' written after the new holder's 'done' would
 * stand; docs/design.md §16). The message goes back on the queue, not counted as an attempt: whoever
 * holds the lease when it comes back reads the job row and decides.
 */
async function leaseLost(ctx: AppContext, msg: JobMessage, log: Logger): Promise<JobRunResult> {
  await ctx.queue.send(msg, { delaySec: ctx.policy.busyDelaySec });
  log.warn('entity lease lost; job re-enqueued without recording anything', { delaySec: ctx.policy.busyDelaySec });
  return { runId: msg.runId, entity: msg.entity, attempt: msg.attempt, outcome: 'busy', delaySec: ctx.policy.busyDelaySec };
}

async function runUnderLease(
  ctx: AppContext,
  msg: JobMessage,
  row: JobRecord | undefined,
  lease: EntityLease,
  log: Logger,
  signal?: AbortSignal,
): Promise<JobRunResult> {
  const { runId, entity, attempt } = msg;
  const { deps, queue, policy, clock } = ctx;
  // Counts of earlier attempts (chunks they committed) are kept, so the row totals the whole job.
  const carried = row?.counts ?? emptyCounts();
  // An earlier invocation of this job ran (a continuation, a retry, or one that died): what it wrote is
  // counted from the job's manifests at the end, since one that died never recorded its counts.
  const earlier = row?.startedAtMs !== undefined;
  const startedAtMs = row?.startedAtMs ?? clock.now();
  const job = {
    runId,
    entity: row?.entity.displayName ? { ...entity, displayName: row.entity.displayName } : entity,
    startedAtMs,
    attempts: attempt,
  };
  // The run already failed on an app-level refusal of this entity kind: end at once, reading nothing.
  const notRun = await refusedJobError(deps, runId, entity);
  if (notRun) {
    lease.assertHeld();
    await recordJobResult(deps, msg.mode, { ...job, status: 'skipped', counts: carried, error: notRun, finishedAtMs: clock.now() }, log);
    return { runId, entity, attempt, outcome: 'skipped', error: notRun };
  }
  // A merge, not a replacement: what earlier invocations recorded (their read span, the content they
  // could not store) stays on the row.
  lease.assertHeld();
  await deps.runs.mergeJob(runId, entity, { status: 'running', attempts: attempt, startedAtMs });

  // The job's stop: fires the moment the lease is lost (or the host cancels), before the next write.
  const stop = AbortSignal.any([lease.lostSignal, ...(signal ? [signal] : [])]);
  const sender = deps.chatMode === 'sender' && entity.kind === 'user';
  const others = sender ? await readOtherSenders(deps.container, runId, stop) : undefined;
  const resume = await resumeOptions(ctx, msg, lease);
  // Sender mode: the windows this job reads are on its row before any checkpoint moves past them, so
  // the follow-up rereads them even if this invocation dies right after the move (docs/design.md §15).
  let span = row?.readSpan;
  const onReadSpan = async (read: Window) => {
    const joined = joinSpans(span, read);
    if (joined && span && joined.fromMs === span.fromMs && joined.toMs === span.toMs) return;
    lease.assertHeld();
    await deps.runs.mergeJob(runId, entity, { ...(joined ? { readSpan: joined } : {}) });
    span = joined;
  };
  // Writes go through the lease's fence: each confirms the lease first, so none lands after a takeover.
  const result = await exportEntity(
    { runId, entity, mode: msg.mode, ...resume, ...(sender ? { onReadSpan } : {}) },
    {
      ...deps,
      container: lease.fence(deps.container),
      log,
      holdsLease: () => lease.assertHeld(),
      ...(others ? { otherSenderIds: others } : {}),
      ...contentStageOf(ctx),
    },
    stop,
  );
  if (lease.lost || result.error?.code === 'LeaseLostError') return leaseLost(ctx, msg, log);
  const counts = earlier ? await archivedCounts(ctx, msg, carried, result.counts) : addCounts(carried, result.counts);
  // The windows every invocation of this job read: sender mode's follow-up reads them again (docs/design.md §15).
  const readSpan = joinSpans(span, result.readSpan);
  const spanned = readSpan ? { readSpan } : {};
  lease.assertHeld();
  if (result.continueAt) {
    await continueJob(ctx, msg, { ...job, ...spanned }, counts, result.continueAt, log);
    return { runId, entity, attempt, outcome: 'continued' };
  }

  if (result.status === 'failed' && result.error?.retryable && attempt < policy.maxAttempts) {
    const delaySec = backoffDelaySec(attempt, policy);
    // The next message first: if the row write then fails, the next attempt still runs.
    await queue.send({ ...msg, attempt: attempt + 1 }, { delaySec });
    await deps.runs.mergeJob(runId, entity, {
      ...spanned,
      status: 'queued',
      counts,
      attempts: attempt,
      error: result.error,
      finishedAtMs: clock.now(),
    });
    log.warn('job failed; retrying later', {
      delaySec,
      code: result.error.code,
      status: result.error.status,
      requestId: result.error.requestId,
    });
    return { runId, entity, attempt, outcome: 'retry', delaySec, error: result.error };
  }
  await recordJobResult(
    deps,
    msg.mode,
    {
      ...job,
      ...spanned,
      status: result.status,
      counts,
      ...(result.error ? { error: result.error } : {}),
      finishedAtMs: clock.now(),
    },
    log,
    result.resultRecorded === true,
  );
  return { runId, entity, attempt, outcome: result.status, ...(result.error ? { error: result.error } : {}) };
}

/**
 * A job with earlier invocations: what it archived, from every execution's manifest (one that died
 * never recorded its counts, and the next found its versions archived already); the activity counts
 * (pages, versions received, duplicates) as the invocations recorded them.
 */
async function archivedCounts(ctx: AppContext, msg: JobMessage, carried: JobCounts, now: JobCounts): Promise<JobCounts> {
  const archived = await countsFromManifests(ctx.deps.container, msg.runId, msg.entity);
  return { ...addCounts(carried, now), ...archived };
}

/**
 * Closes the run when this was its last unfinished job (whichever worker gets there first), or, in
 * sender mode, claims and sends the follow-ups that cover members without a successful job first
 * (app/sender-cover-queue.ts); the last follow-up then closes the run. Returns the run's final status
 * once it is finished. `redelivered`: this is a repeated delivery, whose first worker may have died
 * between claiming the follow-ups and sending them.
 */
export async function finishIfComplete(
  ctx: AppContext,
  runId: string,
  log: Logger,
  opts: { redelivered?: boolean } = {},
): Promise<RunStatus | undefined> {
  const sender = ctx.deps.chatMode === 'sender';
  const outcome = await closeRunIfComplete(
    ctx.deps,
    runId,
    () => ctx.clock.now(),
    log,
    sender ? { coverDecision: (jobs) => coverDecision(ctx, runId, jobs) } : {},
  );
  if (!outcome) return undefined;
  if (outcome.kind === 'cover') {
    await sendCovers(ctx, runId, outcome.plan, log);
    return undefined;
  }
  if (outcome.kind === 'open') {
    if (sender && opts.redelivered) await resendUnsentCovers(ctx, runId, log);
    return undefined;
  }
  return outcome.status;
}

export type PoisonOutcome = 'failed' | 'already-finished' | 'invalid';

/**
 * Settles a message the host gave up on (maxDequeueCount deliveries that threw): its job is recorded
 * as failed with the reason, so no job silently disappears. A finished job is left as it is.
 */
export async function failPoisonedJob(
  ctx: AppContext,
  item: unknown,
  log: Logger,
  info: { dequeueCount?: number } = {},
): Promise<{ outcome: PoisonOutcome; runId?: string; entity?: Entity }> {
  let msg: JobMessage;
  try {
    msg = decodeJobMessage(item);
  } catch (err) {
    if (!(err instanceof InvalidJobMessageError)) throw err;
    // Nothing to mark: say loudly what was dropped (job messages hold ids only, never message content).
    log.error('unreadable message on the poison queue dropped', { problems: err.problems, item: preview(item) });
    return { outcome: 'invalid' };
  }
  const { runId, entity } = msg;
  const row = await ctx.deps.runs.getJob(runId, entity);
  if (row && FINAL.has(row.status)) {
    // As for a duplicate delivery: the run may still need this job counted, and closing.
    await ctx.deps.runs.countFinishedJob(row);
    await finishIfComplete(ctx, runId, log, { redelivered: true });
    return { outcome: 'already-finished', runId, entity };
  }
  const error: JobError = {
    code: 'PoisonMessage',
    message: `the job's queue message failed ${info.dequeueCount === undefined ? 'every delivery the host allows (maxDequeueCount)' : `${info.dequeueCount} deliveries`} and was moved to the poison queue; see the exportWorker logs of this run`,
    retryable: false,
  };
  log.error('job failed: poison message', { runId, entity: entityLabel(entity) });
  await recordJobResult(
    ctx.deps,
    msg.mode,
    {
      runId,
      entity: row?.entity ?? entity,
      status: 'failed',
      counts: row?.counts ?? emptyCounts(),
      error,
      attempts: Math.max(row?.attempts ?? 0, msg.attempt),
      ...(row?.startedAtMs !== undefined ? { startedAtMs: row.startedAtMs } : {}),
      finishedAtMs: ctx.clock.now(),
    },
    log,
  );
  await finishIfComplete(ctx, runId, log);
  return { outcome: 'failed', runId, entity };
}

function preview(item: unknown): string {
  const text =
    typeof item === 'string'
      ? item
      : item instanceof Uint8Array
        ? Buffer.from(item).toString('utf8')
        : (JSON.stringify(item) ?? String(item));
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
