// Run status for the HTTP API: one run with its counts and per-entity errors (Graph code and
// request-id), and the list of runs, as plain JSON-ready objects.
import { isValidRunId } from '../archive/blob-layout';
import { readRunReport } from '../export/run-lifecycle';
import type { CollectionReport } from '../export/run-report';
import type { JobError } from '../model/job';
import type { JobRecord, RunRecord, RunSummary } from '../state/run-store';
import { iso } from '../time';
import type { AppContext } from './app-context';
import { NotFoundError, ValidationError } from './app-errors';

export interface RunView {
  runId: string;
  kind: RunRecord['kind'];
  status: RunRecord['status'];
  startedAt: string;
  finishedAt?: string;
  now?: string;
  from?: string;
  to?: string;
  planned: number;
  entities?: string;
  error?: string;
}

export interface EntityProblemView {
  kind: string;
  id: string;
  displayName?: string;
  status: string;
  attempts?: number;
  error?: JobError;
}

export interface RunStatusView extends RunView {
  counts: RunSummary['counts'];
  /** The collection report (docs/design.md §13): per entity kind, reasons, content, blind spots. */
  report: CollectionReport;
  errors: EntityProblemView[];
}

export function runView(run: RunRecord): RunView {
  return {
    runId: run.runId,
    kind: run.kind,
    status: run.status,
    startedAt: iso(run.startedAtMs),
    ...(run.finishedAtMs !== undefined ? { finishedAt: iso(run.finishedAtMs) } : {}),
    ...(run.nowMs !== undefined ? { now: iso(run.nowMs) } : {}),
    ...(run.fromMs !== undefined ? { from: iso(run.fromMs) } : {}),
    ...(run.toMs !== undefined ? { to: iso(run.toMs) } : {}),
    planned: run.planned,
    ...(run.entities !== undefined ? { entities: run.entities } : {}),
    ...(run.error !== undefined ? { error: run.error } : {}),
  };
}

function problemView(job: JobRecord): EntityProblemView {
  return {
    kind: job.entity.kind,
    id: job.entity.id,
    ...(job.entity.displayName ? { displayName: job.entity.displayName } : {}),
    status: job.status,
    ...(job.attempts !== undefined ? { attempts: job.attempts } : {}),
    ...(job.error ? { error: job.error } : {}),
  };
}

/** Status of one run; NotFoundError for an unknown (or malformed) run id. */
export async function getRunStatus(ctx: AppContext, runId: string): Promise<RunStatusView> {
  const summary = isValidRunId(runId) ? await ctx.deps.runs.summarize(runId) : undefined;
  if (!summary) throw new NotFoundError(`no run named ${JSON.stringify(runId.slice(0, 100))}`);
  const report = await readRunReport(ctx.deps, summary.run);
  return { ...runView(summary.run), counts: summary.counts, report, errors: [...summary.failed, ...summary.skipped].map(problemView) };
}

export const RUN_LIST_LIMITS = { default: 50, max: 500 } as const;

/** Runs, newest first; `limit` is the query parameter as given (validated here). */
export async function listRunViews(ctx: AppContext, limit: string | null): Promise<{ runs: RunView[] }> {
  const n = limit === null ? RUN_LIST_LIMITS.default : Number(limit);
  if (!Number.isInteger(n) || n < 1 || n > RUN_LIST_LIMITS.max) {
    throw new ValidationError([{ field: 'limit', message: `must be a whole number from 1 to ${RUN_LIST_LIMITS.max}` }]);
  }
  const runs = await ctx.deps.runs.listRuns({ limit: n });
  return { runs: runs.map(runView) };
}
