// Per-conversation request pacing (hosted contents are limited to about 1 request/s per chat, on top
// of the tenant budget): one small token bucket per conversation id, with idle buckets evicted so a
// long run over many chats holds a bounded number of them.

import { performance } from 'node:perf_hooks';
import { RateLimiter } from './rate-limiter';

export interface KeyLimiter {
  acquire(signal?: AbortSignal): Promise<void>;
}

interface Bucket {
  limiter: RateLimiter;
  /** Callers waiting in acquire(): a bucket with waiters is never evicted. */
  pending: number;
  lastUsed: number;
}

export class ConversationLimiter {
  private readonly ratePerSec: number;
  private readonly burst: number;
  private readonly maxKeys: number;
  private readonly now: () => number;
  /** Map order is least recently used first (a used key is moved to the end). */
  private readonly buckets = new Map<string, Bucket>();

  /**
   * `burst` defaults to 1, so two requests of one conversation are always 1/ratePerSec apart.
   * `maxKeys` bounds memory; it can be exceeded only while every bucket is busy.
   */
  constructor(opts: { ratePerSec?: number; burst?: number; maxKeys?: number; now?: () => number } = {}) {
    this.ratePerSec = opts.ratePerSec ?? 1;
    this.burst = Math.max(1, opts.burst ?? 1);
    this.maxKeys = Math.max(1, opts.maxKeys ?? 1000);
    this.now = opts.now ?? (() => performance.now());
    // Validates the rate now, not on the first request.
    new RateLimiter({ ratePerSec: this.ratePerSec, burst: this.burst });
  }

  /** The limiter of one conversation; acquire() resolves when that conversation may send again. */
  forKey(key: string): KeyLimiter {
    return {
      acquire: async (signal?: AbortSignal) => {
        const bucket = this.bucket(key);
        bucket.pending++;
        try {
          await bucket.limiter.acquire(signal);
        } finally {
          bucket.pending--;
          bucket.lastUsed = this.now();
        }
      },
    };
  }

  /** How many conversations currently have a bucket (for tests and stats). */
  size(): number {
    return this.buckets.size;
  }

  private bucket(key: string): Bucket {
    let bucket = this.buckets.get(key);
    if (bucket) {
      this.buckets.delete(key);
    } else {
      this.evictIdle();
      bucket = {
        limiter: new RateLimiter({ ratePerSec: this.ratePerSec, burst: this.burst, now: this.now }),
        pending: 0,
        lastUsed: this.now(),
      };
    }
    this.buckets.set(key, bucket);
    return bucket;
  }

  /**
   * Drops least recently used buckets until there is room. Only a bucket that has refilled completely
   * is dropped: a fresh bucket for that key then behaves exactly as the old one would have.
   */
  private evictIdle(): void {
    if (this.buckets.size < this.maxKeys) return;
    const refillMs = (this.burst * 1000) / this.ratePerSec;
    const t = this.now();
    for (const [key, b] of this.buckets) {
      if (this.buckets.size < this.maxKeys) return;
      if (b.pending === 0 && t - b.lastUsed >= refillMs) this.buckets.delete(key);
    }
  }
}
