import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/graph/rate-limiter';

/** Acquires n tokens one after another and returns when each was granted, relative to the start. */
async function grantTimes(limiter: RateLimiter, n: number): Promise<number[]> {
  const start = performance.now();
  return Promise.all(
    Array.from({ length: n }, async () => {
      await limiter.acquire();
      return performance.now() - start;
    }),
  );
}

describe('RateLimiter', () => {
  it('grants the burst at once and then no more than ratePerSec', async () => {
    const limiter = new RateLimiter({ ratePerSec: 20, burst: 5 });
    const times = await grantTimes(limiter, 25);
    // 5 immediately, then 20 more at 20/s: about one second in total.
    expect(times.filter((t) => t < 30)).toHaveLength(5);
    const last = Math.max(...times);
    expect(last).toBeGreaterThanOrEqual(950);
    expect(last).toBeLessThan(1500);
  });

  it('serves waiters in the order they asked', async () => {
    const limiter = new RateLimiter({ ratePerSec: 100, burst: 1 });
    const order: number[] = [];
    await Promise.all(Array.from({ length: 6 }, (_, i) => limiter.acquire().then(() => order.push(i))));
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('pauseFor blocks every caller, including ones already waiting, until the pause ends', async () => {
    const limiter = new RateLimiter({ ratePerSec: 1000, burst: 10 });
    const start = performance.now();
    limiter.pauseFor(150);
    const times = await Promise.all([1, 2, 3].map(async () => {
      await limiter.acquire();
      return performance.now() - start;
    }));
    for (const t of times) expect(t).toBeGreaterThanOrEqual(149);
    expect(Math.max(...times)).toBeLessThan(400);
  });

  it('a shorter pause does not shorten a longer one already in force', async () => {
    const limiter = new RateLimiter({ ratePerSec: 1000, burst: 10 });
    const start = performance.now();
    limiter.pauseFor(200);
    limiter.pauseFor(10);
    await limiter.acquire();
    expect(performance.now() - start).toBeGreaterThanOrEqual(199);
  });

  it('aborting a waiting acquire rejects it promptly and lets the next waiter through', async () => {
    const limiter = new RateLimiter({ ratePerSec: 1000, burst: 1 });
    limiter.pauseFor(5_000);
    const controller = new AbortController();
    const waiting = limiter.acquire(controller.signal);
    const start = performance.now();
    setTimeout(() => controller.abort(new Error('stop')), 20);
    await expect(waiting).rejects.toThrow('stop');
    expect(performance.now() - start).toBeLessThan(200);
    await expect(limiter.acquire(AbortSignal.abort(new Error('already')))).rejects.toThrow('already');
  });

  it('setRate changes the pace of later grants', async () => {
    const limiter = new RateLimiter({ ratePerSec: 1, burst: 1 });
    await limiter.acquire();
    limiter.setRate(50);
    const start = performance.now();
    await limiter.acquire();
    await limiter.acquire();
    // At 1/s the second token alone would take a second.
    expect(performance.now() - start).toBeLessThan(200);
  });

  it('rejects a rate that is not positive', () => {
    expect(() => new RateLimiter({ ratePerSec: 0 })).toThrow(RangeError);
  });
});
