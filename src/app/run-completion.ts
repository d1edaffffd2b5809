// Closes a queued run: once no job of it is queued or running any more, the run row gets its final
// status (the same rule as the single-process runExport) and a run manifest is written.
import { odata } from '@azure/data-tables';
import { runManifestName } from '../archive/blob-layout';
import { writeJson } from '../archive/batch-writer';
import type { Logger } from '../log';
import { tableNames, type RunStatus, type RunSummary } from '../state/run-store';
import { iso } from '../time';
import type { AppContext } from './app-context';

/**
 * True while any job row of the run is queued or running. Reads the jobs table directly with a
 * server-side filter and stops at the first match, because RunStore.summarize reads every row and
 * this runs after every job. (Relies on RunStore's row shape: PartitionKey = runId, `status`.)
 */
export async function hasUnfinishedJobs(ctx: AppContext, runId: string): Promise<boolean> {
  const jobs = ctx.deps.storage.table(tableNames(ctx.deps.settings.tablePrefix).jobs);
  const rows = jobs.listEntities({
    queryOptions: { filter: odata`PartitionKey eq ${runId} and (status eq 'queued' or status eq 'running')`, select: ['status'] },
  });
  for await (const page of rows.byPage({ maxPageSize: 1 })) {
    if (page.length > 0) return true;
  }
  return false;
}

/** The run's final error, or undefined when it succeeded (mirrors runExport's rule). */
export function runErrorOf(summary: RunSummary): string | undefined {
  const { counts } = summary;
  if (counts.failed > 0) return `${counts.failed} of ${counts.planned} entities failed`;
  const forbidden = [...summary.failed, ...summary.skipped].filter((j) => j.error?.status === 403).length;
  // One 403 is one entity's business; a 403 on every entity is missing permissions or consent.
  if (counts.planned > 0 && forbidden === counts.planned) {
    return 'Graph answered 403 for every entity: check the app permissions (Chat.Read.All, ChannelMessage.Read.All) and admin consent';
  }
  return undefined;
}

/** Finishes the run if every planned job has a final row; returns the status it set, if any. */
export async function finishRunIfComplete(ctx: AppContext, runId: string, log: Logger): Promise<RunStatus | undefined> {
  const { runs } = ctx.deps;
  const run = await runs.getRun(runId);
  // planned stays 0 until every job is enqueued (start-run.ts), so a half-enqueued run never finishes here.
  if (!run || run.status !== 'running' || run.planned === 0) return undefined;
  if (await hasUnfinishedJobs(ctx, runId)) return undefined;
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
