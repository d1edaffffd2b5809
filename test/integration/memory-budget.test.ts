// The process's memory budget (EXPORT_MEMORY_MB, issue 22; docs/design.md §14): the day batchers of all
// jobs share one budget for their buffered lines, and the reads one for the pages in flight, so memory is
// bounded by bytes, not by EXPORT_CONCURRENCY × EXPORT_READS_PER_ENTITY, and every version is still
// archived exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerClient } from '@azure/storage-blob';
import { ensureContainer } from '../../src/archive/archive-container';
import { DayBatcher, type FlushResult } from '../../src/export/day-batcher';
import { MemoryBudget } from '../../src/export/memory-budget';
import { runExport } from '../../src/export/run-in-process';
import { parseMessage, type MessageVersion } from '../../src/graph/message-schema';
import type { Entity } from '../../src/model/entity';
import type { Window } from '../../src/model/window';
import { createStorageClients } from '../../src/storage-clients';
import { HOUR, MINUTE } from '../../src/time';
import { duplicatesIn, servedNotArchivedOnce, startHarness, type Harness } from '../support/harness';
import { archivedIds, shuffled } from '../support/archived-lines';
import { testStorage } from '../support/storage';

const DAY_MS = 86_400_000;
const KiB = 1024;

function version(conv: string, id: string, atMs: number, size: number): MessageVersion {
  const r = parseMessage({
    id,
    etag: id,
    chatId: conv,
    lastModifiedDateTime: new Date(atMs).toISOString(),
    body: { content: 'x'.repeat(size) },
  });
  if (!r.ok) throw new Error(r.reason);
  return r.version;
}

describe('memory budget: day batchers', () => {
  let container: ContainerClient;

  beforeAll(async () => {
    const s = testStorage('memory-budget');
    container = createStorageClients({ kind: 'connectionString', connectionString: s.connectionString }).blobService.getContainerClient(
      s.container,
    );
    await ensureContainer(container);
  });

  it('batchers of several jobs stay within the shared budget, writing their largest days early, each version once', async () => {
    const window: Window = { fromMs: Date.parse('2024-03-01T00:00:00Z'), toMs: Date.parse('2024-03-06T00:00:00Z') };
    const memory = new MemoryBudget(256 * KiB); // 192 KiB for lines
    const jobs = 4;
    const perJob = 600; // ~1 KiB lines: ~600 KiB a job, far below a batcher's own 2 MiB
    let seq = 0;
    const feeds = Array.from({ length: jobs }, (_, j) => {
      const entity: Entity = { kind: 'user', id: `budget-${j}` };
      const versions = Array.from({ length: perJob }, (_, i) =>
        version(`19:c${j}`, `j${j}v${i}`, window.fromMs + (i % 5) * DAY_MS + i * 1000, 900),
      );
      const batcher = new DayBatcher({ container, entity, pass: 'fresh', window, writerId: `w${j}`, memory, nextSeq: () => seq++ });
      return { entity, batcher, versions: shuffled(versions, 7 + j), written: 0 };
    });
    const count = (f: (typeof feeds)[number], r: FlushResult | undefined) => {
      if (r) f.written += r.newVersions;
    };
    // Interleaved, a page of 25 at a time, as concurrent jobs would be.
    for (let at = 0; at < perJob; at += 25) {
      await Promise.all(
        feeds.map(async (f) => {
          for (const v of f.versions.slice(at, at + 25)) count(f, await f.batcher.add(v));
        }),
      );
    }
    for (const f of feeds) count(f, await f.batcher.flushAll());

    const stats = memory.stats();
    // Without the shared budget the four would have held everything (~2.4 MiB) until flushAll. With it,
    // at most the lines' share plus one day buffer per batcher (a batcher below its fair share may go over).
    expect(stats.peakLineBytes).toBeLessThanOrEqual(memory.lineLimit + jobs * 64 * KiB);
    expect(stats.pressureFlushes).toBeGreaterThan(0);
    // Everything written: no day buffer is still held.
    expect(stats.lineBytes).toBe(0);
    for (const f of feeds) {
      expect(f.written).toBe(perJob);
      const ids = await archivedIds(container, f.entity);
      expect(ids).toHaveLength(perJob);
      expect(duplicatesIn(ids)).toEqual([]);
    }
  });

  it('a version seen again makes no early write, even with the budget used up', async () => {
    const window: Window = { fromMs: Date.parse('2024-05-01T00:00:00Z'), toMs: Date.parse('2024-05-02T00:00:00Z') };
    const memory = new MemoryBudget(2 * KiB); // 1,792 bytes for lines: one ~1.5 KB line uses them up
    const entity: Entity = { kind: 'user', id: 'budget-duplicate' };
    const batcher = new DayBatcher({ container, entity, pass: 'fresh', window, writerId: 'w', memory, nextSeq: () => 0 });
    const v = version('19:d', 'd1', window.fromMs + HOUR, 1400);
    expect(await batcher.add(v)).toBeUndefined();
    // Graph repeats an item across pages: it is dropped, and the day it belongs to stays buffered.
    expect(await batcher.add(v)).toBeUndefined();
    expect(memory.stats().pressureFlushes).toBe(0);
    const done = await batcher.flushAll();
    expect(done.written).toHaveLength(1);
    expect(await archivedIds(container, entity)).toEqual(['d1']);
  });

  it('a batcher that is given up gives its buffers back', async () => {
    const window: Window = { fromMs: Date.parse('2024-04-01T00:00:00Z'), toMs: Date.parse('2024-04-03T00:00:00Z') };
    const memory = new MemoryBudget(1024 * KiB);
    const batcher = new DayBatcher({
      container,
      entity: { kind: 'user', id: 'budget-release' },
      pass: 'fresh',
      window,
      writerId: 'w',
      memory,
      nextSeq: () => 0,
    });
    for (let i = 0; i < 20; i++) await batcher.add(version('19:r', `r${i}`, window.fromMs + i * HOUR, 500));
    expect(memory.stats().lineBytes).toBeGreaterThan(0);
    await batcher.release();
    expect(memory.stats().lineBytes).toBe(0);
  });
});

describe('memory budget: pages in flight', () => {
  it('a read waits while the pages share is used up, in the order they asked; one page alone always goes', async () => {
    const memory = new MemoryBudget(400 * KiB); // 100 KiB for pages
    const big = await memory.reservePage(150 * KiB); // more than the share, but nothing else is reserved
    const order: string[] = [];
    const a = memory.reservePage(40 * KiB).then((t) => (order.push('a'), t));
    const b = memory.reservePage(10 * KiB).then((t) => (order.push('b'), t));
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual([]);
    big.release();
    const [ta, tb] = await Promise.all([a, b]);
    expect(order).toEqual(['a', 'b']);
    expect(memory.stats().pageBytes).toBe(50 * KiB);
    // A page larger than reserved counts at its size.
    ta.resize(90 * KiB);
    const c = memory.reservePage(20 * KiB);
    const stop = new AbortController();
    const d = memory.reservePage(1 * KiB, stop.signal);
    stop.abort(new Error('job stopped'));
    await expect(d).rejects.toThrow('job stopped');
    tb.release();
    ta.release();
    (await c).release();
    expect(memory.stats().pageBytes).toBe(0);
    expect(memory.stats().pageWaits).toBeGreaterThanOrEqual(3);
  });
});

describe('memory budget: an export under a small budget', () => {
  let h: Harness;
  const now = Date.now();
  const LAG = 5 * MINUTE;
  beforeAll(async () => {
    h = await startHarness({
      label: 'memory-budget-engine',
      tenant: { seed: 23, users: 6, teams: 2, historyDays: 40, messagesPerChat: 30, postsPerChannel: 20, endMs: now - 2 * HOUR },
      env: { EXPORT_READS_PER_ENTITY: '4', GRAPH_PAGE_SIZE: '5', EXPORT_CONCURRENCY: '6' },
    });
  });
  afterAll(() => h?.close());

  it('reads and batchers of all jobs share one budget, and every version is archived once', async () => {
    // Far below what the jobs would hold on their own: reads wait for pages, batchers write early.
    const memory = new MemoryBudget(48 * KiB);
    const outcome = await runExport({ kind: 'daily', nowMs: now }, { ...h.deps, memory });
    expect(outcome.status).toBe('succeeded');
    expect(await servedNotArchivedOnce(h, now - LAG)).toEqual([]);
    const stats = memory.stats();
    expect(stats.pageWaits).toBeGreaterThan(0);
    expect(stats.pressureFlushes).toBeGreaterThan(0);
    // Nothing is left reserved or held once the run is over.
    expect(stats.pageBytes).toBe(0);
    expect(stats.lineBytes).toBe(0);
  });
});
