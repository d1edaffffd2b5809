// Plans an entity job's windows (docs/design.md §4): hands them out one at a time, each planned from
// what the job has committed so far. A daily job plans from its checkpoint's watermarks (read once, at
// the start), a backfill from its range and resume point. A recorded unfinished read of the next
// window replaces that window, so the read goes on where it stood. Watermarks only move forward.
import type { Checkpoint, CheckpointStore } from '../state/checkpoint-store';
import type { Entity } from '../model/entity';
import type { JobMode } from '../model/job';
import type { OpenRead } from '../model/window';
import type { ResumePoint } from './job-budget';
import { loadOpenRead } from './open-read';
import { planBackfillChunks, planDailyChunks, type PlannedChunk, type Watermarks, type WindowSettings } from './windows';

/** Hands out a job's windows one at a time. */
export interface ChunkSource {
  next(): PlannedChunk | undefined;
  committed(chunk: PlannedChunk): void;
  /** Backfills: the start of what is left (daily jobs resume from their checkpoint). */
  resumeFrom(): { fromMs?: number };
}

/** The job's windows; a daily job's checkpoint row, as read for planning, goes to `onCheckpoint`. */
export async function chunkSource(
  req: { entity: Entity; mode: JobMode; resume?: ResumePoint | undefined },
  deps: { windows: WindowSettings; checkpoints: CheckpointStore },
  onCheckpoint: (c: Checkpoint | undefined) => void,
): Promise<ChunkSource> {
  const mode = req.mode;
  const chunkMs = deps.windows.chunkMs;
  if (mode.kind === 'backfill') {
    // Half-open: [from, to) with everything before the recorded resume point already committed.
    let fromMs = Math.max(mode.window.fromMs, req.resume?.fromMs ?? mode.window.fromMs);
    let read = req.resume?.read;
    return {
      next: () => {
        if (fromMs >= mode.window.toMs) return undefined;
        const chunk = planBackfillChunks({ fromMs, toMs: mode.window.toMs }, chunkMs)[0];
        return chunk ? withRecordedRead(chunk, read) : undefined;
      },
      committed: (chunk) => {
        fromMs = Math.max(fromMs, chunk.window.toMs);
        read = undefined;
      },
      resumeFrom: () => ({ fromMs }),
    };
  }
  // A team deleted since the last run continues from where its live export stopped.
  const checkpoint = await deps.checkpoints.getForPlanning(req.entity);
  onCheckpoint(checkpoint);
  let read = loadOpenRead(checkpoint?.readState);
  // The watermarks as committed so far: each next window is planned from them (forward only).
  let wm: Watermarks = {
    ...(checkpoint?.freshWatermarkMs !== undefined ? { freshWatermarkMs: checkpoint.freshWatermarkMs } : {}),
    ...(checkpoint?.settledWatermarkMs !== undefined ? { settledWatermarkMs: checkpoint.settledWatermarkMs } : {}),
  };
  return {
    next: () => {
      const chunk = planDailyChunks(wm, mode.nowMs, deps.windows)[0];
      return chunk ? withRecordedRead(chunk, read) : undefined;
    },
    committed: (chunk) => {
      wm = laterWatermarks(wm, chunk.advance);
      read = undefined;
    },
    resumeFrom: () => ({}),
  };
}

/**
 * The planned window, or the recorded read of a window that starts where it does (same pass): that
 * read goes on with its own end (its links carry it) and the window after it is planned next.
 */
function withRecordedRead(chunk: PlannedChunk, read: OpenRead | undefined): PlannedChunk {
  if (!read || read.pass !== chunk.pass || read.fromMs !== chunk.window.fromMs || read.toMs > chunk.window.toMs) return chunk;
  const toMs = read.toMs;
  const advance: Watermarks = {};
  if (chunk.advance.freshWatermarkMs !== undefined) advance.freshWatermarkMs = toMs;
  if (chunk.advance.settledWatermarkMs !== undefined) advance.settledWatermarkMs = toMs;
  return { ...chunk, window: { fromMs: chunk.window.fromMs, toMs }, advance, read };
}

/** Each watermark the later of the two (forward only); undefined only where both are. */
export function laterWatermarks(a: Watermarks, b: Watermarks): Watermarks {
  const out: Watermarks = {};
  const fresh = maxDefined(a.freshWatermarkMs, b.freshWatermarkMs);
  const settled = maxDefined(a.settledWatermarkMs, b.settledWatermarkMs);
  if (fresh !== undefined) out.freshWatermarkMs = fresh;
  if (settled !== undefined) out.settledWatermarkMs = settled;
  return out;
}

function maxDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.max(a, b);
}
