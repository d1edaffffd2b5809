// Bounded invocations that resume (docs/functions.md §3): a queue job works for at most
// EXPORT_JOB_BUDGET, records its progress after every committed chunk, and when the budget runs out
// sends its continuation (same run, same entity, the resume point) instead of running on until the
// host kills it. A killed invocation's message comes back and resumes from the recorded progress.
import type { ExportEntityRequest } from '../export/export-entity';
import { laterResume, type ResumePoint } from '../export/job-budget';
import type { Logger } from '../log';
import type { JobCounts } from '../model/job';
import type { JobRecord } from '../state/run-store';
import type { AppContext } from './app-context';
import type { JobMessage } from './job-message';

/** The resume point, budget and progress recording of one delivered job message. */
export async function resumeOptions(
  ctx: AppContext,
  msg: JobMessage,
): Promise<Pick<ExportEntityRequest, 'resume' | 'budget' | 'onChunkCommitted'>> {
  const { runId, entity } = msg;
  // The recorded progress wins over the message's point when it is further on (a killed invocation's
  // redelivered message, or a retry after the continuation had already moved on).
  const resume = laterResume(msg.resume, await ctx.progress.get(runId, entity));
  return {
    ...(resume ? { resume } : {}),
    budget: { budgetMs: ctx.deps.settings.jobBudgetMs, now: () => ctx.clock.now() },
    // A daily job resumes from its checkpoint: its row matters only once its chunks have shrunk.
    onChunkCommitted: async (progress) => {
      if (progress.fromMs === undefined && (progress.chunkMs ?? Infinity) >= ctx.deps.windows.chunkMs) return;
      await ctx.progress.put(runId, entity, progress);
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
  await ctx.deps.runs.putJob({ ...job, status: 'queued', counts });
  log.info('job continues in a new invocation', {
    ...(continueAt.fromMs !== undefined ? { resumeFromMs: continueAt.fromMs } : {}),
    chunkMs: continueAt.chunkMs,
  });
}
