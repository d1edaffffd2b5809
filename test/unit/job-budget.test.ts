// The pacing of one budgeted invocation (chunks that shrink, a stop before the budget runs out) and
// the queue messages that carry a continuation or a run's planning.
import { describe, expect, it } from 'vitest';
import { ChunkPacer, laterResume, MIN_CHUNK_MS } from '../../src/export/job-budget';
import { decodeQueueMessage, encodeJobMessage, InvalidJobMessageError, type QueueMessage } from '../../src/app/job-message';
import { DAY, HOUR } from '../../src/time';

/** A clock the test moves by hand: the pacer's arithmetic, not the machine's speed, is under test. */
function manualClock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('ChunkPacer', () => {
  it('without a budget never stops and never shrinks', () => {
    const pacer = new ChunkPacer(30 * DAY, undefined);
    expect(pacer.afterChunk(0)).toEqual({ stop: false });
    expect(pacer.chunkMs).toBe(30 * DAY);
  });

  it('halves the chunk after one that took more than a quarter of the budget, down to the floor', () => {
    const clock = manualClock();
    const pacer = new ChunkPacer(2 * DAY, { budgetMs: 1000, now: clock.now });
    const lengths: number[] = [];
    for (let i = 0; i < 8; i++) {
      const started = clock.now();
      clock.advance(300);
      pacer.afterChunk(started);
      lengths.push(pacer.chunkMs);
    }
    expect(lengths.slice(0, 5)).toEqual([DAY, 12 * HOUR, 6 * HOUR, 3 * HOUR, 1.5 * HOUR]);
    expect(lengths.slice(5)).toEqual([MIN_CHUNK_MS, MIN_CHUNK_MS, MIN_CHUNK_MS]);
  });

  it('keeps the chunk when chunks are quick, and stops once the next one would end past the budget', () => {
    const clock = manualClock();
    const pacer = new ChunkPacer(DAY, { budgetMs: 1000, now: clock.now });
    const stops: boolean[] = [];
    for (let i = 0; i < 5; i++) {
      const started = clock.now();
      clock.advance(200);
      stops.push(pacer.afterChunk(started).stop);
    }
    expect(pacer.chunkMs).toBe(DAY);
    // After the fourth (800 ms used) a fifth ends right at the budget: it runs; a sixth would not fit.
    expect(stops).toEqual([false, false, false, false, true]);
  });

  it("starts from a continuation's shorter chunk, never longer than EXPORT_CHUNK", () => {
    expect(new ChunkPacer(DAY, undefined, 3 * HOUR).chunkMs).toBe(3 * HOUR);
    expect(new ChunkPacer(DAY, undefined, 3 * DAY).chunkMs).toBe(DAY);
    expect(new ChunkPacer(DAY, undefined, 60_000).chunkMs).toBe(MIN_CHUNK_MS);
  });
});

describe('laterResume', () => {
  it('takes the later start and the shorter chunk of the message and the recorded progress', () => {
    expect(laterResume({ fromMs: 10, chunkMs: 5000 }, { fromMs: 20, chunkMs: 9000 })).toEqual({ fromMs: 20, chunkMs: 5000 });
    expect(laterResume(undefined, { fromMs: 20 })).toEqual({ fromMs: 20 });
    expect(laterResume({ chunkMs: 4000 }, undefined)).toEqual({ chunkMs: 4000 });
  });
});

describe('queue messages', () => {
  const roundTrip = (msg: QueueMessage) => decodeQueueMessage(JSON.parse(Buffer.from(encodeJobMessage(msg), 'base64').toString('utf8')));

  it('a continuation carries its resume point', () => {
    const msg: QueueMessage = {
      runId: 'backfill-20261101T000000Z-ab12',
      entity: { kind: 'user', id: 'u1' },
      mode: { kind: 'backfill', window: { fromMs: Date.UTC(2026, 0, 1), toMs: Date.UTC(2026, 1, 1) } },
      attempt: 2,
      resume: { fromMs: Date.UTC(2026, 0, 9, 6), chunkMs: 6 * HOUR },
    };
    expect(roundTrip(msg)).toEqual(msg);
  });

  it('a planning message is told apart from a job, and a bad one is refused', () => {
    const plan: QueueMessage = {
      type: 'plan',
      runId: 'daily-20261101T023000Z',
      mode: { kind: 'daily', nowMs: Date.UTC(2026, 10, 1, 2, 30) },
      attempt: 1,
    };
    expect(roundTrip(plan)).toEqual(plan);
    expect(() => decodeQueueMessage({ v: 1, type: 'plan', runId: 'daily-x', mode: { kind: 'daily', now: 'soon' }, attempt: 1 })).toThrow(
      InvalidJobMessageError,
    );
    expect(() =>
      decodeQueueMessage({
        v: 1,
        type: 'plan',
        runId: 'daily-x',
        mode: { kind: 'daily', now: '2026-01-01T00:00:00Z' },
        attempt: 1,
        entity: { kind: 'user', id: 'u' },
      }),
    ).toThrow(InvalidJobMessageError);
  });
});
