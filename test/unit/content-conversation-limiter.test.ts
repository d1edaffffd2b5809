import { describe, expect, it } from 'vitest';
import { ConversationLimiter } from '../../src/graph/conversation-limiter';
import { settlesWithoutWaiting, TIMER_SLACK_MS } from '../support/timing';

describe('ConversationLimiter', () => {
  it('spaces requests of one conversation by 1/rate and lets other conversations go at once', async () => {
    const limiter = new ConversationLimiter({ ratePerSec: 10 });
    const start = performance.now();
    expect(await settlesWithoutWaiting(limiter.forKey('a').acquire())).toBe(true);
    expect(await settlesWithoutWaiting(limiter.forKey('b').acquire())).toBe(true);
    const second = limiter.forKey('a').acquire();
    expect(await settlesWithoutWaiting(second)).toBe(false);
    await second;
    // Bounded below only: a's bucket was created after `start` and refills one token per 100 ms.
    expect(performance.now() - start).toBeGreaterThanOrEqual(100 - TIMER_SLACK_MS);
  });

  it('keeps at most maxKeys idle buckets, evicting the least recently used', async () => {
    let t = 0;
    const limiter = new ConversationLimiter({ ratePerSec: 1, maxKeys: 3, now: () => t });
    for (const k of ['a', 'b', 'c']) await limiter.forKey(k).acquire();
    t = 5_000; // every bucket has refilled: all idle
    await limiter.forKey('d').acquire();
    expect(limiter.size()).toBe(3);
    // 'a' was evicted and starts over with a full bucket; 'd' was just used and must wait.
    await limiter.forKey('a').acquire();
    expect(limiter.size()).toBe(3);
  });

  it('does not evict a bucket that has not refilled, so a conversation never gets a second burst', async () => {
    let t = 0;
    const limiter = new ConversationLimiter({ ratePerSec: 1, maxKeys: 1, now: () => t });
    await limiter.forKey('a').acquire();
    t = 100;
    await limiter.forKey('b').acquire();
    expect(limiter.size()).toBe(2);
  });

  it('an aborted wait rejects with the reason', async () => {
    const limiter = new ConversationLimiter({ ratePerSec: 0.1 });
    await limiter.forKey('a').acquire();
    const controller = new AbortController();
    const pending = limiter.forKey('a').acquire(controller.signal);
    controller.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
  });

  it('rejects a rate that is not positive', () => {
    expect(() => new ConversationLimiter({ ratePerSec: 0 })).toThrow(RangeError);
  });
});
