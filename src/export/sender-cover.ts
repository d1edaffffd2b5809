// Sender mode's follow-up (docs/design.md §15), shared by the single-process run (run-in-process.ts)
// and the queued run (app/sender-cover-queue.ts): which members still need covering once the user
// jobs have ended, which users read them, and the request each reader runs.
import type { Entity } from '../model/entity';
import type { JobError, JobStatus } from '../model/job';
import type { Window } from '../model/window';
import type { ExportEntityRequest } from './export-entity';

export interface CoverReader {
  entity: Entity;
  readSpan: Window;
}

/**
 * The members whose own job was skipped or failed (guests, listed in `asked`, are asked for by every
 * user job already) and the users whose job succeeded, with the windows their job read.
 */
export function coverPlan(
  jobs: Iterable<{ entity: Entity; status: JobStatus; readSpan?: Window | undefined }>,
  asked: ReadonlySet<string>,
): { missing: string[]; readers: CoverReader[] } {
  const missing: string[] = [];
  const readers: CoverReader[] = [];
  for (const j of jobs) {
    if (j.entity.kind !== 'user') continue;
    if (j.status === 'done') {
      if (j.readSpan) readers.push({ entity: j.entity, readSpan: j.readSpan });
    } else if (!asked.has(j.entity.id)) missing.push(j.entity.id);
  }
  return { missing, readers };
}

/** One reader's follow-up: the members' messages in its chats, over its job's windows (no checkpoint moves). */
export function coverRequest(runId: string, reader: CoverReader, senderIds: readonly string[]): ExportEntityRequest {
  return { runId, entity: reader.entity, mode: { kind: 'backfill', window: reader.readSpan }, coverSenderIds: senderIds };
}

/** The error a reader's job is recorded with when its follow-up failed: the run fails, the gap is named. */
export function coverFailure(error: JobError | undefined): JobError {
  return {
    ...(error ?? { message: 'unknown error' }),
    message: `sender-mode follow-up for members without their own export failed: ${error?.message ?? 'unknown error'}`,
  };
}

/** The smallest window holding both (either may be absent): a queued job's span over its invocations. */
export function joinSpans(a: Window | undefined, b: Window | undefined): Window | undefined {
  if (!a || !b) return a ?? b;
  return { fromMs: Math.min(a.fromMs, b.fromMs), toMs: Math.max(a.toMs, b.toMs) };
}
