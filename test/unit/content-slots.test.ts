// The content download caps (issue 13, defect 3): a process's slots and a job's pool never run more
// than their limit at once, keep input order, and a wait for a slot ends when the job stops.
import { describe, expect, it } from 'vitest';
import { ContentSlots, runPooled } from '../../src/export/content-slots';

/** A promise with its resolve, to hold operations open until the test lets them go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('content slots', () => {
  it('runs at most `limit` operations at once and every one of them eventually', async () => {
    const slots = new ContentSlots(3);
    let running = 0;
    let most = 0;
    const gates = Array.from({ length: 10 }, gate);
    const all = gates.map((g, i) =>
      slots.run(async () => {
        running++;
        most = Math.max(most, running);
        await g.promise;
        running--;
        return i;
      }),
    );
    await new Promise((r) => setImmediate(r));
    expect(slots.stats()).toEqual({ active: 3, peak: 3 });
    for (const g of gates) g.open();
    expect(await Promise.all(all)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(most).toBe(3);
    expect(slots.stats().active).toBe(0);
  });

  it('a wait for a slot ends with the signal, and the slot goes to the next waiter', async () => {
    const slots = new ContentSlots(1);
    const hold = gate();
    const first = slots.run(() => hold.promise);
    const stop = new AbortController();
    const waiting = slots.run(async () => 'never', stop.signal);
    const next = slots.run(async () => 'next');
    stop.abort(new Error('lease lost'));
    await expect(waiting).rejects.toThrow('lease lost');
    hold.open();
    await first;
    expect(await next).toBe('next');
  });

  it('a free slot goes to the waiter of highest priority, the longest waiting among equals', async () => {
    const slots = new ContentSlots(1);
    const hold = gate();
    const first = slots.run(() => hold.promise);
    const order: string[] = [];
    const waiters = (
      [
        ['small chat', 1],
        ['busy channel', 30],
        ['no priority', 0],
        ['other chat', 1],
        ['busier channel', 31],
        ['second of busy channel', 30],
      ] as const
    ).map(([name, priority]) => slots.run(async () => void order.push(name), undefined, priority));
    hold.open();
    await first;
    await Promise.all(waiters);
    expect(order).toEqual(['busier channel', 'busy channel', 'second of busy channel', 'small chat', 'other chat', 'no priority']);
  });

  it('refuses a limit below 1', () => {
    expect(() => new ContentSlots(0)).toThrow(RangeError);
  });

  it('runPooled keeps input order with at most `limit` in flight', async () => {
    let running = 0;
    let most = 0;
    const out = await runPooled([5, 1, 4, 2, 3], 2, async (n) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, n));
      running--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(most).toBe(2);
  });
});
