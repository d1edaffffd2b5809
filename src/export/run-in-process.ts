// Runs a whole export in one process (the CLI, the demo, the benchmark): the run's life (id, plan,
// job rows, run.json) is run-lifecycle.ts's, as for the queued run; this file only runs the jobs here,
// concurrently under the shared Graph rate limit, each under its entity's lease.
import { acquireEntityLease } from '../archive/entity-lease';
import { entityLabel, type Entity, type EntityKind } from '../model/entity';
import { errorText } from '../model/errors';
import { addCounts, APP_REFUSAL_REASON, emptyCounts, type JobCounts, type JobMode, type JobResult } from '../model/job';
import type { Logger } from '../log';
import type { RunRecord, RunStore } from '../state/run-store';
import { failAbandonedRuns, holdRunLock } from './abandoned-runs';
import type { ContentBacklog } from '../state/content-backlog';
import { ContentPool, type ContentPoolStats } from './content-pool';
import { DEFAULT_CONTENT_MAX_ATTEMPTS, DEFAULT_CONTENT_RETRY_MS } from './content-stage';
import { exportEntity, toJobError, type ExportEntityDeps, type ExportEntityRequest, type ExportEntityResult } from './export-entity';
import { coverPlan, coverRequest } from './sender-cover';
import { uncoveredMemberIds, type EntitySelection } from './plan-entities';
import type { CollectionReport } from './run-report';
import { failRun, finishRun } from './run-close';
import {
  jobModeOf,
  notRunError,
  openRun,
  planRun,
  addCoverCounts,
  recordCoverFailure,
  recordJobResult,
  refusalMessage,
  type RunSpec,
} from './run-lifecycle';

export type { RunSpec } from './run-lifecycle';

export interface RunDeps extends ExportEntityDeps {
  runs: RunStore;
  concurrency: number;
  selection: EntitySelection;
  /**
   * How long to wait for a busy entity's lease. A crashed process leaves its leases for up to
   * LEASE_SECONDS, so the CLI waits a little longer than that.
   */
  leaseWaitMs?: number;
  /** The entity lease's length (default LEASE_SECONDS; 15 to 60). */
  leaseSeconds?: number;
  /** Bench and tests only: 0 renews before every blob write, the fence before issue 22 (LeaseOptions.writeFreshMs). */
  leaseWriteFreshMs?: number;
  now?: () => number;
  /** The content stage's backlog (docs/design.md §17); with `content`, the run settles its batches' content. */
  contentBacklog?: ContentBacklog;
  /** EXPORT_CONTENT_MAX_ATTEMPTS and EXPORT_CONTENT_RETRY (defaults 6 and one hour). */
  contentRetry?: { maxAttempts: number; retryMs: number };
  /** Batches the content pool settles at once while the run's jobs export (default CONTENT_POOL_BATCHES). */
  contentBatches?: number;
  /** And once they have finished (default CONTENT_POOL_BATCHES_AFTER_EXPORT). */
  contentBatchesAfterExport?: number;
}

export interface RunProgress extends JobCounts {
  planned: number;
  finished: number;
  done: number;
  skipped: number;
  failed: number;
  /** The content stage's batches (docs/design.md §17), when content downloads are on. */
  content?: ContentPoolStats;
}

export interface RunOutcome {
  runId: string;
  status: 'succeeded' | 'failed';
  progress: RunProgress;
  results: JobResult[];
  error?: string;
  /** The run's collection report, as in run.json (absent when the run could not be finished). */
  report?: CollectionReport;
}

export interface RunOptions {
  signal?: AbortSignal;
  onProgress?: (p: Readonly<RunProgress>) => void;
}

/**
 * Lease length: short, so a killed exporter blocks its entities for at most this long, yet long enough
 * that a renewal (which has a third of it to answer) survives a slow storage moment: at 15 s, renewals
 * unanswered for 5 s under load (in-memory Azurite holding 100,000 blobs) stopped healthy jobs.
 */
export const LEASE_SECONDS = 30;

/** The error code of a job whose entity another worker kept exporting: trying again later is safe. */
export const ENTITY_BUSY = 'EntityBusy';

export async function runExport(spec: RunSpec, deps: RunDeps, opts: RunOptions = {}): Promise<RunOutcome> {
  const now = deps.now ?? Date.now;
  // Runs an earlier process left open when it died are closed first: nobody else would (abandoned-runs.ts).
  const abandoned = await failAbandonedRuns(deps, now(), now, deps.log).catch((err: unknown) => {
    deps.log.warn('runs left open by a stopped process not checked', { error: errorText(err) });
    return 0;
  });
  if (abandoned > 0) deps.log.warn('runs left open by a stopped process failed', { runs: abandoned });
  const { run } = await openRun(deps, spec, now(), 'running', true);
  // The run's lock, leased while this process runs it: another process that finds the run open and
  // the lock free knows this one died.
  return holdRunLock(deps, run.runId, () => runOpened(run, spec, deps, opts));
}

async function runOpened(run: RunRecord, spec: RunSpec, deps: RunDeps, opts: RunOptions): Promise<RunOutcome> {
  const now = deps.now ?? Date.now;
  const runId = run.runId;
  const log = deps.log.child({ runId });
  const progress: RunProgress = { ...emptyCounts(), planned: 0, finished: 0, done: 0, skipped: 0, failed: 0 };
  const report = () => opts.onProgress?.(progress);

  const planned = await planRun(deps, run, spec, log, opts.signal);
  if ('error' in planned) {
    await failRun(deps, runId, planned.error, now, log);
    return { runId, status: 'failed', progress, results: [], error: planned.error };
  }
  const { entities } = planned;
  progress.planned = entities.length;
  await deps.runs.updateRun(runId, { planned: entities.length });
  report();

  const mode = jobModeOf(spec);
  let jobDeps: RunDeps = deps;
  const pool = contentPoolOf(
    deps,
    (s) => {
      progress.content = s;
      report();
    },
    opts.signal,
  );
  if (pool) {
    jobDeps = { ...jobDeps, contentStage: pool };
    // What earlier runs left (retries now due, a killed process's batches) is settled by this one.
    const taken = await pool
      .takeLeftovers(async (id) => (await deps.runs.getRun(id))?.finishedAtMs === undefined)
      .catch((err: unknown) => {
        log.warn('content backlog of earlier runs not read', { error: errorText(err) });
        return 0;
      });
    if (taken > 0) log.info('content left by earlier runs taken up', { batches: taken });
  }
  if (deps.chatMode === 'sender') {
    try {
      jobDeps = { ...deps, otherSenderIds: await uncoveredMemberIds(deps.http, entities, opts.signal, log) };
    } catch (err) {
      // Without the list, sender mode would silently miss members' messages: the run fails instead.
      const error = `could not list the tenant members sender mode must cover: ${errorText(err)}`;
      await failRun(deps, runId, error, now, log);
      return { runId, status: 'failed', progress, results: [], error };
    }
  }
  const order = teamsFirst(entities);
  const results: JobResult[] = [];
  // Entity kinds Graph refused the app for: their remaining jobs are not scheduled (docs/design.md §9).
  const refused = new Map<EntityKind, string>();
  let unrecordedJobs = 0;
  let next = 0;
  const worker = async () => {
    while (next < order.length && !opts.signal?.aborted) {
      const entity = order[next++]!;
      const startedAtMs = now();
      const onProgress = (delta: Partial<JobCounts>) => {
        Object.assign(progress, addCounts(progress, delta));
        report();
      };
      const refusal = refused.get(entity.kind);
      const result: ExportEntityResult = refusal
        ? { entity, status: 'skipped', counts: emptyCounts(), error: notRunError(refusal) }
        : await exportUnderLease({ runId, entity, mode, onProgress }, jobDeps, opts.signal);
      if (result.status === 'failed' && result.error?.reason === APP_REFUSAL_REASON && !refused.has(entity.kind)) {
        refused.set(entity.kind, refusalMessage(entity.kind, result.error));
      }
      // A job's blob list stays in its own manifest: the run keeps counts only, so memory does not grow
      // with the tenant.
      results.push(result);
      progress.finished++;
      progress[result.status]++;
      try {
        const { status, counts, error } = result;
        await recordJobResult(
          deps,
          mode,
          {
            runId,
            entity,
            status,
            counts,
            ...(error ? { error } : {}),
            startedAtMs,
            finishedAtMs: now(),
            attempts: refusal ? 0 : 1,
          },
          log,
          result.resultRecorded === true,
          true,
        );
      } catch (err) {
        // Storage went away after the job: its data and checkpoint are as safe as the job left them,
        // only the bookkeeping is missing. The run goes on (the other jobs meet the same outage and fail
        // cleanly) and ends failed instead of hanging as "running".
        unrecordedJobs++;
        log.error('job result not recorded', { entity: entityLabel(entity), error: errorText(err) });
      }
      report();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(deps.concurrency, order.length)) }, worker));
  if (deps.chatMode === 'sender' && !opts.signal?.aborted)
    unrecordedJobs += await coverUnsuccessfulUsers(runId, mode, results, jobDeps, now, log, opts.signal);
  // The jobs are done: the content stage no longer shares the machine with them, and may widen.
  pool?.exportFinished();
  // The run ends once its content is settled (or left to retry): its report then counts all of it.
  await pool?.drain();

  try {
    const finished = await finishRun(deps, runId, now, log, { aborted: opts.signal?.aborted === true, unrecordedJobs });
    const status = finished?.status === 'succeeded' ? 'succeeded' : 'failed';
    return {
      runId,
      status,
      progress,
      results,
      ...(finished?.error ? { error: finished.error } : {}),
      ...(finished?.report ? { report: finished.report } : {}),
    };
  } catch (err) {
    log.error('run result not recorded', { error: errorText(err) });
    return { runId, status: 'failed', progress, results, error: `the run record could not be written: ${errorText(err)}` };
  }
}

/**
 * Sender mode's follow-up (docs/design.md §15): the messages of users whose own job was skipped or
 * failed are in their chat partners' mailboxes, so every user whose job succeeded reads them there, by
 * sender id, over the windows its job just read, stored once per chat. A failed follow-up fails that
 * user's job row (and so the run): its checkpoint has moved, so the gap must not pass unnoticed.
 * Returns how many results could not be recorded.
 */
async function coverUnsuccessfulUsers(
  runId: string,
  mode: JobMode,
  results: JobResult[],
  deps: RunDeps,
  now: () => number,
  log: Logger,
  signal?: AbortSignal,
): Promise<number> {
  // Guests are asked for by every user job already (their own job has no mailbox to read).
  const { missing, readers } = coverPlan(results, new Set(deps.otherSenderIds ?? []));
  if (missing.length === 0) return 0;
  log.info('sender mode: covering members without a successful job', { members: missing.length, readers: readers.length });
  let unrecorded = 0;
  let next = 0;
  const worker = async () => {
    while (next < readers.length && !signal?.aborted) {
      const job = readers[next++]!;
      const cover = await exportUnderLease(coverRequest(runId, job, missing), deps, signal);
      try {
        await addCoverCounts(deps, runId, job.entity, cover.counts);
        if (cover.status === 'done') continue;
        await recordCoverFailure(deps, mode, runId, job.entity, cover, now(), log);
      } catch (err) {
        unrecorded++;
        log.error('job result not recorded', { entity: entityLabel(job.entity), error: errorText(err) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(deps.concurrency, readers.length)) }, worker));
  return unrecorded;
}

/**
 * The order the jobs start in: teams before users. A team's channels hold many more messages than a
 * user's chats, and its busiest channels the most pictures: started first, the longest jobs do not
 * trail the run, and the content stage meets the busiest conversations (paced at one request a second
 * each) early instead of after every user's batches (bench/RESULTS.md, "Content as its own stage").
 */
function teamsFirst(entities: readonly Entity[]): Entity[] {
  const isTeam = (e: Entity) => e.kind === 'team' || e.kind === 'deletedTeam' || e.kind === 'teamRetained';
  return [...entities.filter(isTeam), ...entities.filter((e) => !isTeam(e))];
}

/** The run's content pool, when content downloads are on. */
function contentPoolOf(deps: RunDeps, onChange: (s: ContentPoolStats) => void, signal?: AbortSignal): ContentPool | undefined {
  const { content, contentBacklog } = deps;
  if (!content || !contentBacklog) return undefined;
  return new ContentPool(
    {
      container: deps.container,
      content,
      backlog: contentBacklog,
      log: deps.log,
      now: deps.now ?? Date.now,
      maxAttempts: deps.contentRetry?.maxAttempts ?? DEFAULT_CONTENT_MAX_ATTEMPTS,
      retryMs: deps.contentRetry?.retryMs ?? DEFAULT_CONTENT_RETRY_MS,
      ...(deps.contentBatches !== undefined ? { concurrency: deps.contentBatches } : {}),
      ...(deps.contentBatchesAfterExport !== undefined ? { concurrencyAfterExport: deps.contentBatchesAfterExport } : {}),
      onChange,
    },
    signal,
  );
}

/** One job under its entity's lease: the export stops the moment the lease is lost (or the run is aborted). */
async function exportUnderLease(req: ExportEntityRequest, deps: RunDeps, signal?: AbortSignal): Promise<ExportEntityResult> {
  const { entity } = req;
  let lease;
  try {
    lease = await acquireEntityLease(deps.container, entity, {
      durationSec: deps.leaseSeconds ?? LEASE_SECONDS,
      waitMs: deps.leaseWaitMs ?? 0,
      ...(signal ? { signal } : {}),
      ...(deps.leaseWriteFreshMs !== undefined ? { writeFreshMs: deps.leaseWriteFreshMs } : {}),
    });
  } catch (err) {
    // Storage unreachable or the run aborted before the job started: nothing was read or written.
    return { entity, status: 'failed', counts: emptyCounts(), error: toJobError(err) };
  }
  if (!lease) {
    return {
      entity,
      status: 'failed',
      counts: emptyCounts(),
      error: { code: ENTITY_BUSY, message: 'another worker is exporting this entity', retryable: true },
    };
  }
  try {
    // Writes go through the lease's fence: each confirms the lease first, so none lands after a takeover.
    return await exportEntity(
      req,
      { ...deps, container: lease.fence(deps.container) },
      signal ? AbortSignal.any([lease.lostSignal, signal]) : lease.lostSignal,
    );
  } finally {
    await lease.release().catch(() => undefined);
  }
}
