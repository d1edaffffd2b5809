// The pacing of one budgeted invocation (progress recorded as it reads, a stop before the budget runs out), open reads, and
// the queue messages that carry a continuation or a run's planning.
import { describe, expect, it } from 'vitest';
import { laterResume, PROGRESS_EVERY_MS, ReadPacer, STOP_SHARE } from '../../src/export/job-budget';
import {
  loadOpenRead,
  MAX_LINK_CHARS,
  MAX_STORED_READ_CHARS,
  splitAtSample,
  stepsFingerprint,
  storeOpenRead,
} from '../../src/export/open-read';
import type { OpenRead } from '../../src/model/window';
import { decodeQueueMessage, encodeJobMessage, InvalidJobMessageError, type QueueMessage } from '../../src/app/job-message';
import { DAY, HOUR } from '../../src/time';

/** A clock the test moves by hand: the pacer's arithmetic, not the machine's speed, is under test. */
function manualClock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('ReadPacer', () => {
  it('without a budget never stops, and asks for progress once a minute', () => {
    const clock = manualClock();
    const pacer = new ReadPacer(undefined, clock.now);
    clock.advance(PROGRESS_EVERY_MS - 1);
    expect(pacer.progressDue()).toBe(false);
    clock.advance(1);
    expect(pacer.progressDue()).toBe(true);
    pacer.progressSaved();
    expect(pacer.progressDue()).toBe(false);
    clock.advance(100 * PROGRESS_EVERY_MS);
    expect(pacer.stopDue()).toBe(false);
  });

  it('stops once the share of the budget kept for reading is used, and records progress four times per budget', () => {
    const clock = manualClock();
    const pacer = new ReadPacer({ budgetMs: 1000, now: clock.now });
    clock.advance(249);
    expect([pacer.progressDue(), pacer.stopDue()]).toEqual([false, false]);
    clock.advance(1);
    expect(pacer.progressDue()).toBe(true);
    clock.advance(1000 * STOP_SHARE - 251);
    expect(pacer.stopDue()).toBe(false);
    clock.advance(1);
    expect(pacer.stopDue()).toBe(true);
  });
});

describe('laterResume', () => {
  const read: OpenRead = {
    pass: 'backfill',
    fromMs: 20,
    toMs: 90,
    step: 0,
    steps: 'x',
    parts: [{ fromMs: 20, toMs: 90, nextLink: 'https://g/next' }],
  };
  it('takes the later start, and at the same start the recorded progress when it has a read', () => {
    expect(laterResume({ fromMs: 10 }, { fromMs: 20 })).toEqual({ fromMs: 20 });
    expect(laterResume({ fromMs: 30 }, { fromMs: 20, read })).toEqual({ fromMs: 30 });
    expect(laterResume({ fromMs: 20 }, { fromMs: 20, read })).toEqual({ fromMs: 20, read });
    expect(laterResume(undefined, { fromMs: 20 })).toEqual({ fromMs: 20 });
    expect(laterResume({ fromMs: 4 }, undefined)).toEqual({ fromMs: 4 });
  });
});

describe('open reads', () => {
  const window = { fromMs: Date.UTC(2016, 0, 1), toMs: Date.UTC(2026, 0, 1) };

  it('split where the sample lies, not in equal lengths, and cover the window exactly', () => {
    // A first page whose versions all lie in the last month of ten years.
    const lastMonth = Date.UTC(2025, 11, 1);
    const sample = Array.from({ length: 50 }, (_, i) => lastMonth + i * 12 * HOUR);
    const parts = splitAtSample(window, sample, 4);
    expect(parts).toHaveLength(4);
    expect(parts[0]!.fromMs).toBe(window.fromMs);
    expect(parts.at(-1)!.toMs).toBe(window.toMs);
    for (let i = 1; i < parts.length; i++) expect(parts[i]!.fromMs).toBe(parts[i - 1]!.toMs);
    // Three of the four cuts fall inside the last month, where the data is.
    expect(parts.slice(1).every((p) => p.fromMs >= lastMonth)).toBe(true);
  });

  it('without a usable sample cut equal lengths; one part is the whole window', () => {
    expect(splitAtSample(window, [], 1)).toEqual([window]);
    const parts = splitAtSample(window, [window.fromMs + DAY], 4);
    expect(parts).toHaveLength(4);
    expect(parts[1]!.fromMs - parts[0]!.fromMs).toBe(parts[2]!.fromMs - parts[1]!.fromMs);
  });

  it('store and load round-trip; junk and foreign parts are no state', () => {
    const read: OpenRead = {
      pass: 'settle',
      ...window,
      step: 1,
      steps: stepsFingerprint([undefined]),
      parts: [{ ...window, nextLink: 'https://graph.example/next?$skiptoken=abc' }],
    };
    expect(loadOpenRead(storeOpenRead(read))).toEqual(read);
    expect(loadOpenRead('{"pass":"settle"')).toBeUndefined();
    expect(loadOpenRead(JSON.stringify({ ...read, parts: [{ fromMs: window.fromMs - 1, toMs: window.toMs }] }))).toBeUndefined();
  });

  // Issue 20, defect 8: 64 parts with long sender-filter links must all keep their links (the old form
  // dropped every link above 30,000 characters, so each continuation restarted every part).
  const parts = (n: number, linkChars: number) =>
    Array.from({ length: n }, (_, i) => ({
      fromMs: window.fromMs + i * HOUR,
      toMs: window.fromMs + (i + 1) * HOUR,
      nextLink: `https://graph.example/v1.0/users/u/chats/getAllMessages?$filter=${'x'.repeat(linkChars)}&$skiptoken=${i}`,
    }));
  const wide = (n: number, linkChars: number): OpenRead => ({
    pass: 'settle',
    fromMs: window.fromMs,
    toMs: window.fromMs + n * HOUR,
    step: 0,
    steps: stepsFingerprint([undefined]),
    parts: parts(n, linkChars),
  });

  it('keeps every link of many parts with long links (issue 20, defect 8)', () => {
    const read = wide(64, 6000);
    const stored = storeOpenRead(read);
    expect(stored.length).toBeGreaterThan(300_000);
    expect(stored.length).toBeLessThanOrEqual(MAX_STORED_READ_CHARS);
    expect(loadOpenRead(stored)).toEqual(read);
  });

  it('a state too large loses the longest links only; one unusable link costs only its own part', () => {
    const read = wide(64, 8000);
    read.parts[3]!.nextLink = `https://graph.example/${'y'.repeat(20_000)}`;
    const loaded = loadOpenRead(storeOpenRead(read))!;
    expect(loaded.parts).toHaveLength(64);
    const kept = loaded.parts.filter((p) => p.nextLink !== undefined).length;
    expect(kept).toBeGreaterThan(40);
    expect(loaded.parts[3]!.nextLink).toBeUndefined();
    // A link longer than any Graph writes, stored by an older version: that part restarts, the others go on.
    const odd = { ...wide(2, 10), parts: [...wide(2, 10).parts] };
    odd.parts[0] = { ...odd.parts[0]!, nextLink: 'z'.repeat(MAX_LINK_CHARS + 1) };
    const back = loadOpenRead(JSON.stringify(odd))!;
    expect(back.parts[0]!.nextLink).toBeUndefined();
    expect(back.parts[1]!.nextLink).toBe(odd.parts[1]!.nextLink);
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
      resume: { fromMs: Date.UTC(2026, 0, 9, 6) },
    };
    expect(roundTrip(msg)).toEqual(msg);
    // A message an earlier version queued (with the chunk length it had shrunk to) is still accepted.
    const old = JSON.parse(Buffer.from(encodeJobMessage(msg), 'base64').toString('utf8'));
    old.resume.chunkMs = 6 * HOUR;
    expect(decodeQueueMessage(old)).toEqual(msg);
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
