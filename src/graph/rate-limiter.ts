// A token bucket shared by every Graph request of the process, so GRAPH_MAX_RPS holds overall and a
// 429's Retry-After pauses everyone, not just the request that was throttled.

import { performance } from 'node:perf_hooks';

interface Waiter {
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export class RateLimiter {
  private rate: number;
  private readonly burst: number;
  private readonly now: () => number;
  private tokens: number;
  private last: number;
  private pausedUntil = Number.NEGATIVE_INFINITY;
  private readonly queue: Waiter[] = [];
  /** Waiters of low priority (content downloads): served only while no other request waits. */
  private readonly lowQueue: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;

  /**
   * `burst` defaults to a tenth of a second's worth of tokens (at least 1): enough to keep a pipeline
   * busy without sending a spike Graph would answer with 429.
   */
  constructor(opts: { ratePerSec: number; burst?: number; now?: () => number }) {
    this.rate = checkRate(opts.ratePerSec);
    this.burst = Math.max(1, opts.burst ?? Math.ceil(this.rate / 10));
    this.now = opts.now ?? (() => performance.now());
    this.tokens = this.burst;
    this.last = this.now();
  }

  /**
   * Resolves when a token is available; waiters are served first come, first served, except that a
   * `low` priority waiter (a content download, docs/design.md §17) goes only while no other waits: when
   * the budget is short, export pages keep it. Rejects on abort.
   */
  acquire(signal?: AbortSignal, priority: 'normal' | 'low' = 'normal'): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.queue.length === 0 && this.lowQueue.length === 0 && this.take()) return Promise.resolve();
    const queue = priority === 'low' ? this.lowQueue : this.queue;
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      if (signal) {
        waiter.signal = signal;
        waiter.onAbort = () => {
          const i = queue.indexOf(waiter);
          if (i >= 0) queue.splice(i, 1);
          reject(signal.reason);
          this.schedule();
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      queue.push(waiter);
      this.schedule();
    });
  }

  /** Nobody gets a token before now + ms. Extends an existing pause, never shortens it. */
  pauseFor(ms: number): void {
    const until = this.now() + Math.max(0, ms);
    if (until <= this.pausedUntil) return;
    this.refill();
    this.pausedUntil = until;
    // No tokens accumulate during the pause, so it ends with a trickle, not a burst that would be
    // throttled again.
    this.tokens = Math.min(this.tokens, 1);
    this.last = until;
    this.schedule();
  }

  setRate(ratePerSec: number): void {
    this.refill();
    this.rate = checkRate(ratePerSec);
    this.schedule();
  }

  private refill(): void {
    const t = this.now();
    if (t <= this.last) return;
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.rate) / 1000);
    this.last = t;
  }

  private take(): boolean {
    if (this.now() < this.pausedUntil) return false;
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Serves waiters that can go now, then sets one timer for when the next one can. */
  private schedule(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    for (;;) {
      const queue = this.queue.length > 0 ? this.queue : this.lowQueue;
      if (queue.length === 0 || !this.take()) break;
      const w = queue.shift() as Waiter;
      if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
      w.resolve();
    }
    if (this.queue.length === 0 && this.lowQueue.length === 0) return;
    // Tokens accrue from `last` (which a pause moves to its end), so the next one is due then.
    const nextTokenAt = this.last + (Math.max(0, 1 - this.tokens) * 1000) / this.rate;
    const wait = Math.max(1, Math.ceil(Math.max(this.pausedUntil, nextTokenAt) - this.now()));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.schedule();
    }, wait);
  }
}

function checkRate(ratePerSec: number): number {
  if (!(ratePerSec > 0) || !Number.isFinite(ratePerSec)) throw new RangeError(`ratePerSec must be a positive number, got ${ratePerSec}`);
  return ratePerSec;
}
