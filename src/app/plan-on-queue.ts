// Planning on the queue (docs/functions.md §3): the timer and POST /api/backfills only record the run
// ('planning') and send ONE planning message, so they answer at once whatever the tenant's size. The
// queue worker then lists the tenant and sends the entity jobs, with the retries and poison handling
// of every job. A planning failure is retried with backoff and finally ends the run as failed.
import { newRunId, openRun, type RunSpec } from '../export/run-lifecycle';
import { failRun } from '../export/run-close';
import { backfillFingerprint } from './backfill-request';
import type { Logger } from '../log';
import type { JobMode } from '../model/job';
import type { RunRecord, RunStatus } from '../state/run-store';
import type { AppContext } from './app-context';
import { IdempotencyKeyReusedError, ValidationError } from './app-errors';
import type { BackfillRequest } from './backfill-request';
import {
  decodeQueueMessage,
  InvalidJobMessageError,
  isCoverMessage,
  isPlanMessage,
  isProductionMessage,
  type PlanMessage,
} from './job-message';
import { failPoisonedProduction, runProductionMessage, type ProductionOutcome } from './productions';
import {
  backoffDelaySec,
  failPoisonedJob,
  finishIfComplete,
  runJobMessage,
  type JobRunResult,
  type PoisonOutcome,
} from './queue-job-handler';
import { failPoisonedCover, runCoverMessage, type CoverOutcome } from './sender-cover-queue';
import { dailyRunId, planAndEnqueue } from './start-run';

export interface RequestedRun {
  runId: string;
  /** False when the run already existed (a repeated trigger, or a retried request with the same Idempotency-Key). */
  created: boolean;
  status: RunStatus;
  planned: number;
  /** Planning messages sent by this call (0 or 1). */
  enqueued: number;
}

/** Idempotency-Key: 1–100 of letters, digits and `-_.:` (a UUID fits; the key is a table row key). */
const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,100}$/;

/** Checks an Idempotency-Key header value; a bad one is a 400 naming the header. */
export function parseIdempotencyKey(value: string | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(value)) {
    throw new ValidationError([
      { field: 'Idempotency-Key', message: 'must be 1-100 characters of letters, digits, "-", "_", "." and ":"' },
    ]);
  }
  return value;
}

const modeOf = (run: RunRecord): JobMode | undefined =>
  run.kind === 'daily'
    ? run.nowMs !== undefined
      ? { kind: 'daily', nowMs: run.nowMs }
      : undefined
    : run.fromMs !== undefined && run.toMs !== undefined
      ? { kind: 'backfill', window: { fromMs: run.fromMs, toMs: run.toMs } }
      : undefined;

/**
 * Sends the run's planning message (again, for a run still 'planning' after an interrupted start, or
 * one whose message was lost: sweep.ts), and records when it is due, so the sweep knows when it is late.
 */
export async function sendPlan(ctx: AppContext, run: RunRecord, attempt = 1, delaySec = 0): Promise<number> {
  const mode = modeOf(run);
  if (!mode) throw new Error(`run ${run.runId} has no window to plan`);
  await ctx.queue.send({ type: 'plan', runId: run.runId, mode, attempt }, delaySec > 0 ? { delaySec } : {});
  const planDueAtMs = ctx.clock.now() + delaySec * 1000;
  await ctx.deps.runs.changeRun(run.runId, (r) => (r.status === 'planning' && r.finishedAtMs === undefined ? { planDueAtMs } : undefined));
  return 1;
}

/**
 * The timer's start: records the daily run of this scheduled time and sends its planning message. A
 * repeated or past-due trigger finds the run; it sends the planning message again only while the run
 * is still 'planning' (the first trigger may have died before sending it; a second planner is harmless).
 */
export async function requestDailyRun(ctx: AppContext, scheduledMs: number, log: Logger): Promise<RequestedRun> {
  const { created, run } = await openRun(
    ctx.deps,
    { kind: 'daily', nowMs: scheduledMs, runId: dailyRunId(scheduledMs) },
    ctx.clock.now(),
    'planning',
  );
  const enqueued = created || run.status === 'planning' ? await sendPlan(ctx, run) : 0;
  log.info(created ? 'daily run requested' : 'daily run already requested', { runId: run.runId, status: run.status, enqueued });
  return { runId: run.runId, created, status: run.status, planned: run.planned, enqueued };
}

/**
 * POST /api/backfills: records the backfill and sends its planning message. With an Idempotency-Key,
 * a retried request gets the run the first one started (created: false) instead of a second run.
 */
export async function requestBackfillRun(
  ctx: AppContext,
  req: BackfillRequest,
  log: Logger,
  idempotencyKey?: string,
): Promise<RequestedRun> {
  let runId = newRunId('backfill', ctx.clock.now());
  let claimed = true;
  if (idempotencyKey !== undefined) {
    // The key is claimed before anything else is written, so two racing requests agree on one run.
    const earlier = await ctx.requests.claimKey(idempotencyKey, runId);
    if (earlier !== undefined) {
      runId = earlier;
      claimed = false;
      const run = await ctx.deps.runs.getRun(runId);
      if (run && run.status !== 'planning') {
        log.info('backfill already requested with this Idempotency-Key', { runId, status: run.status });
        return { runId, created: false, status: run.status, planned: run.planned, enqueued: 0 };
      }
      // The first request died before sending its planning message (or it waits on the queue): send it.
    }
  }
  if (!claimed) {
    // The same key must come with the same request: another body is another backfill (HTTP 422).
    const earlier = await ctx.requests.getRequest(runId);
    const earlierFingerprint = earlier?.fingerprint;
    if (earlierFingerprint !== undefined && earlierFingerprint !== backfillFingerprint(req)) {
      throw new IdempotencyKeyReusedError(
        `this Idempotency-Key was first used for backfill ${runId} with a different body; send that body again to get it, or use a new key for a new backfill`,
      );
    }
  }
  const named = req.users.length > 0 || req.teams.length > 0;
  // The named ids first: the planning message reads them, and they may not fit in a queue message.
  if ((named || idempotencyKey !== undefined) && (claimed || !(await ctx.requests.getRequest(runId))))
    await ctx.requests.putRequest(runId, {
      users: req.users,
      teams: req.teams,
      ...(idempotencyKey !== undefined ? { fingerprint: backfillFingerprint(req) } : {}),
    });
  const spec: RunSpec = { kind: 'backfill', window: req.window, users: req.users, teams: req.teams, runId };
  const { created, run } = await openRun(ctx.deps, spec, ctx.clock.now(), 'planning');
  const enqueued = run.status === 'planning' ? await sendPlan(ctx, run) : 0;
  log.info('backfill requested', { runId, created: claimed && created, enqueued });
  return { runId, created: claimed && created, status: run.status, planned: run.planned, enqueued };
}

export type PlanOutcome = 'planned' | 'duplicate' | 'retry' | 'failed';

/**
 * Runs a planning message: lists the run's entities and sends their jobs (the run then turns
 * 'running'). A failure marks the run failed with the reason; while attempts remain the message comes
 * back after a backoff and the run is 'planning' again, so a transient failure does not end the run.
 */
export async function runPlanMessage(ctx: AppContext, msg: PlanMessage, log: Logger, signal?: AbortSignal): Promise<PlanOutcome> {
  const { runId, attempt } = msg;
  const plog = log.child({ runId, attempt });
  const run = await ctx.deps.runs.getRun(runId);
  if (!run || run.status !== 'planning') {
    plog.info('planning message ignored: the run is not planning', { status: run?.status });
    // A repeat of a planning message whose worker died after sending the jobs: the jobs may all have
    // ended meanwhile, with nobody left to close the run (or to send the follow-ups it claimed).
    if (run && run.finishedAtMs === undefined) await finishIfComplete(ctx, runId, plog, { redelivered: true });
    return 'duplicate';
  }
  const spec: RunSpec =
    msg.mode.kind === 'daily'
      ? { kind: 'daily', nowMs: msg.mode.nowMs, runId }
      : { kind: 'backfill', window: msg.mode.window, runId, ...((await ctx.requests.getRequest(runId)) ?? {}) };
  const started = await planAndEnqueue(ctx, run, false, spec, plog, signal, { inline: false });
  if (started.planningError === undefined) return 'planned';
  if (attempt < ctx.policy.maxAttempts) {
    const delaySec = backoffDelaySec(attempt, ctx.policy);
    // The run stays 'planning' (never closed, so the retry can plan it), with why on the row meanwhile.
    const error = started.planningError;
    await ctx.deps.runs.changeRun(runId, (r) => (r.status === 'planning' && r.finishedAtMs === undefined ? { error } : undefined));
    await sendPlan(ctx, run, attempt + 1, delaySec);
    plog.warn('planning failed; retrying later', { delaySec, error: started.planningError });
    return 'retry';
  }
  await failRun(ctx.deps, runId, started.planningError, () => ctx.clock.now(), plog);
  plog.error('planning failed; run failed', { error: started.planningError });
  return 'failed';
}

/** The queue worker's entry: a run's planning message, a production (productions.ts), or an entity job (queue-job-handler.ts). */
export async function handleQueueMessage(
  ctx: AppContext,
  item: unknown,
  log: Logger,
  signal?: AbortSignal,
): Promise<
  | JobRunResult
  | { outcome: PlanOutcome; runId: string; plan: true }
  | { outcome: ProductionOutcome; productionId: string }
  | { outcome: CoverOutcome; runId: string; cover: true }
> {
  const msg = decodeQueueMessage(item);
  if (isProductionMessage(msg)) return { outcome: await runProductionMessage(ctx, msg, log, signal), productionId: msg.productionId };
  if (isPlanMessage(msg)) return { outcome: await runPlanMessage(ctx, msg, log, signal), runId: msg.runId, plan: true };
  if (isCoverMessage(msg)) {
    const outcome = await runCoverMessage(ctx, msg, log, signal);
    if (outcome !== 'retry' && outcome !== 'busy') await finishIfComplete(ctx, msg.runId, log);
    return { outcome, runId: msg.runId, cover: true };
  }
  return runJobMessage(ctx, item, log, signal);
}

/** The poison handler's entry: a planning message the host gave up on fails its run; a job, its job. */
export async function handlePoisonMessage(
  ctx: AppContext,
  item: unknown,
  log: Logger,
  info: { dequeueCount?: number } = {},
): Promise<{ outcome: PoisonOutcome; runId?: string }> {
  let msg;
  try {
    msg = decodeQueueMessage(item);
  } catch (err) {
    if (!(err instanceof InvalidJobMessageError)) throw err;
    return failPoisonedJob(ctx, item, log, info);
  }
  if (isProductionMessage(msg)) return { outcome: await failPoisonedProduction(ctx, msg, log) };
  if (isCoverMessage(msg)) {
    await failPoisonedCover(ctx, msg, log);
    await finishIfComplete(ctx, msg.runId, log);
    return { outcome: 'failed', runId: msg.runId };
  }
  if (!isPlanMessage(msg)) return failPoisonedJob(ctx, item, log, info);
  const run = await ctx.deps.runs.getRun(msg.runId);
  if (!run || run.status !== 'planning') return { outcome: 'already-finished', runId: msg.runId };
  const error = `planning failed: the run's planning message failed every delivery the host allows and was moved to the poison queue; see the exportWorker logs of this run${run.error ? ` (last error: ${run.error})` : ''}`;
  log.error('run failed: poison planning message', { runId: msg.runId });
  await failRun(ctx.deps, msg.runId, error, () => ctx.clock.now(), log);
  return { outcome: 'failed', runId: msg.runId };
}
