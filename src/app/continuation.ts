// Bounded invocations that resume (docs/functions.md §3): a queue job works for at most
// EXPORT_JOB_BUDGET, records its progress after every committed chunk, and when the budget runs out
// sends its continuation (same run, same entity, the resume point) instead of running on until the
// host kills it. The state of an unfinished read goes in the progress row (backfills) or the checkpoint
// row (daily jobs), not in the message: its links can be long. A killed invocation's message comes back and resumes from the recorded progress.
import type { ExportEntityRequest } from '../export/export-entity';
import { laterResume, type ResumePoint } from '../export/job-budget';
import { loadOpenRead, storeOpenRead } from '../export/open-read';
import type { Logger } from '../log';
import type { JobCounts } from '../model/job';
import type { JobRecord } from '../state/run-store';
import type { AppContext } from './app-context';
import type { EntityLease } from '../archive/entity-lease';
import type { JobMessage } from './job-message';

/** The resume point, budget and progress recording of one delivered job message. */
export async function resumeOptions(
  ctx: AppContext,
  msg: JobMessage,
  lease?: Pick<EntityLease, 'assertHeld'>,
): Promise<Pick<ExportEntityRequest, 'resume' | 'budget' | 'onChunkCommitted'>> {
  const { runId, entity } = msg;
  // The recorded progress wins over the message's point when it is further on (a killed invocation's
  // redelivered message, or a retry after the continuation had already moved on).
  const recorded = msg.mode.kind === 'backfill' ? await ctx.progress.get(runId, entity) : undefined;
  const read = loadOpenRead(recorded?.readState);
  const resume = laterResume(
    msg.resume,
    recorded ? { ...(recorded.fromMs !== undefined ? { fromMs: recorded.fromMs } : {}), ...(read ? { read } : {}) } : undefined,
  );
  return {
    ...(resume ? { resume } : {}),
    budget: { budgetMs: ctx.deps.settings.jobBudgetMs, now: () => ctx.clock.now() },
    // Only backfills call it: a daily job keeps its progress on its checkpoint row.
    onChunkCommitted: async (progress) => {
      // Table rows cannot carry the lease: the write goes only while the lease is surely ours.
      lease?.assertHeld();
      await ctx.progress.put(runId, entity, {
        ...(progress.fromMs !== undefined ? { fromMs: progress.fromMs } : {}),
        ...(progress.read ? { readState: storeOpenRead(progress.read) } : {}),
      });
    },
  };
}

/**
 * Sends the job's continuation and leaves its row 'queued' with the counts so far. The message goes
 * first: if the row write then fails, the continuation still runs (and finds the progress recorded).
 */
export async function continueJob(
  ctx: AppContext,
  msg: JobMessage,
  job: Omit<JobRecord, 'status' | 'counts'>,
  counts: JobCounts,
  continueAt: ResumePoint,
  log: Logger,
): Promise<void> {
  await ctx.queue.send({ ...msg, resume: continueAt });
  const { runId: _runId, entity: _entity, ...fields } = job;
  await ctx.deps.runs.mergeJob(msg.runId, msg.entity, { ...fields, status: 'queued', counts });
  log.info('job continues in a new invocation', {
    ...(continueAt.fromMs !== undefined ? { resumeFromMs: continueAt.fromMs } : {}),
  });
}
