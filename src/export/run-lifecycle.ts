// The life of a run, shared by both ways of running one: the single-process run (run-in-process.ts:
// the CLI, the demo, the benchmark) and the queued run of the Functions app (app/start-run.ts and
// app/queue-job-handler.ts). Both name, open, plan, record and finish a run with these functions, so
// they write the same rows, the same run.json and the same log lines for the same run.
import { randomBytes } from 'node:crypto';
import type { ArchiveContainer } from '../archive/archive-container';
import type { GraphHttp } from '../graph/graph-http';
import type { Logger } from '../log';
import { entityLabel, type Entity, type EntityKind } from '../model/entity';
import { APP_REFUSAL_REASON, RUN_FAILED_REASON, type JobCounts, type JobError, type JobMode, type JobResult } from '../model/job';
import type { Window } from '../model/window';
import type { CheckpointStore } from '../state/checkpoint-store';
import type { JobRecord, RunKind, RunRecord, RunStore } from '../state/run-store';
import { iso } from '../time';
import type { ContentFetcher } from './content-fetcher';
import { toJobError } from './export-entity';
import type { ContentBacklog, ContentTally } from '../state/content-backlog';
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
  /** The content stage's backlog (docs/design.md §17): the report counts the run's content from it. */
  contentBacklog?: ContentBacklog;
}

/** The run's content as the content stage recorded it; undefined when content downloads are off. */
export async function contentTallyOf(
  deps: Pick<RunLifecycleDeps, 'content' | 'contentBacklog'>,
  runId: string,
): Promise<ContentTally | undefined> {
  return deps.content && deps.contentBacklog ? deps.contentBacklog.tally(runId) : undefined;
}

/** What the deployment asks Graph for, as the collection report needs it. */
export function coverageOf(deps: Pick<RunLifecycleDeps, 'selection' | 'chatMode' | 'content'>): Coverage {
  const content = deps.content?.kinds() ?? { hostedContents: false, files: false };
  return {
    chatMode: deps.chatMode ?? 'custodian',
    retained: deps.selection.retained,
    deletedTeams: deps.selection.deletedTeams,
    copilot: deps.selection.copilot,
    meetings: deps.selection.meetings,
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
  inProcess = false,
): Promise<{ created: boolean; run: RunRecord }> {
  const named = namesEntities(spec);
  return deps.runs.createRun({
    runId: spec.runId ?? newRunId(spec.kind, startedAtMs),
    kind: spec.kind,
    // 'planning' when the planning runs later, from the queue (app/plan-on-queue.ts).
    status,
    startedAtMs,
    planned: 0,
    ...(inProcess ? { inProcess: true } : {}),
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
 * settings choose them. When they cannot be listed, why (the run is left as it is: the caller decides
 * whether planning is tried again or the run fails, run-close.ts failRun). `planned` is left to the
 * caller too: the queued run sets it only once every job is sent.
 */
export async function planRun(
  deps: RunLifecycleDeps,
  run: RunRecord,
  spec: RunSpec,
  log: Logger,
  signal?: AbortSignal,
): Promise<{ entities: Entity[] } | { error: string }> {
  const { runId } = run;
  let entities: Entity[];
  try {
    entities = namesEntities(spec)
      ? explicitEntities([...(spec.users ?? [])], [...(spec.teams ?? [])], deps.selection)
      : await planEntities(deps.http, deps.selection, signal, log);
  } catch (err) {
    const error = toJobError(err);
    const message = `could not enumerate users and teams: ${error.message}${error.code ? ` (${error.code})` : ''}`;
    log.warn('run planning failed', { runId, error: message, requestId: error.requestId });
    return { error: message };
  }
  log.info('run planned', { runId, kind: run.kind, entities: entities.length });
  // Names for productions and the viewer (best effort: a failure only logs, ids stand in for names).
  if (spec.kind === 'daily') await snapshotDirectory(deps, runId, spec.nowMs, entities, log, signal);
  return { entities };
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
  /**
   * The single-process run: its process runs each job once and closes the run from the job rows itself,
   * so the row is written once and not counted on the run's counter rows (the queued close's shortcut,
   * which a run in one process never takes): one table operation per job instead of five.
   */
  inProcess = false,
): Promise<void> {
  if (inProcess) await deps.runs.putJob(job);
  else await deps.runs.recordFinalJob(job);
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
  // Only the status: what the follow-up archived is added to the row's counts when it is counted
  // (RunStore.countCover), from its manifests.
  await deps.runs.mergeJob(runId, entity, { status: 'failed', error, finishedAtMs });
  if (mode.kind === 'daily') await recordDailyResult(deps.checkpoints, runId, entity, 'failed', error);
  log.error('job failed: sender-mode follow-up', {
    runId,
    entity: entityLabel(entity),
    error: error.message,
    counts: cause.counts.messages,
  });
}

/**
 * Sender mode's follow-up of a done user job archived versions of other members' messages: they are
 * counted on the reader's job row, so the run's totals are what the archive holds (the queued run does
 * this when it counts the follow-up, RunStore.countCover).
 */
export async function addCoverCounts(
  deps: Pick<RunLifecycleDeps, 'runs'>,
  runId: string,
  entity: Entity,
  counts: JobCounts,
): Promise<void> {
  if (counts.messages === 0 && counts.blobs === 0 && counts.quarantined === 0) return;
  const row = await deps.runs.getJob(runId, entity);
  if (!row) return;
  await deps.runs.mergeJob(runId, entity, {
    counts: {
      ...row.counts,
      messages: row.counts.messages + counts.messages,
      quarantined: row.counts.quarantined + counts.quarantined,
      blobs: row.counts.blobs + counts.blobs,
      bytes: row.counts.bytes + counts.bytes,
    },
  });
}

const KIND_PLURAL: Record<EntityKind, string> = {
  user: 'users',
  team: 'teams',
  deletedTeam: 'deleted teams',
  userRetained: "users' retained messages",
  teamRetained: "teams' retained messages",
  copilot: "users' Copilot interactions",
  meetings: 'meeting transcripts and recordings',
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
  const message = refusalMessage(kind, error);
  let refusedNow = false;
  // Conditional, as every run transition: a run that has finished meanwhile is not reopened.
  await deps.runs.changeRun(runId, (run) => {
    refusedNow = run.refused?.[kind] === undefined && run.finishedAtMs === undefined;
    return refusedNow ? { status: 'failed', error: message, refused: { [kind]: message } } : undefined;
  });
  if (refusedNow) log.error('run failed', { runId, error: message, kind, requestId: error.requestId });
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
  deps: Pick<RunLifecycleDeps, 'runs' | 'selection' | 'chatMode' | 'content' | 'contentBacklog'>,
  run: RunRecord,
): Promise<CollectionReport> {
  const report = new ReportBuilder();
  for await (const job of deps.runs.listJobs(run.runId)) report.add(job);
  return report.build(run.refused, coverageOf(deps), await contentTallyOf(deps, run.runId));
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
