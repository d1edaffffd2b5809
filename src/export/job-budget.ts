// The time budget of one queue invocation of a job (EXPORT_JOB_BUDGET, docs/functions.md §3): the job
// commits whole chunks and, once the next one would not fit, stops and hands back where to resume.
// Chunks shrink on their own when an entity is dense or its content slow, so one chunk always
// commits well within the budget (docs/design.md §4).
import { HOUR } from '../time';

/** Chunks never shrink below this (or below EXPORT_CHUNK when that is shorter). */
export const MIN_CHUNK_MS = HOUR;
/** A chunk that took more than this share of the budget halves the next ones. */
export const SHRINK_SHARE = 0.25;

export interface JobBudget {
  /** How long one invocation may work (EXPORT_JOB_BUDGET). */
  budgetMs: number;
  now: () => number;
}

/** Where a job continues: the next chunk's start (backfills) and the chunk length reached so far. */
export interface ResumePoint {
  /** Backfill: everything before this is committed. Daily jobs resume from their checkpoint instead. */
  fromMs?: number;
  /** The chunk length the job had shrunk to. */
  chunkMs?: number;
}

/** Merges two resume points (the message's and the recorded progress): the later start, the shorter chunk. */
export function laterResume(a: ResumePoint | undefined, b: ResumePoint | undefined): ResumePoint | undefined {
  if (!a) return b;
  if (!b) return a;
  const fromMs = a.fromMs === undefined ? b.fromMs : b.fromMs === undefined ? a.fromMs : Math.max(a.fromMs, b.fromMs);
  const chunkMs = a.chunkMs === undefined ? b.chunkMs : b.chunkMs === undefined ? a.chunkMs : Math.min(a.chunkMs, b.chunkMs);
  return { ...(fromMs !== undefined ? { fromMs } : {}), ...(chunkMs !== undefined ? { chunkMs } : {}) };
}

/**
 * Paces the chunks of one invocation. Without a budget (the single-process run) it never stops and
 * never shrinks: the same chunk loop then simply runs to the end.
 */
export class ChunkPacer {
  private readonly startedAtMs: number;
  private readonly floorMs: number;
  chunkMs: number;

  constructor(
    configuredChunkMs: number,
    private readonly budget: JobBudget | undefined,
    resumeChunkMs?: number,
  ) {
    this.floorMs = Math.min(configuredChunkMs, MIN_CHUNK_MS);
    this.chunkMs = Math.max(this.floorMs, Math.min(configuredChunkMs, resumeChunkMs ?? configuredChunkMs));
    this.startedAtMs = budget ? budget.now() : 0;
  }

  now(): number {
    return this.budget ? this.budget.now() : 0;
  }

  /**
   * Called once a chunk has committed, with when it started. Shrinks the chunk length when that chunk
   * took too large a share of the budget, and answers whether the job should stop now (the next chunk,
   * by the last one's pace, would end past the budget). At least one chunk runs per invocation.
   */
  afterChunk(chunkStartedAtMs: number): { stop: boolean } {
    if (!this.budget) return { stop: false };
    const t = this.budget.now();
    const took = Math.max(0, t - chunkStartedAtMs);
    const before = this.chunkMs;
    if (took > this.budget.budgetMs * SHRINK_SHARE) this.chunkMs = Math.max(this.floorMs, Math.floor(this.chunkMs / 2));
    const nextEstimate = took * (this.chunkMs / before);
    return { stop: t - this.startedAtMs + nextEstimate > this.budget.budgetMs };
  }
}
