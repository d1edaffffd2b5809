// Runs a whole export in one process (the CLI, the demo, the benchmark): plans the entities, exports
// them concurrently under the shared Graph rate limit, and records the run and its jobs in Table Storage.
import { randomBytes } from 'node:crypto';
import { jobManifestName, runManifestName } from '../archive/blob-layout';
import { writeJson } from '../archive/batch-writer';
import type { RunKind, RunStore } from '../state/run-store';
import { iso } from '../time';
import { exportEntity, toJobError, type ExportJobDeps, type JobMode } from './export-job';
import { explicitEntities, otherSenderIds, planEntities, type EntitySelection } from './plan-entities';
import { recordDailyResult, runFailure } from './run-outcome';
import { snapshotDirectory } from './snapshot-directory';
import { emptyCounts, type Entity, type JobCounts, type JobResult, type Window } from './types';

export type RunSpec =
  | { kind: 'daily'; nowMs: number; runId?: string }
  | { kind: 'backfill'; window: Window; users?: string[]; teams?: string[]; runId?: string };

export interface RunDeps extends ExportJobDeps {
  runs: RunStore;
  concurrency: number;
  selection: EntitySelection;
  now?: () => number;
}

export interface RunProgress extends JobCounts {
  planned: number;
  finished: number;
  done: number;
  skipped: number;
  failed: number;
}

export interface RunOutcome {
  runId: string;
  status: 'succeeded' | 'failed';
  progress: RunProgress;
  results: JobResult[];
  error?: string;
}

export interface RunOptions {
  signal?: AbortSignal;
  onProgress?: (p: Readonly<RunProgress>) => void;
}

export function newRunId(kind: RunKind, atMs: number): string {
  return `${kind}-${iso(atMs).replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(2).toString('hex')}`;
}

export async function runExport(spec: RunSpec, deps: RunDeps, opts: RunOptions = {}): Promise<RunOutcome> {
  const now = deps.now ?? Date.now;
  const startedAtMs = now();
  const runId = spec.runId ?? newRunId(spec.kind, startedAtMs);
  const log = deps.log.child({ runId });
  const progress: RunProgress = { ...emptyCounts(), planned: 0, finished: 0, done: 0, skipped: 0, failed: 0 };
  const report = () => opts.onProgress?.(progress);

  await deps.runs.createRun({
    runId,
    kind: spec.kind,
    status: 'running',
    startedAtMs,
    planned: 0,
    ...(spec.kind === 'daily' ? { nowMs: spec.nowMs } : { fromMs: spec.window.fromMs, toMs: spec.window.toMs }),
  });

  let entities: Entity[];
  try {
    entities =
      spec.kind === 'backfill' && ((spec.users?.length ?? 0) > 0 || (spec.teams?.length ?? 0) > 0)
        ? explicitEntities(spec.users ?? [], spec.teams ?? [], deps.selection.retained)
        : await planEntities(deps.http, deps.selection, opts.signal, log);
  } catch (err) {
    const error = toJobError(err);
    const message = `could not enumerate users and teams: ${error.message}${error.code ? ` (${error.code})` : ''}`;
    log.error('run failed', { error: message, requestId: error.requestId });
    await deps.runs.updateRun(runId, { status: 'failed', finishedAtMs: now(), error: message });
    return { runId, status: 'failed', progress, results: [], error: message };
  }
  progress.planned = entities.length;
  await deps.runs.updateRun(runId, { planned: entities.length });
  log.info('run planned', { kind: spec.kind, entities: entities.length });
  if (spec.kind === 'daily') await snapshotDirectory(deps, runId, spec.nowMs, entities, log, opts.signal);
  report();

  const mode: JobMode = spec.kind === 'daily' ? { kind: 'daily', nowMs: spec.nowMs } : { kind: 'backfill', window: spec.window };
  const jobDeps = deps.chatMode === 'sender' ? { ...deps, otherSenderIds: otherSenderIds(entities) } : deps;
  const results: JobResult[] = [];
  let bookkeepingErrors = 0;
  let next = 0;
  const worker = async () => {
    while (next < entities.length && !opts.signal?.aborted) {
      const entity = entities[next++]!;
      const startedJob = now();
      const result = await exportEntity(
        {
          runId,
          entity,
          mode,
          onProgress: (delta) => {
            for (const [k, v] of Object.entries(delta)) progress[k as keyof JobCounts] += v ?? 0;
            report();
          },
        },
        jobDeps,
        opts.signal,
      );
      // A job's blob list stays in its own manifest: the run keeps counts only, so memory does not grow
      // with the tenant.
      results.push(result);
      progress.finished++;
      progress[result.status]++;
      try {
        await deps.runs.putJob({
          runId,
          entity,
          status: result.status,
          counts: result.counts,
          ...(result.error ? { error: result.error } : {}),
          startedAtMs: startedJob,
          finishedAtMs: now(),
          attempts: 1,
        });
        if (spec.kind === 'daily') await recordDailyResult(deps.checkpoints, runId, entity, result.status, result.error);
      } catch (err) {
        // Storage went away after the job: its data and checkpoint are as safe as the job left them,
        // only the bookkeeping is missing. The run goes on (the other jobs meet the same outage and fail
        // cleanly) and ends failed instead of hanging as "running".
        bookkeepingErrors++;
        log.error('job result not recorded', { entity: `${entity.kind}:${entity.id}`, error: err instanceof Error ? err.message : String(err) });
      }
      report();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(deps.concurrency, entities.length)) }, worker));

  const forbidden = results.filter((r) => r.error?.status === 403).length;
  const error = opts.signal?.aborted
    ? 'run aborted'
    : (runFailure(progress, forbidden) ?? (bookkeepingErrors > 0 ? `${bookkeepingErrors} job results could not be recorded (storage unavailable?)` : undefined));
  const status = error ? 'failed' : 'succeeded';
  try {
    await finishRun();
  } catch (err) {
    log.error('run result not recorded', { error: err instanceof Error ? err.message : String(err) });
    return { runId, status: 'failed', progress, results, error: `${error ?? 'run finished'}; the run record could not be written: ${err instanceof Error ? err.message : String(err)}` };
  }
  log.info('run finished', { status, ...progress });
  return { runId, status, progress, results, ...(error ? { error } : {}) };

  async function finishRun(): Promise<void> {
    await writeJson(
      deps.container,
      runManifestName(runId),
      {
        runId,
        kind: spec.kind,
        status,
        startedAt: iso(startedAtMs),
        finishedAt: iso(now()),
        ...(spec.kind === 'daily' ? { now: iso(spec.nowMs) } : { from: iso(spec.window.fromMs), to: iso(spec.window.toMs) }),
        totals: progress,
        jobs: results.map((r) => ({
          entity: { kind: r.entity.kind, id: r.entity.id },
          status: r.status,
          counts: r.counts,
          error: r.error,
          ...(r.counts.blobs > 0 || r.counts.quarantined > 0 || r.error ? { manifest: jobManifestName(runId, r.entity) } : {}),
        })),
      },
      { overwrite: true },
    );
    await deps.runs.updateRun(runId, { status, finishedAtMs: now(), ...(error ? { error } : {}) });
  }
}
