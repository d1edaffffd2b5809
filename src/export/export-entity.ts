// Exports one entity (a user's chats, a team's channels, …): reads each planned chunk page by page,
// writes the day batches (handing what their versions refer to to the content stage), and only then
// advances the entity's checkpoint (docs/design.md §4, §7). The stages are modules of their own (docs/design.md §4, "In the
// code"); this one keeps the loop over the windows and the job's result.
// The caller holds the entity's lease and passes its stop signal.
import { randomBytes } from 'node:crypto';
import type { ArchiveContainer } from '../archive/archive-container';
import { LeaseLostError } from '../archive/entity-lease';
import { ExecutionManifest } from './execution-manifest';
import { GraphError } from '../graph/graph-errors';
import type { GraphHttp, RequestLimiter } from '../graph/graph-http';
import type { ContentFetcher } from './content-fetcher';
import { ArchivedKeys } from './archived-keys';
import { batchHandoff, type ContentHandoff } from './content-handoff';
import type { Logger } from '../log';
import { errorText } from '../model/errors';
import type { CheckpointStore } from '../state/checkpoint-store';
import { APP_REFUSAL_REASON, type JobCounts, type JobError, type JobMode, type JobResult } from '../model/job';
import type { Entity, EntityKind } from '../model/entity';
import type { Window } from '../model/window';
import type { WindowSettings } from './windows';
import { chunkSource } from './entity-chunks';
import { exportChunk } from './chunk-export';
import { ReadPacer, type JobBudget, type ResumePoint } from './job-budget';
import { JobCommits } from './job-commits';
import type { EntityJob } from './job-context';
import { JobTally } from './job-tally';
import type { MemoryBudget } from './memory-budget';

export interface ExportEntityDeps {
  http: GraphHttp;
  container: ArchiveContainer;
  checkpoints: CheckpointStore;
  log: Logger;
  pageSize: number;
  windows: WindowSettings;
  /**
   * What a version refers to (EXPORT_HOSTED_CONTENTS, EXPORT_ATTACHMENTS): the fetcher says which
   * versions refer to content, and the handoff gives their batches to the content stage
   * (docs/design.md §17). Without both, versions keep their references only.
   */
  content?: ContentFetcher;
  contentStage?: ContentHandoff;
  now?: () => number;
  /** EXPORT_CHAT_MODE: custodian (default) or sender. */
  chatMode?: 'custodian' | 'sender';
  /** Sender mode: tenant members without an export of their own in this run, whose messages the others query fetches. */
  otherSenderIds?: readonly string[];
  /** GRAPH_FILTER_MAX_CLAUSES: most `or`-ed sender clauses per request; longer filters are split. */
  filterMaxClauses?: number;
  /**
   * The budgets of APIs with a limit of their own (GRAPH_COPILOT_RPS, GRAPH_MEETING_RPS), by entity kind:
   * awaited before each request of that kind besides the process's budget; a 429 pauses only them.
   */
  apiLimiters?: Partial<Record<EntityKind, RequestLimiter>>;
  /** Sub-windows of a chunk read at once (EXPORT_READS_PER_ENTITY); 1 reads each chunk as one window. */
  readsPerEntity?: number;
  /**
   * The process's memory budget for message data (EXPORT_MEMORY_MB, docs/design.md §14), shared by all
   * jobs: the day buffers of the batchers and the pages the reads have in flight. Without one, neither
   * is bounded across jobs.
   */
  memory?: MemoryBudget;
  /**
   * Throws unless the caller's entity lease is surely still held: called before each checkpoint write
   * and progress record, which table storage cannot fence with the lease (docs/design.md §8).
   */
  holdsLease?: () => void;
}

export interface ExportEntityRequest {
  runId: string;
  entity: Entity;
  mode: JobMode;
  /** Called with count increments as pages are processed, for progress displays. */
  onProgress?: (delta: Partial<JobCounts>) => void;
  /**
   * Sender mode's follow-up (docs/design.md §15): read only the messages of these senders from this
   * user's chats (backfill mode, the windows the user's job read), stored once per chat. No own
   * messages, no checkpoint; the manifest goes beside the job's instead of replacing it.
   */
  coverSenderIds?: readonly string[];
  /** Where an earlier invocation of this job stopped (a continuation, or its recorded progress). */
  resume?: ResumePoint;
  /** The invocation's time budget (queue jobs); without one every chunk runs in this call. */
  budget?: JobBudget;
  /**
   * Backfills: called with where the job would resume from now (its progress), after each window has
   * committed and whenever a long read records where it stands. Daily jobs keep theirs on the checkpoint.
   */
  onChunkCommitted?: (progress: ResumePoint) => Promise<void>;
  /**
   * Called with the span of every window this call has begun to read, before the window is read (so
   * before its watermark can move): sender mode's follow-up must reread every window a job's checkpoint
   * moved past (docs/design.md §15), even when the job dies right after the move.
   */
  onReadSpan?: (span: Window) => Promise<void>;
}

/**
 * A job's result; `continueAt` is set when the budget ran out first and the rest is still to read;
 * `resultRecorded` when the job's last checkpoint write already recorded its (done) result.
 */
export type ExportEntityResult = JobResult & { continueAt?: ResumePoint; resultRecorded?: boolean };

/**
 * Exports one entity. The caller holds the entity's lease; `signal` is the job's stop: it fires when
 * the run is aborted or the lease is lost, and is checked before every write (each blob, the
 * checkpoint), so a job that lost its entity writes nothing more. Window by window (entity-chunks.ts):
 * reads and commits the window (chunk-export.ts), then moves its watermarks; stops early when the
 * budget is used, and saves the execution's manifest however it ends.
 */
export async function exportEntity(req: ExportEntityRequest, deps: ExportEntityDeps, signal?: AbortSignal): Promise<ExportEntityResult> {
  const { entity, runId } = req;
  const log = deps.log.child({ runId, entity: `${entity.kind}:${entity.id}` });
  const tally = new JobTally(req.onProgress);
  const counts = tally.counts;
  const writerId = `${runId}-${randomBytes(3).toString('hex')}`;
  // Every blob is named in this execution's manifest before it is written (docs/design.md §16).
  const manifest = new ExecutionManifest({
    container: deps.container,
    runId,
    entity,
    writer: writerId,
    cover: req.coverSenderIds !== undefined,
    counts: () => counts,
    signal,
  });
  let seq = 0;
  // What this call read, for sender mode's follow-up (docs/design.md §15): also on a continuation or a
  // failure, so the queued job's row can sum the spans of all its invocations.
  let readSpan: Window | undefined;
  const pacer = new ReadPacer(req.budget);
  const daily = req.mode.kind === 'daily';
  const commits = new JobCommits(req, deps, pacer, signal);
  const content =
    deps.content && deps.contentStage ? batchHandoff(deps.contentStage, { runId, entity, now: deps.now ?? Date.now, signal }) : undefined;
  // One cache of what is archived for all the job's windows (docs/design.md §5).
  const archived = new ArchivedKeys({ container: deps.container, entity, signal });
  const job: EntityJob = { req, deps, log, signal, manifest, writerId, nextSeq: () => seq++, tally, pacer, commits, content, archived };
  try {
    const chunks = await chunkSource(req, deps, (c) => commits.loaded(c));
    for (let chunk = chunks.next(); chunk; chunk = chunks.next()) {
      signal?.throwIfAborted();
      const blobsBefore = manifest.blobCount;
      readSpan = spanWith(readSpan, chunk.window);
      await req.onReadSpan?.(readSpan);
      const outcome = await exportChunk(job, chunk);
      // A lost lease stops the job here at the latest: the checkpoint must not move under another worker.
      signal?.throwIfAborted();
      if (outcome.stoppedAt) {
        // The budget ran out inside the window: what it read is committed and its state recorded.
        log.info('job budget used; continuing in a new invocation', { pass: chunk.pass, parts: outcome.stoppedAt.parts.length });
        await manifest.save('continued');
        return { entity, status: 'done', counts, readSpan, continueAt: daily ? {} : { fromMs: chunk.window.fromMs } };
      }
      // Every blob of the window is committed: only now may the watermarks move (forward only).
      commits.windowCommitted(chunk.advance, outcome.added);
      chunks.committed(chunk);
      // The last window's move goes with the job's result in its last write, one operation for both.
      const last = chunks.next() === undefined;
      if (daily && !last && (manifest.blobCount > blobsBefore || commits.hasOpenRead)) await commits.writeCheckpoint(null);
      if (!daily) await req.onChunkCommitted?.({ ...chunks.resumeFrom() });
      if (pacer.stopDue() && chunks.next()) {
        if (daily) await commits.writeCheckpoint(null);
        await manifest.save('continued');
        return { entity, status: 'done', counts, readSpan, continueAt: daily ? {} : { ...chunks.resumeFrom() } };
      }
    }
    if (daily) await commits.writeCheckpoint(null, { runId, status: 'done' });
    await manifest.save('done');
    return {
      entity,
      status: 'done',
      counts,
      ...(readSpan ? { readSpan } : {}),
      ...(daily ? { resultRecorded: true } : {}),
    };
  } catch (err) {
    // Stopped: whatever the stop interrupted (a read, a write) failed with an abort; the reason says why.
    const error = toJobError(signal?.aborted ? signal.reason : err);
    const skipped = err instanceof GraphError && err.kind === 'skip-entity';
    if (skipped) log.info('entity skipped', { status: error.status, code: error.code, requestId: error.requestId });
    else log.error('entity failed', { ...error });
    // Not after a lost lease: the worker that holds the entity now may be writing this very manifest.
    if (!(signal?.reason instanceof LeaseLostError)) {
      await manifest
        .save(skipped ? 'skipped' : 'failed', error)
        .catch((e: unknown) => log.warn('manifest not written', { error: errorText(e) }));
    }
    return { entity, status: skipped ? 'skipped' : 'failed', counts, error, ...(readSpan ? { readSpan } : {}) };
  }
}

/** The span read so far, widened by a window. */
function spanWith(span: Window | undefined, window: Window): Window {
  return span
    ? { fromMs: Math.min(span.fromMs, window.fromMs), toMs: Math.max(span.toMs, window.toMs) }
    : { fromMs: window.fromMs, toMs: window.toMs };
}

export function toJobError(err: unknown): JobError {
  if (err instanceof GraphError) {
    return {
      ...(err.status !== undefined ? { status: err.status } : {}),
      ...(err.code !== undefined ? { code: err.code } : {}),
      ...(err.requestId !== undefined ? { requestId: err.requestId } : {}),
      message: err.message,
      retryable: err.kind === 'retryable',
      ...(err.kind === 'skip-entity' && err.reason !== undefined ? { reason: err.reason } : {}),
      ...(err.kind === 'app-refusal' ? { reason: APP_REFUSAL_REASON, ...(err.fix !== undefined ? { fix: err.fix } : {}) } : {}),
    };
  }
  // Anything else (storage unavailable, an abort, a lost lease) leaves the checkpoint where it was,
  // so trying again later is safe.
  if (err instanceof Error) return { code: err.name === 'AbortError' ? 'Aborted' : err.name, message: err.message, retryable: true };
  return { message: errorText(err) };
}
