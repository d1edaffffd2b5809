// The life of a run, shared by both ways of running one: the single-process run (run-in-process.ts:
// the CLI, the demo, the benchmark) and the queued run of the Functions app (app/start-run.ts and
// app/queue-job-handler.ts). Both name, open, plan, record and finish a run with these functions, so
// they write the same rows, the same run.json and the same log lines for the same run.
import { randomBytes } from 'node:crypto';
import type { ArchiveContainer } from '../archive/archive-container';
import { writeRunManifest } from '../archive/run-files';
import type { GraphHttp } from '../graph/graph-http';
import type { Logger } from '../log';
import { entityLabel, type Entity, type EntityKind } from '../model/entity';
import {
  addCounts,
  APP_REFUSAL_REASON,
  RUN_FAILED_REASON,
  type JobCounts,
  type JobError,
  type JobMode,
  type JobResult,
} from '../model/job';
import type { Window } from '../model/window';
import type { CheckpointStore } from '../state/checkpoint-store';
import {
  finishedTotal,
  type JobRecord,
  type RunKind,
  type RunRecord,
  type RunStatus,
  type RunStore,
  type RunSummary,
} from '../state/run-store';
import { iso } from '../time';
import type { ContentFetcher } from './content-fetcher';
import { toJobError } from './export-entity';
import { ReportBuilder, type CollectionReport, type Coverage } from './run-report';
import { explicitEntities, planEntities, type EntitySelection } from './plan-entities';
import { coverFailure } from './sender-cover';
import { snapshotDirectory } from './snapshot-directory';

/** What to run: the daily passes up to `nowMs`, or a backfill of a window (of named entities, or all). */
export type RunSpec =
  | { kind: 'daily'; nowMs: number; runId?: string }
  | { kind: 'backfill'; window: Window; users?: readonly string[]; teams?: readonly string[]; runId?: string };

export interface RunLifecycleDeps {
  http: GraphHttp;
  container: ArchiveContainer;
  runs: RunStore;
  checkpoints: CheckpointStore;
  selection: EntitySelection;
  /** EXPORT_CHAT_MODE, and the content downloads: what the run's report says is not covered. */
  chatMode?: 'custodian' | 'sender';
  content?: Pick<ContentFetcher, 'kinds'>;
}

/** What the deployment asks Graph for, as the collection report needs it. */
export function coverageOf(deps: Pick<RunLifecycleDeps, 'selection' | 'chatMode' | 'content'>): Coverage {
  const content = deps.content?.kinds() ?? { hostedContents: false, files: false };
  return {
    chatMode: deps.chatMode ?? 'custodian',
    retained: deps.selection.retained,
    deletedTeams: deps.selection.deletedTeams,
    ...content,
  };
}

/**
 * The one run id format: `{kind}-{yyyymmddThhmmssZ}` of the run's time, then `-{4 hex}` so two runs
 * started in the same second differ. A scheduled daily run (`unique: false`) is named by its scheduled
 * time alone, so a repeated trigger of that time finds its run instead of starting another.
 */
export function newRunId(kind: RunKind, atMs: number, opts: { unique?: boolean } = {}): string {
  const base = `${kind}-${iso(atMs)
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}`;
  return opts.unique === false ? base : `${base}-${randomBytes(2).toString('hex')}`;
}

export function jobModeOf(spec: RunSpec): JobMode {
  return spec.kind === 'daily' ? { kind: 'daily', nowMs: spec.nowMs } : { kind: 'backfill', window: spec.window };
}

const namesEntities = (spec: RunSpec): spec is Extract<RunSpec, { kind: 'backfill' }> =>
  spec.kind === 'backfill' && ((spec.users?.length ?? 0) > 0 || (spec.teams?.length ?? 0) > 0);

/** Creates the run's row ('running', nothing planned yet); `created` is false when it existed already. */
export async function openRun(
  deps: Pick<RunLifecycleDeps, 'runs'>,
  spec: RunSpec,
  startedAtMs: number,
  status: 'running' | 'planning' = 'running',
): Promise<{ created: boolean; run: RunRecord }> {
  const named = namesEntities(spec);
  return deps.runs.createRun({
    runId: spec.runId ?? newRunId(spec.kind, startedAtMs),
    kind: spec.kind,
    // 'planning' when the planning runs later, from the queue (app/plan-on-queue.ts).
    status,
    startedAtMs,
    planned: 0,
    ...(spec.kind === 'daily'
      ? { nowMs: spec.nowMs }
      : {
          fromMs: spec.window.fromMs,
          toMs: spec.window.toMs,
          entities: named ? `${spec.users?.length ?? 0} users, ${spec.teams?.length ?? 0} teams` : 'all',
        }),
  });
}

/**
 * The run's entities: the ones a backfill names, else the tenant's users and teams as the selection
 * settings choose them. When they cannot be listed the run is marked failed (with why) and undefined
 * is returned. `planned` is left to the caller: the queued run sets it only once every job is sent.
 */
export async function planRun(
  deps: RunLifecycleDeps,
  run: RunRecord,
  spec: RunSpec,
  now: () => number,
  log: Logger,
  signal?: AbortSignal,
): Promise<Entity[] | undefined> {
  const { runId } = run;
  let entities: Entity[];
  try {
    entities = namesEntities(spec)
      ? explicitEntities([...(spec.users ?? [])], [...(spec.teams ?? [])], deps.selection.retained)
      : await planEntities(deps.http, deps.selection, signal, log);
  } catch (err) {
    const error = toJobError(err);
    const message = `could not enumerate users and teams: ${error.message}${error.code ? ` (${error.code})` : ''}`;
    log.error('run failed', { runId, error: message, requestId: error.requestId });
    await deps.runs.updateRun(runId, { status: 'failed', finishedAtMs: now(), error: message });
    return undefined;
  }
  log.info('run planned', { runId, kind: run.kind, entities: entities.length });
  // Names for productions and the viewer (best effort: a failure only logs, ids stand in for names).
  if (spec.kind === 'daily') await snapshotDirectory(deps, runId, spec.nowMs, entities, log, signal);
  return entities;
}

/**
 * Records a job's final result: its row and its count on the run (once per job, however often it is
 * delivered), and for a daily run the outcome on the entity's checkpoint. A job Graph refused for the
 * app itself fails the run at once (refuseRun).
 */
export async function recordJobResult(
  deps: Pick<RunLifecycleDeps, 'runs' | 'checkpoints'>,
  mode: JobMode,
  job: JobRecord & { status: JobResult['status'] },
  log: Logger,
  /** The export's last checkpoint write already recorded this result (a done daily job): no second write. */
  recordedOnCheckpoint = false,
): Promise<void> {
  await deps.runs.recordFinalJob(job);
  if (mode.kind === 'daily' && !recordedOnCheckpoint)
    await recordDailyResult(deps.checkpoints, job.runId, job.entity, job.status, job.error);
  log.info('job finished', {
    runId: job.runId,
    entity: entityLabel(job.entity),
    status: job.status,
    messages: job.counts.messages,
    blobs: job.counts.blobs,
  });
  if (job.status === 'failed' && job.error?.reason === APP_REFUSAL_REASON)
    await refuseRun(deps, job.runId, job.entity.kind, job.error, log);
}

/**
 * Sender mode's follow-up of a done user job failed for good (docs/design.md §15): the job's row turns
 * failed with why, so the run fails rather than leave a gap behind a moved checkpoint. recordJobResult
 * cannot do this, as it never rewrites a final row (a repeat delivery must not change it); the row
 * keeps its `counted` mark, since the run's counters only say when it may close.
 */
export async function recordCoverFailure(
  deps: Pick<RunLifecycleDeps, 'runs' | 'checkpoints'>,
  mode: JobMode,
  runId: string,
  entity: Entity,
  cause: { error?: JobError | undefined; counts: JobCounts },
  finishedAtMs: number,
  log: Logger,
): Promise<void> {
  const row = await deps.runs.getJob(runId, entity);
  if (!row) return;
  const error = coverFailure(cause.error);
  await deps.runs.putJob({ ...row, status: 'failed', counts: addCounts(row.counts, cause.counts), error, finishedAtMs });
  if (mode.kind === 'daily') await recordDailyResult(deps.checkpoints, runId, entity, 'failed', error);
  log.error('job failed: sender-mode follow-up', { runId, entity: entityLabel(entity), error: error.message });
}

const KIND_PLURAL: Record<EntityKind, string> = {
  user: 'users',
  team: 'teams',
  deletedTeam: 'deleted teams',
  userRetained: "users' retained messages",
  teamRetained: "teams' retained messages",
};

/**
 * An app-level refusal (docs/design.md §9): every entity of that kind would be refused the same way,
 * so the run is marked failed now, with the fix, and the kind is recorded on the run row so the jobs
 * of that kind still to come are not run (refusedJobError). The 'run failed' line is what the failed-run
 * alert looks for (infra/app/alerts.bicep), so the operator hears of it at once, not when the last job
 * of a long run ends. The run's final status and run.json come when its last job ends (finishRun).
 */
export async function refuseRun(
  deps: Pick<RunLifecycleDeps, 'runs'>,
  runId: string,
  kind: EntityKind,
  error: JobError,
  log: Logger,
): Promise<void> {
  const run = await deps.runs.getRun(runId);
  if (!run || run.refused?.[kind] !== undefined) return;
  const message = refusalMessage(kind, error);
  await deps.runs.updateRun(runId, { status: 'failed', error: message, refused: { [kind]: message } });
  log.error('run failed', { runId, error: message, kind, requestId: error.requestId });
}

/**
 * The error a job is recorded with instead of running, when its run has failed on an app-level refusal
 * of its entity kind; undefined when the job should run. Such a job is 'skipped' with reason
 * 'run-failed': nothing was read or written, its watermarks stay where they were.
 */
export async function refusedJobError(deps: Pick<RunLifecycleDeps, 'runs'>, runId: string, entity: Entity): Promise<JobError | undefined> {
  const refusal = (await deps.runs.getRun(runId))?.refused?.[entity.kind];
  return refusal === undefined ? undefined : notRunError(refusal);
}

/** The run's message for an app-level refusal of one entity kind: what Graph refused and the fix. */
export function refusalMessage(kind: EntityKind, error: JobError): string {
  return `Graph refused ${KIND_PLURAL[kind]}: ${error.fix ?? error.message}; the remaining ${kind} jobs of this run are not run`;
}

/** The error of a job not run because of the run's refusal message `refusal`. */
export function notRunError(refusal: string): JobError {
  return { code: 'RunFailed', reason: RUN_FAILED_REASON, message: `not run: ${refusal}`, retryable: false };
}

/** The collection report of a run (docs/design.md §13), from its job rows; also for a run in progress. */
export async function readRunReport(
  deps: Pick<RunLifecycleDeps, 'runs' | 'selection' | 'chatMode' | 'content'>,
  run: RunRecord,
): Promise<CollectionReport> {
  const report = new ReportBuilder();
  for await (const job of deps.runs.listJobs(run.runId)) report.add(job);
  return report.build(run.refused, coverageOf(deps));
}

/** Records a daily job's outcome on the entity's checkpoint row (never its watermarks). */
export async function recordDailyResult(
  checkpoints: CheckpointStore,
  runId: string,
  entity: Entity,
  status: string,
  error?: JobRecord['error'],
): Promise<void> {
  await checkpoints.recordResult(entity, {
    runId,
    status,
    ...(error?.code ? { errorCode: error.code } : {}),
    ...(error ? { error: error.message } : {}),
  });
}

/** Why a run failed, or undefined when it succeeded. */
export function runFailure(counts: { planned: number; failed: number }, forbidden: number): string | undefined {
  if (counts.failed > 0) return `${counts.failed} of ${counts.planned} entities failed`;
  // One 403 is one entity's business; a 403 on every entity is missing permissions or consent.
  if (counts.planned > 0 && forbidden === counts.planned) {
    return 'Graph answered 403 for every entity: check the app permissions (Chat.Read.All, ChannelMessage.Read.All) and admin consent';
  }
  return undefined;
}

/** The run's final error from its job rows, or undefined when it succeeded. */
export function runErrorOf(summary: RunSummary): string | undefined {
  // An app-level refusal says what to fix: it leads, whatever else failed.
  const refusals = Object.values(summary.run.refused ?? {});
  if (refusals.length > 0) return refusals.join('; ');
  const forbidden = [...summary.failed, ...summary.skipped].filter((j) => j.error?.status === 403).length;
  return runFailure(summary.counts, forbidden);
}

export interface FinishOptions {
  /** The run was stopped before every job ran. */
  aborted?: boolean;
  /** Jobs whose result could not be recorded (storage went away after the job). */
  unrecordedJobs?: number;
  /** Finish only when every planned job has a final row (the queued run: whichever job ends last). */
  onlyIfComplete?: boolean;
}

/**
 * Finishes the run from its job rows: sets its final status and writes run.json. Returns the status
 * set, or undefined when `onlyIfComplete` found jobs still to run (or the run already finished).
 *
 * run.json holds the run (kind, window, times, status, error), the totals over its job rows, and the
 * jobs that need a look only: the failed and skipped ones. A done job's details (blobs, SHA-256s,
 * counts) are in its own manifest beside run.json, so run.json stays small however large the tenant,
 * and both ways of running write it from the same rows.
 */
export async function finishRun(
  deps: Pick<RunLifecycleDeps, 'runs' | 'container' | 'selection' | 'chatMode' | 'content'>,
  runId: string,
  now: () => number,
  log: Logger,
  opts: FinishOptions = {},
): Promise<{ status: RunStatus; error?: string; report: CollectionReport } | undefined> {
  const { runs } = deps;
  if (opts.onlyIfComplete) {
    const run = await runs.getRun(runId);
    // planned stays 0 until every job is enqueued (app/start-run.ts), so a half-enqueued run never finishes here.
    // A run failed early by an app-level refusal (refuseRun) is still open: finishedAt marks the end.
    if (!run || run.finishedAtMs !== undefined || run.planned === 0) return undefined;
    // The run's counters say whether every job has a final result: a point read and one query of its
    // counter rows per job. Only the last job reads the job rows (summarize), which also confirms the
    // counters. A run row from before the counters (finished undefined) is checked from its rows alone.
    const { finished, coverFinished } = await runs.counters(run);
    if (finished && finishedTotal(finished) < run.planned) return undefined;
    // Sender mode's follow-ups (app/sender-cover-queue.ts) hold the run open until each has ended.
    if (run.coverPlanned !== undefined && coverFinished < run.coverPlanned) return undefined;
  }
  // One pass over the job rows gives the totals and the report, holding counts only (not the rows).
  const reportRows = new ReportBuilder();
  const summary = await runs.summarize(runId, (job) => reportRows.add(job));
  if (!summary) throw new Error(`run ${runId} not found`);
  if (opts.onlyIfComplete && (summary.counts.queued > 0 || summary.counts.running > 0)) return undefined;
  if (opts.onlyIfComplete && summary.run.coverPlanned !== undefined && summary.covered < summary.run.coverPlanned) return undefined;
  const unrecorded = opts.unrecordedJobs ?? 0;
  const error = opts.aborted
    ? 'run aborted'
    : (runErrorOf(summary) ?? (unrecorded > 0 ? `${unrecorded} job results could not be recorded (storage unavailable?)` : undefined));
  const status: RunStatus = error ? 'failed' : 'succeeded';
  const finishedAtMs = now();
  const { run } = summary;
  const report = reportRows.build(run.refused, coverageOf(deps));
  const needsLook = [...summary.failed, ...summary.skipped].sort((a, b) => entityLabel(a.entity).localeCompare(entityLabel(b.entity)));
  await writeRunManifest(deps.container, runId, {
    runId,
    kind: run.kind,
    status,
    ...(error ? { error } : {}),
    startedAt: iso(run.startedAtMs),
    finishedAt: iso(finishedAtMs),
    ...(run.nowMs !== undefined ? { now: iso(run.nowMs) } : {}),
    ...(run.fromMs !== undefined && run.toMs !== undefined ? { from: iso(run.fromMs), to: iso(run.toMs) } : {}),
    totals: summary.counts,
    report,
    jobs: needsLook.map((j) => ({ entity: { kind: j.entity.kind, id: j.entity.id }, status: j.status, counts: j.counts, error: j.error })),
  });
  // Two workers finishing the last jobs at once both get here; they write the same outcome.
  await runs.updateRun(runId, { status, finishedAtMs, ...(error ? { error } : {}) });
  log.info('run finished', { runId, status, ...(error ? { error } : {}), ...summary.counts });
  return { status, ...(error ? { error } : {}), report };
}
