// A counting semaphore for content downloads: at most `limit` run at once; the rest wait in arrival
// order. One per process (EXPORT_CONTENT_PROCESS_CONCURRENCY) bounds the memory and disk that all jobs'
// downloads hold together; a job bounds its own share with runPooled (EXPORT_CONTENT_CONCURRENCY).

/** Content downloads one job runs at once unless EXPORT_CONTENT_CONCURRENCY says otherwise. */
export const DEFAULT_CONTENT_JOB_CONCURRENCY = 4;

export class ContentSlots {
  private active = 0;
  private peak = 0;
  /** Waiters by priority, highest first; in arrival order within one priority. */
  private readonly waiting: Array<{ grant: () => void; priority: number }> = [];

  constructor(readonly limit: number) {
    if (!(Number.isInteger(limit) && limit >= 1)) throw new RangeError(`content concurrency must be an integer >= 1, got ${limit}`);
  }

  /** Downloads running now, and the most that ran at once. */
  stats(): { active: number; peak: number } {
    return { active: this.active, peak: this.peak };
  }

  /**
   * Runs `op` once a slot is free; a wait ends early (rejecting) when the signal fires. A free slot goes
   * to the waiter of highest `priority` (default 0), the longest waiting among equals: the content stage
   * gives the downloads of conversations with the most content left a higher one (docs/design.md §17).
   */
  async run<T>(op: () => Promise<T>, signal?: AbortSignal, priority = 0): Promise<T> {
    await this.acquire(signal, priority);
    try {
      return await op();
    } finally {
      this.release();
    }
  }

  private acquire(signal: AbortSignal | undefined, priority: number): Promise<void> {
    signal?.throwIfAborted();
    if (this.active < this.limit) {
      this.take();
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        priority,
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          this.take();
          resolve();
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      // After every waiter of this priority or higher.
      let i = this.waiting.length;
      while (i > 0 && this.waiting[i - 1]!.priority < priority) i--;
      this.waiting.splice(i, 0, waiter);
    });
  }

  private take(): void {
    this.active++;
    if (this.active > this.peak) this.peak = this.active;
  }

  private release(): void {
    this.active--;
    this.waiting.shift()?.grant();
  }
}

/** Maps `items` through `op` with at most `limit` running at once; results in input order. */
export async function runPooled<T, R>(items: readonly T[], limit: number, op: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await op(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
