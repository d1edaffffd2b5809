// The time budget of one queue invocation of a job (EXPORT_JOB_BUDGET, docs/functions.md §3) and the
// pace at which a long window read records its progress (docs/design.md §4). A read stops between
// pages: once most of the budget is used it commits what it has read, records where each part of the
// window stands, and hands back where to resume. The single-process run has no budget and never stops,
// but records progress as often, so a crashed run resumes too.
import type { OpenRead } from '../model/window';

/** Reading stops once this share of the budget is used: the rest is for the final flush and bookkeeping. */
export const STOP_SHARE = 0.75;
/** A long read commits and records its progress at least this often. */
export const PROGRESS_EVERY_MS = 60_000;

export interface JobBudget {
  /** How long one invocation may work (EXPORT_JOB_BUDGET). */
  budgetMs: number;
  now: () => number;
}

/** Where a job continues. */
export interface ResumePoint {
  /** Backfill: everything before this is committed. Daily jobs resume from their checkpoint instead. */
  fromMs?: number;
  /** Backfill: the unfinished read of the window that starts at `fromMs`. */
  read?: OpenRead;
}

/** Merges two resume points (the message's and the recorded progress): the later start, and its read. */
export function laterResume(a: ResumePoint | undefined, b: ResumePoint | undefined): ResumePoint | undefined {
  if (!a) return b;
  if (!b) return a;
  const af = a.fromMs ?? -Infinity;
  const bf = b.fromMs ?? -Infinity;
  // Same start: the recorded progress (b) is the newer of the two when it has a read at all.
  if (af > bf || (af === bf && !b.read)) return a;
  return b;
}

/** Paces one invocation's reads: when to record progress, when to stop (budget) and hand over. */
export class ReadPacer {
  private readonly startedAtMs: number;
  private lastSavedMs: number;
  private readonly progressEveryMs: number;
  readonly now: () => number;

  constructor(
    private readonly budget: JobBudget | undefined,
    now: () => number = Date.now,
  ) {
    this.now = budget ? budget.now : now;
    this.startedAtMs = this.now();
    this.lastSavedMs = this.startedAtMs;
    this.progressEveryMs = budget ? Math.min(PROGRESS_EVERY_MS, budget.budgetMs / 4) : PROGRESS_EVERY_MS;
  }

  /** True once the invocation should stop reading (only with a budget). */
  stopDue(): boolean {
    return this.budget !== undefined && this.now() - this.startedAtMs >= this.budget.budgetMs * STOP_SHARE;
  }

  /** True when the read should commit and record where it stands. */
  progressDue(): boolean {
    return this.now() - this.lastSavedMs >= this.progressEveryMs;
  }

  progressSaved(): void {
    this.lastSavedMs = this.now();
  }
}
