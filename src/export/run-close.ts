// How a run ends (docs/design.md §13, §16), for both ways of running one. A queued run is closed by
// whichever worker finds every planned job (and every sender-mode follow-up) ended; several may find
// it at once, so the decision — close it, or first claim the follow-ups it still needs — is ONE
// ETag-conditional write of the run row: the first writer decides, the others read the run again and
// find it decided. run.json is written after the decision from the same job rows, and whoever later
// finds a finished run without its run.json writes it (a closer that died in between).
import { blobExists } from '../archive/batch-reader';
import { runManifestName } from '../archive/blob-layout';
import { writeRunManifest } from '../archive/run-files';
import type { Logger } from '../log';
import { entityLabel } from '../model/entity';
import { finishedTotal, type JobRecord, type RunRecord, type RunStatus, type RunSummary } from '../state/run-store';
import { iso } from '../time';
import { contentTallyOf, coverageOf, type RunLifecycleDeps } from './run-lifecycle';
import { ReportBuilder, type CollectionReport } from './run-report';

type CloseDeps = Pick<RunLifecycleDeps, 'runs' | 'container' | 'selection' | 'chatMode' | 'content' | 'contentBacklog'>;

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

/** The follow-ups a sender-mode run needs before it may close (app/sender-cover-queue.ts decides). */
export type CoverDecision =
  | { kind: 'none' }
  | { kind: 'cover'; readers: number; plan: unknown }
  /** The follow-ups cannot be sent (too many members for one message): the run closes failed with this. */
  | { kind: 'fail'; error: string };

export interface CloseHooks {
  /** Sender mode: given the run's final user job rows, whether follow-ups must run before the close. */
  coverDecision?: (userJobs: readonly JobRecord[]) => Promise<CoverDecision>;
}

export type CloseOutcome =
  /** Jobs or follow-ups are still to end (or the run is still being planned). */
  | { kind: 'open'; run: RunRecord }
  /** This call claimed the run's follow-ups (coverPlanned is set): the caller sends them. */
  | { kind: 'cover'; run: RunRecord; plan: unknown }
  | { kind: 'finished'; run: RunRecord; status: RunStatus; error?: string; report?: CollectionReport; byThisCall: boolean };

/** Tries of the close decision before giving up (each lost race means another worker decided meanwhile). */
const DECISION_TRIES = 50;

/**
 * Closes the run if every planned job has ended (and, in sender mode, every follow-up), or claims the
 * follow-ups it still needs. Safe to call from any worker at any time, any number of times: only one
 * call makes each decision. A finished run gets its run.json if it is missing.
 */
export async function closeRunIfComplete(
  deps: CloseDeps,
  runId: string,
  now: () => number,
  log: Logger,
  hooks: CloseHooks = {},
): Promise<CloseOutcome | undefined> {
  for (let attempt = 1; attempt <= DECISION_TRIES; attempt++) {
    const run = await deps.runs.getRun(runId);
    if (!run) return undefined;
    if (run.finishedAtMs !== undefined) {
      await ensureRunManifest(deps, run, log);
      return { kind: 'finished', run, status: run.status, ...(run.error ? { error: run.error } : {}), byThisCall: false };
    }
    // Still being planned: the planner sets `planned` (and closes an empty run itself).
    if (run.status === 'planning') return { kind: 'open', run };
    // The counters say whether every job has a final result: a point read and one query of a few rows.
    // Only then are the job rows read (one pass), which also confirms the counters.
    const { finished, coverFinished } = await deps.runs.counters(run);
    if (finished && finishedTotal(finished) < run.planned) return { kind: 'open', run };
    if (run.coverPlanned !== undefined && coverFinished < run.coverPlanned) return { kind: 'open', run };
    const report = new ReportBuilder();
    const userJobs: JobRecord[] = [];
    const summary = await deps.runs.summarize(runId, (job) => {
      report.add(job);
      if (hooks.coverDecision && job.entity.kind === 'user') userJobs.push(job);
    });
    if (!summary) return undefined;
    if (summary.counts.queued > 0 || summary.counts.running > 0) return { kind: 'open', run };
    if (run.coverPlanned !== undefined && summary.covered < run.coverPlanned) return { kind: 'open', run };
    let coverError: string | undefined;
    if (run.coverPlanned === undefined && hooks.coverDecision) {
      const decision = await hooks.coverDecision(userJobs);
      if (decision.kind === 'fail') coverError = decision.error;
      if (decision.kind === 'cover') {
        const claim = { coverPlanned: decision.readers, coverFinished: 0, coverClaimedAtMs: now() };
        if (await deps.runs.updateRunIf(runId, run.etag, claim)) return { kind: 'cover', run: { ...run, ...claim }, plan: decision.plan };
        continue; // another worker decided first: read the run again
      }
    }
    const error = runErrorOf(summary) ?? coverError;
    const status: RunStatus = error ? 'failed' : 'succeeded';
    const closed = { status, finishedAtMs: now(), error: error ?? '' };
    if (!(await deps.runs.updateRunIf(runId, run.etag, closed))) continue;
    const finalRun: RunRecord = { ...run, ...closed, ...(error ? { error } : {}) };
    if (!error) delete finalRun.error;
    const built = report.build(run.refused, coverageOf(deps), await contentTallyOf(deps, runId));
    await writeRunJson(deps, finalRun, summary, built);
    log.info('run finished', { runId, status, ...(error ? { error } : {}), ...summary.counts });
    return { kind: 'finished', run: finalRun, status, ...(error ? { error } : {}), report: built, byThisCall: true };
  }
  throw new Error(`run ${runId}: the close decision kept losing races; gave up after ${DECISION_TRIES} tries`);
}

export interface FinishOptions {
  /** The run was stopped before every job ran. */
  aborted?: boolean;
  /** Jobs whose result could not be recorded (storage went away after the job). */
  unrecordedJobs?: number;
}

/**
 * The single-process run's close: every job has ended (or the run was aborted), so the run is finished
 * from its job rows now, with the same rule and the same run.json as the queued close.
 */
export async function finishRun(
  deps: CloseDeps,
  runId: string,
  now: () => number,
  log: Logger,
  opts: FinishOptions = {},
): Promise<{ status: RunStatus; error?: string; report: CollectionReport }> {
  const report = new ReportBuilder();
  const summary = await deps.runs.summarize(runId, (job) => report.add(job));
  if (!summary) throw new Error(`run ${runId} not found`);
  const unrecorded = opts.unrecordedJobs ?? 0;
  const error = opts.aborted
    ? 'run aborted'
    : (runErrorOf(summary) ?? (unrecorded > 0 ? `${unrecorded} job results could not be recorded (storage unavailable?)` : undefined));
  const status: RunStatus = error ? 'failed' : 'succeeded';
  const closed = { status, finishedAtMs: now(), error: error ?? '' };
  const run = await deps.runs.changeRun(runId, (r) => (r.finishedAtMs === undefined ? closed : undefined));
  const built = report.build(summary.run.refused, coverageOf(deps), await contentTallyOf(deps, runId));
  const finalRun: RunRecord = { ...summary.run, ...closed, ...(run?.finishedAtMs !== undefined ? { finishedAtMs: run.finishedAtMs } : {}) };
  if (!error) delete finalRun.error;
  await writeRunJson(deps, finalRun, summary, built);
  log.info('run finished', { runId, status, ...(error ? { error } : {}), ...summary.counts });
  return { status, ...(error ? { error } : {}), report: built };
}

/**
 * Ends a run that cannot go on (its planning failed for good): failed, with why, and its run.json, unless
 * it has finished already. Returns false when it had.
 */
export async function failRun(deps: CloseDeps, runId: string, error: string, now: () => number, log: Logger): Promise<boolean> {
  let decided = false;
  const run = await deps.runs.changeRun(runId, (r) => {
    decided = r.finishedAtMs === undefined;
    return decided ? { status: 'failed', finishedAtMs: now(), error } : undefined;
  });
  if (!run) return false;
  if (!decided) {
    await ensureRunManifest(deps, run, log);
    return false;
  }
  await ensureRunManifest(deps, run, log, true);
  log.error('run failed', { runId, error });
  return true;
}

/** Writes run.json for a finished run when it is missing (or, with `force`, always), from its job rows. */
export async function ensureRunManifest(deps: CloseDeps, run: RunRecord, _log: Logger, force = false): Promise<void> {
  if (run.finishedAtMs === undefined) return;
  if (!force && (await blobExists(deps.container, runManifestName(run.runId)))) return;
  const report = new ReportBuilder();
  const summary = await deps.runs.summarize(run.runId, (job) => report.add(job));
  if (!summary) return;
  await writeRunJson(deps, run, summary, report.build(run.refused, coverageOf(deps), await contentTallyOf(deps, run.runId)));
}

/**
 * run.json: the run (kind, window, times, status, error), the totals over its job rows, and the jobs
 * that need a look only (the failed and skipped ones). A done job's details are in its own manifests,
 * so run.json stays small however large the tenant, and both ways of running write it from the same rows.
 */
async function writeRunJson(deps: CloseDeps, run: RunRecord, summary: RunSummary, report: CollectionReport): Promise<void> {
  const needsLook = [...summary.failed, ...summary.skipped].sort((a, b) => entityLabel(a.entity).localeCompare(entityLabel(b.entity)));
  await writeRunManifest(deps.container, run.runId, {
    runId: run.runId,
    kind: run.kind,
    status: run.status,
    ...(run.error ? { error: run.error } : {}),
    startedAt: iso(run.startedAtMs),
    ...(run.finishedAtMs !== undefined ? { finishedAt: iso(run.finishedAtMs) } : {}),
    ...(run.nowMs !== undefined ? { now: iso(run.nowMs) } : {}),
    ...(run.fromMs !== undefined && run.toMs !== undefined ? { from: iso(run.fromMs), to: iso(run.toMs) } : {}),
    totals: summary.counts,
    report,
    jobs: needsLook.map((j) => ({ entity: { kind: j.entity.kind, id: j.entity.id }, status: j.status, counts: j.counts, error: j.error })),
  });
}
