// The in-process content pool schedules by conversation (docs/design.md §17, bench/RESULTS.md "Content
// as its own stage"): Graph paces hosted contents per chat or channel, so the backlog ends no sooner than
// its busiest conversation's references take at that pace. The pool therefore takes the batches of the
// conversation with the most content waiting first, whatever their arrival order, keeps up to two
// batches of a conversation in progress (one downloading while the next waits for its turn) and never
// more, and takes more batches at once once the run's jobs have finished exporting.
//
// Each batch the pool takes is held (its backlog read waits for the test) so the test sees what is in
// progress at every step; the batches are never recorded, so the real backlog read finds no row and the
// pool moves on without a download.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBatchLines } from '../../src/archive/batch-reader';
import { ContentPool } from '../../src/export/content-pool';
import { exportEntity } from '../../src/export/export-entity';
import { parseMessage } from '../../src/graph/message-schema';
import { HOUR } from '../../src/time';
import type { ContentBacklog } from '../../src/state/content-backlog';
import { collectingHandoff, contentStageDeps } from '../support/content-stage';
import { startHarness, type Harness } from '../support/harness';

/** `${conversation}/${n}`: the test's batch names say which conversation they belong to. */
const conversationOf = (batch: string) => batch.split('/')[0]!;

interface Held {
  backlog: ContentBacklog;
  /** Batches in the order the pool took them. */
  started: string[];
  /** Batches taken and not released yet. */
  inProgress(): string[];
  release(batch: string): Promise<void>;
}

/** The real backlog, its reads held until released (the pool reads a batch's row first when it takes it). */
function held(real: ContentBacklog): Held {
  const started: string[] = [];
  const gates = new Map<string, () => void>();
  const finished = new Set<string>();
  const backlog = Object.create(real) as ContentBacklog;
  backlog.get = async (batch, signal) => {
    started.push(batch);
    await new Promise<void>((resolve) => gates.set(batch, resolve));
    try {
      return await real.get(batch, signal);
    } finally {
      finished.add(batch);
    }
  };
  return {
    backlog,
    started,
    inProgress: () => started.filter((b) => gates.has(b)),
    async release(batch) {
      const open = gates.get(batch);
      if (!open) throw new Error(`${batch} is not in progress`);
      const before = started.length;
      gates.delete(batch);
      open();
      // Until the pool has finished with it and taken whatever it takes next.
      await until(() => finished.has(batch));
      await until(() => started.length >= before, 50);
    },
  };
}

async function until(done: () => boolean, settleMs = 0): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
  if (settleMs > 0) await new Promise((r) => setTimeout(r, settleMs));
}

function counts(batches: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const b of batches) out[conversationOf(b)] = (out[conversationOf(b)] ?? 0) + 1;
  return out;
}

describe('the content pool schedules by conversation', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      label: 'content-pool-schedule',
      tenant: { seed: 5, users: 3, teams: 1, historyDays: 3, endMs: Date.now() - 2 * HOUR, hostedContentFraction: 0.4 },
    });
  });
  afterAll(() => h?.close());

  /** The batch's one message with content (each test batch holds a message of its own). */
  const one = (batch: string) => new Map([[conversationOf(batch), [batch]]]);

  it('takes the busiest conversation first, whatever the arrival order; ties go to the one waiting longest', async () => {
    const b = held(h.deps.contentBacklog!);
    const pool = new ContentPool({ ...contentStageDeps(h.deps), backlog: b.backlog, concurrency: 1 });
    // One batch holds the only place while the rest arrive: the channel's five come last.
    const arrivals = [
      'first/1',
      'chat-a/1',
      'chat-a/2',
      'chat-a/3',
      'chat-b/1',
      'channel/1',
      'channel/2',
      'channel/3',
      'channel/4',
      'channel/5',
    ];
    for (const batch of arrivals) await pool.dispatch(batch, undefined, one(batch));
    expect(b.inProgress()).toEqual(['first/1']);
    while (b.inProgress().length > 0) await b.release(b.inProgress()[0]!);
    await pool.drain();
    // In arrival order (the pool before issue 22's scheduling) the channel came last, 5 s of pace behind.
    expect(b.started).toEqual([
      'first/1',
      'channel/1', // 5 waiting against 3
      'channel/2', // 4 against 3
      'chat-a/1', // 3 each: chat-a has waited longer
      'channel/3',
      'chat-a/2',
      'channel/4',
      'chat-a/3',
      'chat-b/1',
      'channel/5',
    ]);
    expect(pool.stats()).toMatchObject({ pending: 0 });
  });

  it('keeps a conversation with waiting batches at one or two in progress, never more, beside the others', async () => {
    const b = held(h.deps.contentBacklog!);
    const pool = new ContentPool({ ...contentStageDeps(h.deps), backlog: b.backlog, concurrency: 4 });
    const arrivals = [
      'channel/1',
      'channel/2',
      'channel/3',
      'channel/4',
      'channel/5',
      'channel/6',
      'chat-d/1',
      'chat-d/2',
      'chat-d/3',
      'chat-e/1',
    ];
    for (const batch of arrivals) await pool.dispatch(batch, undefined, one(batch));
    // Two places each for the two conversations with most waiting; more of the channel's would only
    // wait for its next turn while chat-d's content waited for a place.
    expect(counts(b.inProgress())).toEqual({ channel: 2, 'chat-d': 2 });
    let most = 0;
    while (b.inProgress().length > 0) {
      const now = counts(b.inProgress());
      most = Math.max(most, ...Object.values(now));
      const left = counts(arrivals.filter((x) => !b.started.includes(x) || b.inProgress().includes(x)));
      const busiest = Math.max(...Object.values(left));
      // The conversations with the most left always have one in progress (the pace of each sets the floor).
      for (const [c, n] of Object.entries(left)) if (n === busiest) expect(now[c] ?? 0, `${c} with ${n} left`).toBeGreaterThan(0);
      await b.release(b.inProgress()[0]!);
    }
    await pool.drain();
    expect(most).toBe(2);
    expect([...b.started].sort()).toEqual([...arrivals].sort());
  });

  it('takes few batches at once while the jobs export and more once they have finished', async () => {
    const b = held(h.deps.contentBacklog!);
    const pool = new ContentPool({ ...contentStageDeps(h.deps), backlog: b.backlog, concurrency: 2, concurrencyAfterExport: 5 });
    const arrivals = Array.from({ length: 8 }, (_, i) => `chat-${i}/1`);
    for (const batch of arrivals) await pool.dispatch(batch, undefined, one(batch));
    expect(b.inProgress()).toHaveLength(2);
    pool.exportFinished();
    expect(b.inProgress()).toHaveLength(5);
    while (b.inProgress().length > 0) await b.release(b.inProgress()[0]!);
    await pool.drain();
    expect(b.started).toHaveLength(8);
  });

  it('a job hands each batch over with its messages with content per conversation, as the batch holds them', async () => {
    const backlog = h.deps.contentBacklog!;
    const window = { fromMs: Date.now() - 5 * 24 * HOUR, toMs: Date.now() };
    let batches = 0;
    for (const entity of h.entities()) {
      const handed = collectingHandoff(backlog);
      const r = await exportEntity({ runId: 'run-hints', entity, mode: { kind: 'backfill', window } }, { ...h.deps, contentStage: handed });
      expect(r.status).toBe('done');
      for (const batch of handed.batches) {
        const expected: Record<string, string[]> = {};
        for await (const line of readBatchLines(h.deps.container, batch)) {
          const raw = JSON.parse(line) as unknown;
          const parsed = parseMessage(raw);
          if (!parsed.ok || !h.deps.content!.refersToContent(raw)) continue;
          (expected[parsed.version.conversationId] ??= []).push(parsed.version.messageId);
        }
        const hint = Object.fromEntries([...(handed.conversations.get(batch) ?? [])].map(([c, ids]) => [c, [...ids].sort()]));
        for (const ids of Object.values(expected)) ids.sort();
        expect(hint, batch).toEqual(expected);
        expect(Object.keys(hint).length).toBeGreaterThan(0);
        batches++;
      }
    }
    expect(batches).toBeGreaterThan(1);
  });
});
