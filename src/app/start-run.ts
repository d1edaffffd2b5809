// Starts queued runs: the daily run of one scheduled time (idempotent: a repeated or past-due trigger
// finishes an interrupted enqueue instead of starting over) and operator backfills. The run's life is
// export/run-lifecycle.ts's; this adapter sends each entity's job as a 'queued' row and one message on
// the jobs queue, and the workers (queue-job-handler.ts) do the exporting.
import { encodeIdSegment } from '../archive/blob-layout';
import { writeOtherSenders } from '../archive/run-files';
import { uncoveredMemberIds } from '../export/plan-entities';
import { jobModeOf, newRunId, openRun, planRun, type RunSpec } from '../export/run-lifecycle';
import { failRun } from '../export/run-close';
import { finishIfComplete } from './queue-job-handler';
import { emptyCounts, type JobMode } from '../model/job';
import type { Entity } from '../model/entity';
import type { Logger } from '../log';
import type { JobRecord, RunRecord, RunStatus } from '../state/run-store';
import { MINUTE } from '../time';
import type { AppContext } from './app-context';
import type { BackfillRequest } from './backfill-request';

export interface StartedRun {
  runId: string;
  /** False when the run already existed (a repeated trigger). */
  created: boolean;
  planned: number;
  /** Messages sent by this call (0 for a repeat of a fully enqueued run). */
  enqueued: number;
  status: RunStatus;
  error?: string;
}

/** `daily-20261127T023000Z`: one run id per scheduled time, so a repeat of that time finds its run. */
export function dailyRunId(scheduledMs: number): string {
  return newRunId('daily', scheduledMs, { unique: false });
}

/** What the timer trigger tells about the occurrence being run (the @azure/functions Timer, loosely). */
export interface TimerInfo {
  isPastDue?: boolean;
  scheduleStatus?: { last?: string; next?: string } | null;
}

/**
 * The scheduled time of this invocation. The host passes the schedule status as it was before the
 * invocation, so `next` is the occurrence now being run (also for a past-due one after a restart).
 * Without a status (monitoring off, first run ever) the invocation time, to the minute, stands in.
 */
export function scheduledTimeOf(timer: TimerInfo | undefined, nowMs: number): number {
  const next = timer?.scheduleStatus?.next ? Date.parse(timer.scheduleStatus.next) : NaN;
  // A trigger may fire a little before its time (clock skew); one far in the future is not this one.
  if (Number.isFinite(next) && next <= nowMs + 5 * MINUTE) return next - (next % 1000);
  return nowMs - (nowMs % MINUTE);
}

export async function startDailyRun(ctx: AppContext, scheduledMs: number, log: Logger, signal?: AbortSignal): Promise<StartedRun> {
  const runId = dailyRunId(scheduledMs);
  const { created, run } = await openRun(ctx.deps, { kind: 'daily', nowMs: scheduledMs, runId }, ctx.clock.now());
  // planned is set only once every job is enqueued: a repeat of a fully enqueued (or finished) run is a no-op.
  // finishedAt, not the status, marks a finished run: an app-level refusal fails a run before it ends.
  if (!created && (run.finishedAtMs !== undefined || run.planned > 0)) {
    log.info('daily run already started', { runId, status: run.status, planned: run.planned });
    return { runId, created, planned: run.planned, enqueued: 0, status: run.status };
  }
  if (!created) log.warn('daily run was interrupted while enqueuing; finishing the enqueue', { runId });
  return planAndEnqueue(ctx, run, created, { kind: 'daily', nowMs: run.nowMs ?? scheduledMs }, log, signal);
}

export async function startBackfillRun(ctx: AppContext, req: BackfillRequest, log: Logger, signal?: AbortSignal): Promise<StartedRun> {
  const spec: RunSpec = { kind: 'backfill', window: req.window, users: req.users, teams: req.teams };
  const { run } = await openRun(ctx.deps, spec, ctx.clock.now());
  return planAndEnqueue(ctx, run, true, spec, log, signal);
}

/**
 * Lists the run's entities and sends their jobs; also the work of a run's planning message
 * (plan-on-queue.ts). When the entities cannot be listed the run is left as it is and the result says
 * why (`planningError`): the planning message tries again later; a run started inline fails at once.
 */
export async function planAndEnqueue(
  ctx: AppContext,
  run: RunRecord,
  created: boolean,
  spec: RunSpec,
  log: Logger,
  signal?: AbortSignal,
  opts: { inline?: boolean } = {},
): Promise<StartedRun & { planningError?: string }> {
  const { runId } = run;
  const planned = await planRun(ctx.deps, run, spec, log, signal);
  if ('error' in planned) {
    if (opts.inline !== false) await failRun(ctx.deps, runId, planned.error, () => ctx.clock.now(), log);
    const now = await ctx.deps.runs.getRun(runId);
    return { runId, created, planned: 0, enqueued: 0, status: now?.status ?? 'failed', error: planned.error, planningError: planned.error };
  }
  return enqueueRun(ctx, run, created, planned.entities, jobModeOf(spec), log, signal);
}

const entityKey = (e: Entity) => `${e.kind}_${encodeIdSegment(e.id)}`;
/** Jobs whose rows are written in one table transaction before their messages are sent. */
const ENQUEUE_BATCH = 100;

async function enqueueRun(
  ctx: AppContext,
  run: RunRecord,
  created: boolean,
  entities: Entity[],
  mode: JobMode,
  log: Logger,
  signal?: AbortSignal,
): Promise<StartedRun> {
  const { runs } = ctx.deps;
  const runId = run.runId;
  if (ctx.deps.chatMode === 'sender') {
    // Sender mode: each user job also asks for the messages of members without a job of their own by
    // id (docs/design.md §15); they read the list from here (written before any job is sent).
    await writeOtherSenders(ctx.deps.container, runId, await uncoveredMemberIds(ctx.deps.http, entities, signal, log), signal);
  }
  // Jobs a worker has already picked up (attempts > 0 or no longer queued) are not sent again. The
  // rows are insert-only: a second planner (a repeated planning message) never resets a job that ran.
  const existing = new Map<string, JobRecord>();
  if (!created) for await (const job of runs.listJobs(runId)) existing.set(entityKey(job.entity), job);
  let enqueued = 0;
  const toSend = entities.filter((entity) => {
    const row = existing.get(entityKey(entity));
    return !row || (row.status === 'queued' && (row.attempts ?? 0) === 0);
  });
  for (let i = 0; i < toSend.length; i += ENQUEUE_BATCH) {
    signal?.throwIfAborted();
    const batch = toSend.slice(i, i + ENQUEUE_BATCH);
    // The rows first (one table transaction per batch): a crash after them leaves 'queued' rows that a
    // repeat re-sends; the reverse order could leave a message whose job is invisible in the status
    // until a worker takes it.
    const missing = batch.filter((entity) => !existing.has(entityKey(entity)));
    await runs.createJobs(missing.map((entity) => ({ runId, entity, status: 'queued', counts: emptyCounts(), attempts: 0 })));
    await forEachLimit(batch, ctx.policy.enqueueConcurrency, async (entity) => {
      signal?.throwIfAborted();
      await ctx.queue.send({ runId, entity, mode, attempt: 1 }, signal ? { signal } : {});
      enqueued++;
    });
  }
  // Every job is sent: the run now says how many it waits for. Conditional, like every transition of a
  // run: only a run not planned yet is changed (never one a faster planner set up, or that finished),
  // and only 'planning' turns 'running' (an app-level refusal may already have failed it).
  await runs.changeRun(runId, (r) =>
    r.planned === 0 && r.finishedAtMs === undefined
      ? { planned: entities.length, ...(r.status === 'planning' ? { status: 'running' as const, error: '' } : {}) }
      : undefined,
  );
  log.info('run enqueued', { runId, kind: run.kind, planned: entities.length, enqueued });
  // Nothing to run, or fast workers finished every job before planned was set: then nobody else closes
  // the run. The same close as the workers', follow-ups included (queue-job-handler.ts).
  const finished = await finishIfComplete(ctx, runId, log);
  return { runId, created, planned: entities.length, enqueued, status: finished ?? 'running' };
}

async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
