import { describe, expect, it } from 'vitest';
import { cutIntoChunks, planBackfillChunks, planDailyChunks, splitWindow } from '../../src/export/windows';
import { DAY, HOUR, MINUTE } from '../../src/time';

const s = { lagMs: 5 * MINUTE, settleMs: 24 * HOUR, chunkMs: 30 * DAY, startMs: Date.parse('2024-01-01T00:00:00Z') };
const now = Date.parse('2024-03-15T02:30:00Z');

describe('planDailyChunks', () => {
  it('first run reads the settled backlog once, in chunks, then the fresh tail', () => {
    const chunks = planDailyChunks({}, now, s);
    const settle = chunks.filter((c) => c.pass === 'settle');
    const fresh = chunks.filter((c) => c.pass === 'fresh');
    expect(settle[0]!.window.fromMs).toBe(s.startMs);
    expect(settle.at(-1)!.window.toMs).toBe(now - s.settleMs);
    expect(fresh).toHaveLength(1);
    expect(fresh[0]!.window).toEqual({ fromMs: now - s.settleMs, toMs: now - s.lagMs });
    // contiguous, no gaps and no overlaps
    for (let i = 1; i < chunks.length; i++) expect(chunks[i]!.window.fromMs).toBe(chunks[i - 1]!.window.toMs);
    for (const c of settle) expect(c.window.toMs - c.window.fromMs).toBeLessThanOrEqual(s.chunkMs);
  });

  it('a settle chunk advances both watermarks, a fresh chunk only the fresh one', () => {
    const chunks = planDailyChunks({}, now, s);
    const settle = chunks.find((c) => c.pass === 'settle')!;
    const fresh = chunks.find((c) => c.pass === 'fresh')!;
    expect(settle.advance).toEqual({ settledWatermarkMs: settle.window.toMs, freshWatermarkMs: settle.window.toMs });
    expect(fresh.advance).toEqual({ freshWatermarkMs: fresh.window.toMs });
  });

  it('in steady state every range is read soon (fresh) and again once settled (settle)', () => {
    const prev = now - HOUR * 6;
    const wm = { freshWatermarkMs: prev - s.lagMs, settledWatermarkMs: prev - s.settleMs };
    const chunks = planDailyChunks(wm, now, s);
    expect(chunks.map((c) => [c.pass, c.window])).toEqual([
      ['settle', { fromMs: prev - s.settleMs, toMs: now - s.settleMs }],
      ['fresh', { fromMs: prev - s.lagMs, toMs: now - s.lagMs }],
    ]);
  });

  it('a range the fresh pass never reached is read once, after it settled, and not again by the fresh pass', () => {
    const prev = now - 2 * DAY; // a missed day: the settle pass now covers part of the unread range
    const wm = { freshWatermarkMs: prev - s.lagMs, settledWatermarkMs: prev - s.settleMs };
    const chunks = planDailyChunks(wm, now, s);
    expect(chunks.map((c) => [c.pass, c.window])).toEqual([
      ['settle', { fromMs: prev - s.settleMs, toMs: now - s.settleMs }],
      ['fresh', { fromMs: now - s.settleMs, toMs: now - s.lagMs }],
    ]);
  });

  it('a schedule firing twice in a row reads nothing twice in the fresh pass', () => {
    const wm = { freshWatermarkMs: now - s.lagMs, settledWatermarkMs: now - s.settleMs };
    expect(planDailyChunks(wm, now, s)).toEqual([]);
  });

  it('never plans a window that moves a watermark backwards (clock behind the checkpoint)', () => {
    const wm = { freshWatermarkMs: now + HOUR, settledWatermarkMs: now };
    expect(planDailyChunks(wm, now, s)).toEqual([]);
  });
});

describe('chunks', () => {
  it('cover the window exactly with half-open chunks', () => {
    const w = { fromMs: 0, toMs: 10 * DAY + 7 };
    const c = cutIntoChunks(w, 3 * DAY);
    expect(c).toHaveLength(4);
    expect(c[0]!.fromMs).toBe(0);
    expect(c.at(-1)!.toMs).toBe(w.toMs);
    for (let i = 1; i < c.length; i++) expect(c[i]!.fromMs).toBe(c[i - 1]!.toMs);
  });

  it('backfill chunks never advance a watermark', () => {
    for (const c of planBackfillChunks({ fromMs: 0, toMs: 100 * DAY }, 30 * DAY)) {
      expect(c.pass).toBe('backfill');
      expect(c.advance).toEqual({});
    }
  });
});

describe('splitWindow', () => {
  it('splits a long window into equal consecutive parts that cover it exactly', () => {
    const w = { fromMs: 1_000, toMs: 1_000 + 30 * DAY + 7 };
    const parts = splitWindow(w, 4);
    expect(parts).toHaveLength(4);
    expect(parts[0]!.fromMs).toBe(w.fromMs);
    expect(parts.at(-1)!.toMs).toBe(w.toMs);
    for (let i = 1; i < parts.length; i++) expect(parts[i]!.fromMs).toBe(parts[i - 1]!.toMs);
  });

  it('keeps short windows whole and never makes parts shorter than an hour', () => {
    expect(splitWindow({ fromMs: 0, toMs: 30 * MINUTE }, 4)).toEqual([{ fromMs: 0, toMs: 30 * MINUTE }]);
    expect(splitWindow({ fromMs: 0, toMs: 2 * HOUR }, 8)).toHaveLength(2);
    expect(splitWindow({ fromMs: 0, toMs: DAY }, 1)).toEqual([{ fromMs: 0, toMs: DAY }]);
  });
});
