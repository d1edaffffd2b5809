import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/graph/rate-limiter';
import { HANG_MS, settlesWithoutWaiting, TIMER_SLACK_MS } from '../support/timing';

/** Asks for n tokens at once and returns when each was granted, relative to `start`, in grant order. */
async function grantTimes(limiter: RateLimiter, n: number, start: number): Promise<number[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      await limiter.acquire();
      return performance.now() - start;
    }),
  );
}

describe('RateLimiter', () => {
  it('grants the burst at once and then no more than ratePerSec', async () => {
    // Taken before the limiter exists: nothing can be granted before its bucket's clock starts.
    const start = performance.now();
    const limiter = new RateLimiter({ ratePerSec: 20, burst: 5 });
    expect(await settlesWithoutWaiting(Promise.all(Array.from({ length: 5 }, () => limiter.acquire())))).toBe(true);
    const times = await grantTimes(limiter, 20, start);
    // The k-th token after the burst cannot come before k / 20 s (a slow machine only delays grants).
    times.forEach((t, i) => expect(t, `grant ${i + 1} after the burst`).toBeGreaterThanOrEqual(((i + 1) * 1000) / 20 - 1));
    expect(Math.max(...times)).toBeLessThan(1000 + HANG_MS);
  });

  it('serves waiters in the order they asked', async () => {
    const limiter = new RateLimiter({ ratePerSec: 100, burst: 1 });
    const order: number[] = [];
    await Promise.all(Array.from({ length: 6 }, (_, i) => limiter.acquire().then(() => order.push(i))));
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('serves a low-priority waiter (a content download) only while no export request waits', async () => {
    const limiter = new RateLimiter({ ratePerSec: 100, burst: 1 });
    await limiter.acquire(); // the burst: everyone below waits
    const order: string[] = [];
    const low = [0, 1, 2].map((i) => limiter.acquire(undefined, 'low').then(() => order.push(`content ${i}`)));
    const normal = [0, 1, 2].map((i) => limiter.acquire().then(() => order.push(`page ${i}`)));
    await Promise.all([...low, ...normal]);
    // The content downloads asked first, and still go after every page that waited with them.
    expect(order).toEqual(['page 0', 'page 1', 'page 2', 'content 0', 'content 1', 'content 2']);
  });

  it('pauseFor blocks every caller, including ones already waiting, until the pause ends', async () => {
    const limiter = new RateLimiter({ ratePerSec: 1000, burst: 10 });
    const start = performance.now();
    limiter.pauseFor(150);
    const times = await grantTimes(limiter, 3, start);
    // The limiter reads its own clock before granting, so these bounds are exact (bar rounding).
    for (const t of times) expect(t).toBeGreaterThanOrEqual(149);
    expect(Math.max(...times)).toBeLessThan(150 + HANG_MS);
  });

  it('a shorter pause does not shorten a longer one already in force', async () => {
    const limiter = new RateLimiter({ ratePerSec: 1000, burst: 10 });
    const start = performance.now();
    limiter.pauseFor(200);
    limiter.pauseFor(10);
    await limiter.acquire();
    expect(performance.now() - start).toBeGreaterThanOrEqual(200 - TIMER_SLACK_MS);
  });

  it('aborting a waiting acquire rejects it without waiting for the pause, and lets the next waiter through', async () => {
    const limiter = new RateLimiter({ ratePerSec: 1000, burst: 1 });
    // A pause far longer than the test timeout: only a prompt rejection lets this test finish.
    limiter.pauseFor(3_600_000);
    const controller = new AbortController();
    const waiting = limiter.acquire(controller.signal);
    expect(await settlesWithoutWaiting(waiting)).toBe(false);
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    await expect(limiter.acquire(AbortSignal.abort(new Error('already')))).rejects.toThrow('already');
  });

  it('setRate changes the pace of later grants', async () => {
    // At 0.01/s the next token is 100 s away; at 1000/s it is 1 ms away.
    const limiter = new RateLimiter({ ratePerSec: 0.01, burst: 1 });
    await limiter.acquire();
    limiter.setRate(1000);
    const start = performance.now();
    await limiter.acquire();
    await limiter.acquire();
    expect(performance.now() - start).toBeLessThan(HANG_MS);
  });

  it('rejects a rate that is not positive', () => {
    expect(() => new RateLimiter({ ratePerSec: 0 })).toThrow(RangeError);
  });
});
