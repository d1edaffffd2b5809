// The export's memory budget for message data, one per process and shared by all its jobs
// (EXPORT_MEMORY_MB, docs/design.md §14): how many bytes of day-batch lines the day batchers may buffer
// and how many bytes of Graph pages the reads may have in flight at once. Without it each job bounded
// only its own buffers, so the memory of a process grew with EXPORT_CONCURRENCY × EXPORT_READS_PER_ENTITY.
//
// - Lines: a day batcher keeps each day's lines in one buffer taken from here (it grows by moving to a
//   larger one) and gives it back when the day is written. When the lines' share is used up, a batcher
//   holding at least its fair share writes its largest day early (as its own batch, the rule it already
//   follows at its own 5000 versions / 2 MiB); one holding less may go over, so no batcher ever waits for
//   another and the total stays within the share plus a buffer per batcher.
// - Pages: a read reserves the bytes of the page it is about to request (its last page's size) before it
//   asks for it, and gives them back once the page's versions are in the day buffers. A read waits while
//   the pages' share is used up, unless nothing is reserved at all, so reads go on at the pace memory
//   allows instead of EXPORT_CONCURRENCY × EXPORT_READS_PER_ENTITY pages at once. A page's lines wait for
//   their batcher in a buffer from here too.
//
// A buffer given back is freed at once (free-now.ts) rather than at the next full garbage collection, so
// the process does not hold a collection cycle's worth of garbage besides what it uses. (Keeping given-back
// buffers for reuse was tried: the kept buffers stayed resident while the C heap grew for everything else,
// and peak RSS was higher; bench/RESULTS.md, "Peak RSS (issue 22)".)
import { freeNow } from '../free-now';

/** The smallest buffer (a day with one short message holds no more). */
export const MIN_BUFFER = 1024;
/** Up to this size capacities are powers of two; beyond it, multiples of it (less room lost). */
const STEP = 256 * 1024;
/** Lines' share of the budget; the rest is for pages in flight. */
export const LINE_SHARE = 7 / 8;
/** What a read reserves for a page before any page of the process has been seen (50 versions of ~2 KB). */
const FIRST_PAGE_GUESS = 100 * 1024;

export interface MemoryBudgetStats {
  /** Capacity of the day buffers held by batchers now (bytes), and at most. */
  lineBytes: number;
  peakLineBytes: number;
  /** Day buffers given out beyond the lines' share (to batchers below their fair share). */
  overdrafts: number;
  /** Days written early because the lines' share was used up. */
  pressureFlushes: number;
  /** Page bytes reserved now, and at most. */
  pageBytes: number;
  peakPageBytes: number;
  /** Reads that had to wait for the pages' share. */
  pageWaits: number;
}

/** A page's reservation: `resize` once its size is known, `release` once its versions are buffered. */
export interface PageTicket {
  readonly bytes: number;
  resize(bytes: number): void;
  release(): void;
}

interface Waiter {
  bytes: number;
  grant: () => void;
}

export class MemoryBudget {
  /** Bytes of day buffers the batchers may hold in all. */
  readonly lineLimit: number;
  /** Bytes of pages the reads may have in flight in all. */
  readonly pageLimit: number;
  private lineBytes = 0;
  /** Batchers holding at least one day buffer (the fair share divides by them). */
  private holders = 0;
  private pageBytes = 0;
  private readonly waiters: Waiter[] = [];
  /** A running mean of page sizes: what a read with no page of its own yet reserves. */
  private meanPage = FIRST_PAGE_GUESS;
  private readonly counters = { peakLineBytes: 0, overdrafts: 0, pressureFlushes: 0, peakPageBytes: 0, pageWaits: 0 };

  /** `bytes`: the whole budget (EXPORT_MEMORY_MB); Infinity for none (tests that build a batcher alone). */
  constructor(bytes: number) {
    if (!(bytes > 0)) throw new RangeError(`memory budget must be positive, got ${bytes}`);
    this.lineLimit = bytes * LINE_SHARE;
    this.pageLimit = Number.isFinite(bytes) ? bytes - this.lineLimit : Infinity;
  }

  stats(): MemoryBudgetStats {
    return { lineBytes: this.lineBytes, pageBytes: this.pageBytes, ...this.counters };
  }

  /** The capacity a buffer holding `bytes` gets: a power of two up to 256 KiB, a multiple of 256 KiB beyond. */
  static capacityFor(bytes: number): number {
    if (bytes > STEP) return Math.ceil(bytes / STEP) * STEP;
    let c = MIN_BUFFER;
    while (c < bytes) c *= 2;
    return c;
  }

  // ---- lines -----------------------------------------------------------------------------------

  /** True while the lines' share has room for `bytes` more. */
  linesHaveRoom(bytes: number): boolean {
    return this.lineBytes + bytes <= this.lineLimit;
  }

  /** The share of the lines' budget one holder may keep while the budget is used up. */
  fairShare(): number {
    return this.lineLimit / Math.max(1, this.holders);
  }

  /** A batcher started or stopped holding day buffers. */
  holding(delta: 1 | -1): void {
    this.holders += delta;
  }

  /** Counts a day written early for the budget (stats only). */
  notePressureFlush(): void {
    this.counters.pressureFlushes++;
  }

  /**
   * A day buffer of `capacity` bytes (from capacityFor). Always given: the caller has checked the share
   * first (linesHaveRoom) and made room if it had to.
   */
  takeLineBuffer(capacity: number): Buffer {
    if (!this.linesHaveRoom(capacity)) this.counters.overdrafts++;
    this.lineBytes += capacity;
    this.counters.peakLineBytes = Math.max(this.counters.peakLineBytes, this.lineBytes);
    return Buffer.allocUnsafeSlow(capacity);
  }

  /** A day buffer is no longer needed (its day was written, or failed): freed at once. */
  giveBackLineBuffer(buf: Buffer): void {
    this.lineBytes -= buf.length;
    freeNow(buf);
  }

  // ---- pages -----------------------------------------------------------------------------------

  /** What a read reserves for its next page: its last page's size, or the process's mean so far. */
  pageGuess(last: number | undefined): number {
    return last ?? this.meanPage;
  }

  /**
   * Reserves `bytes` for a page about to be requested; waits (first come, first served) while the pages'
   * share is used up, unless nothing is reserved. Rejects with the signal's reason when it fires first.
   */
  async reservePage(bytes: number, signal?: AbortSignal): Promise<PageTicket> {
    signal?.throwIfAborted();
    if (this.waiters.length > 0 || !this.pageFits(bytes)) {
      this.counters.pageWaits++;
      await new Promise<void>((resolve, reject) => {
        const waiter: Waiter = {
          bytes,
          grant: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
        };
        const onAbort = () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          // The next one may fit now that this one is gone from the head of the line.
          this.grantWaiters();
          reject(signal?.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiters.push(waiter);
      });
    } else {
      this.addPageBytes(bytes);
    }
    return this.ticket(bytes);
  }

  /** A buffer for a page's lines (`bytes` of them), inside the page's reservation; give it back after. */
  takePageBuffer(bytes: number): Buffer {
    return Buffer.allocUnsafeSlow(bytes);
  }

  /** The page's lines have been taken: freed at once. */
  givePageBufferBack(buf: Buffer): void {
    freeNow(buf);
  }

  private pageFits(bytes: number): boolean {
    return this.pageBytes === 0 || this.pageBytes + bytes <= this.pageLimit;
  }

  private addPageBytes(bytes: number): void {
    this.pageBytes += bytes;
    this.counters.peakPageBytes = Math.max(this.counters.peakPageBytes, this.pageBytes);
  }

  private grantWaiters(): void {
    for (let w = this.waiters[0]; w && this.pageFits(w.bytes); w = this.waiters[0]) {
      this.waiters.shift();
      this.addPageBytes(w.bytes);
      w.grant();
    }
  }

  private ticket(reserved: number): PageTicket {
    let held = reserved;
    let released = false;
    const resize = (bytes: number) => {
      if (released) return;
      this.pageBytes += bytes - held;
      this.counters.peakPageBytes = Math.max(this.counters.peakPageBytes, this.pageBytes);
      const shrunk = bytes < held;
      held = bytes;
      // A running mean over the last few dozen pages: what a read without a page of its own reserves.
      this.meanPage += (bytes - this.meanPage) / 32;
      if (shrunk) this.grantWaiters();
    };
    const release = () => {
      if (released) return;
      released = true;
      this.pageBytes -= held;
      this.grantWaiters();
    };
    return {
      get bytes() {
        return held;
      },
      resize,
      release,
    };
  }
}

/** A budget without bounds, for a batcher or read built without the process's (tests, tools). */
export function unboundedBudget(): MemoryBudget {
  return new MemoryBudget(Infinity);
}
