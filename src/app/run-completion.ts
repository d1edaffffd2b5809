// Closes a queued run: once no job of it is queued or running any more, the run row gets its final
// status (the same rule as the single-process runExport) and a run manifest is written.
import { runManifestName } from '../archive/blob-layout';
import { writeJson } from '../archive/batch-writer';
import type { Logger } from '../log';
import type { RunStatus, RunSummary } from '../state/run-store';
import { iso } from '../time';
import { runFailure } from '../export/run-outcome';
import type { AppContext } from './app-context';

/** The run's final error, or undefined when it succeeded (the same rule as runExport's). */
export function runErrorOf(summary: RunSummary): string | undefined {
  const forbidden = [...summary.failed, ...summary.skipped].filter((j) => j.error?.status === 403).length;
  return runFailure(summary.counts, forbidden);
}

/** Finishes the run if every planned job has a final row; returns the status it set, if any. */
export async function finishRunIfComplete(ctx: AppContext, runId: string, log: Logger): Promise<RunStatus | undefined> {
  const { runs } = ctx.deps;
  const run = await runs.getRun(runId);
  // planned stays 0 until every job is enqueued (start-run.ts), so a half-enqueued run never finishes here.
  if (!run || run.status !== 'running' || run.planned === 0) return undefined;
  if (await runs.hasUnfinishedJobs(runId)) return undefined;
  const summary = await runs.summarize(runId);
  if (!summary || summary.counts.queued > 0 || summary.counts.running > 0) return undefined;
  const error = runErrorOf(summary);
  const status: RunStatus = error ? 'failed' : 'succeeded';
  const finishedAtMs = ctx.clock.now();
  // Two workers finishing the last jobs at once both get here; they write the same outcome.
  await writeJson(
    ctx.deps.container,
    runManifestName(runId),
    {
      runId,
      kind: run.kind,
      status,
      startedAt: iso(run.startedAtMs),
      finishedAt: iso(finishedAtMs),
      ...(run.nowMs !== undefined ? { now: iso(run.nowMs) } : {}),
      ...(run.fromMs !== undefined && run.toMs !== undefined ? { from: iso(run.fromMs), to: iso(run.toMs) } : {}),
      totals: summary.counts,
      jobs: [...summary.failed, ...summary.skipped].map((j) => ({ entity: { kind: j.entity.kind, id: j.entity.id }, status: j.status, counts: j.counts, error: j.error })),
    },
    { overwrite: true },
  );
  await runs.updateRun(runId, { status, finishedAtMs, ...(error ? { error } : {}) });
  log.info('run finished', { runId, status, ...summary.counts });
  return status;
}
