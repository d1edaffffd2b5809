// Window arithmetic of the export contract (docs/design.md §3, §4): which half-open ranges of
// lastModifiedDateTime a job reads, in which passes, cut into chunks, and what each chunk advances.
import type { OpenRead, PassName, Window } from '../model/window';

export interface WindowSettings {
  lagMs: number;
  settleMs: number;
  /** The longest window one read covers (EXPORT_CHUNK); Infinity (the default): a pass is one window. */
  chunkMs: number;
  startMs: number;
}

export interface Watermarks {
  freshWatermarkMs?: number | undefined;
  settledWatermarkMs?: number | undefined;
}

/** One window to read, and the watermarks to advance once every blob of it is committed. */
export interface PlannedChunk {
  pass: PassName;
  window: Window;
  advance: Watermarks;
  /** The recorded state of an earlier, unfinished read of this window (export/open-read.ts). */
  read?: OpenRead;
}

/**
 * Plans a daily job. The settle pass goes first: `[settled, now − SETTLE)`. A range read at least
 * SETTLE after its end is settled, and also read once, so it advances both watermarks; that is why
 * the fresh pass then starts at max(fresh, settle end) and a first run or a long outage reads its
 * backlog once instead of twice. The fresh pass reads `[fresh, now − LAG)`. In steady state every
 * range is therefore read twice: once soon after it happens, once after it has settled.
 */
export function planDailyChunks(wm: Watermarks, nowMs: number, s: WindowSettings): PlannedChunk[] {
  const settledFrom = wm.settledWatermarkMs ?? s.startMs;
  const settleTo = nowMs - s.settleMs;
  const chunks: PlannedChunk[] = [];
  let readUpTo = settledFrom;
  if (settleTo > settledFrom) {
    for (const window of cutIntoChunks({ fromMs: settledFrom, toMs: settleTo }, s.chunkMs)) {
      chunks.push({ pass: 'settle', window, advance: { settledWatermarkMs: window.toMs, freshWatermarkMs: window.toMs } });
    }
    readUpTo = settleTo;
  }
  const freshFrom = Math.max(wm.freshWatermarkMs ?? s.startMs, readUpTo);
  const freshTo = nowMs - s.lagMs;
  if (freshTo > freshFrom) {
    for (const window of cutIntoChunks({ fromMs: freshFrom, toMs: freshTo }, s.chunkMs)) {
      chunks.push({ pass: 'fresh', window, advance: { freshWatermarkMs: window.toMs } });
    }
  }
  return chunks;
}

/** Plans a backfill: the operator's range, chunked; backfills never move the daily watermarks. */
export function planBackfillChunks(window: Window, chunkMs: number): PlannedChunk[] {
  return cutIntoChunks(window, chunkMs).map((w) => ({ pass: 'backfill' as const, window: w, advance: {} }));
}

/** Cuts [from, to) into consecutive half-open chunks of at most chunkMs that cover it exactly. */
export function cutIntoChunks(window: Window, chunkMs: number): Window[] {
  if (!(chunkMs > 0)) throw new RangeError('chunkMs must be positive');
  const out: Window[] = [];
  for (let from = window.fromMs; from < window.toMs; from += chunkMs) {
    out.push({ fromMs: from, toMs: Math.min(from + chunkMs, window.toMs) });
  }
  return out;
}

/** Windows shorter than this are not split: the extra requests would cost more than they save. */
export const MIN_SPLIT_MS = 60 * 60_000;

/**
 * Splits a window into at most `parts` consecutive half-open sub-windows of equal length (whole
 * milliseconds) that cover it exactly; short windows stay whole.
 */
export function splitWindow(window: Window, parts: number): Window[] {
  const span = window.toMs - window.fromMs;
  const n = Math.max(1, Math.min(Math.floor(parts), Math.floor(span / MIN_SPLIT_MS)));
  if (n <= 1) return [window];
  const step = Math.ceil(span / n);
  return cutIntoChunks(window, step);
}
