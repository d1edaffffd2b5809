// One job exports one entity in one run: what it was asked to do, and what it reports back.
import type { Entity } from './entity';
import type { Window } from './window';

/** What a job reads: the daily passes up to `nowMs`, or an operator-chosen backfill window. */
export type JobMode = { kind: 'daily'; nowMs: number } | { kind: 'backfill'; window: Window };

/** Graph failure details recorded on job rows and in status output. */
export interface JobError {
  status?: number;
  code?: string;
  requestId?: string;
  message: string;
  /** True when trying again later may succeed (throttling, 5xx, network, storage, a busy entity). */
  retryable?: boolean;
  /**
   * Why, in one word a report can count: for a skipped job the skip reason (`no-mailbox`,
   * `no-teams-licence`, `invalid-user`, `entity-gone`, `forbidden`; docs/graph-errors.md) or `run-failed`
   * (not run: the run had already failed on an app-level refusal of this entity kind); for a failed job
   * `app-refusal` when Graph refused the app itself (docs/design.md §9).
   */
  reason?: string;
  /** For an app-level refusal: the permission or setting to fix, in words an operator can act on. */
  fix?: string;
}

/** The reason of a job not run because its run had failed on an app-level refusal of its entity kind. */
export const RUN_FAILED_REASON = 'run-failed';
/** The reason of a job Graph refused for the app itself (a missing permission, consent, an API this cloud lacks). */
export const APP_REFUSAL_REASON = 'app-refusal';

export type JobStatus = 'queued' | 'running' | 'done' | 'skipped' | 'failed';

export interface JobCounts {
  /** Versions received from Graph (including ones already archived). */
  received: number;
  /** New versions written to batches. */
  messages: number;
  /** Versions already archived (re-reads, settle pass, overlaps). */
  duplicates: number;
  /** Versions that failed validation and went to quarantine/. */
  quarantined: number;
  blobs: number;
  bytes: number;
  pages: number;
}

export interface JobResult {
  entity: Entity;
  status: 'done' | 'skipped' | 'failed';
  counts: JobCounts;
  error?: JobError;
  /** A finished job: from the start of its first window to the end of its last (sender mode's follow-up rereads it). */
  readSpan?: Window;
}

/** Per-reason counts added up (a job's attempts, a run's jobs). */
export function addReasonCounts(
  a: Readonly<Record<string, number>> | undefined,
  b: Readonly<Record<string, number>> | undefined,
): Record<string, number> {
  const out: Record<string, number> = { ...a };
  for (const [k, n] of Object.entries(b ?? {})) out[k] = (out[k] ?? 0) + n;
  return out;
}

export const emptyCounts = (): JobCounts => ({ received: 0, messages: 0, duplicates: 0, quarantined: 0, blobs: 0, bytes: 0, pages: 0 });

/** Field-by-field sum (a job's attempts, a run's jobs). */
export function addCounts(a: JobCounts, b: Partial<JobCounts>): JobCounts {
  const out = emptyCounts();
  for (const k of Object.keys(out) as Array<keyof JobCounts>) out[k] = a[k] + (b[k] ?? 0);
  return out;
}
