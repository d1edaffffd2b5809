// Bounded memory of the day batcher (issue 13): the archived-version keys it keeps stay under a fixed
// cap however many days and versions a window holds, and a day whose keys were dropped is read back
// from the archive, so a version seen again is still written once (docs/design.md §5, §14).
import { beforeAll, describe, expect, it } from 'vitest';
import type { ContainerClient } from '@azure/storage-blob';
import { ensureContainer } from '../../src/archive/archive-container';
import { DayBatcher, type FlushResult } from '../../src/export/day-batcher';
import type { Entity } from '../../src/model/entity';
import type { Window } from '../../src/model/window';
import { parseMessage, type MessageVersion } from '../../src/graph/message-schema';
import { createStorageClients } from '../../src/storage-clients';
import { archivedIds, shuffled } from '../support/archived-lines';
import { testStorage } from '../support/storage';

const DAY_MS = 86_400_000;

function version(conv: string, id: string, atMs: number): MessageVersion {
  const r = parseMessage({ id, etag: id, chatId: conv, lastModifiedDateTime: new Date(atMs).toISOString(), body: { content: 'x' } });
  if (!r.ok) throw new Error(r.reason);
  return r.version;
}

describe('day batcher memory', () => {
  let container: ContainerClient;

  beforeAll(async () => {
    const s = testStorage('day-batcher-memory');
    container = createStorageClients({ kind: 'connectionString', connectionString: s.connectionString }).blobService.getContainerClient(
      s.container,
    );
    await ensureContainer(container);
  });

  async function feed(batcher: DayBatcher, versions: MessageVersion[]): Promise<FlushResult> {
    const total: FlushResult = { written: [], newVersions: 0, duplicates: 0 };
    const add = (r: FlushResult | undefined) => {
      if (!r) return;
      total.written.push(...r.written);
      total.newVersions += r.newVersions;
      total.duplicates += r.duplicates;
    };
    for (const v of versions) add(await batcher.add(v));
    add(await batcher.flushAll());
    return total;
  }

  it('keeps the retained keys under the cap over a window of many days, and writes each version once', async () => {
    const entity: Entity = { kind: 'user', id: 'many-days' };
    const window: Window = { fromMs: Date.parse('2024-04-18T00:00:00Z'), toMs: Date.parse('2024-05-18T00:00:00Z') };
    const perDay = 10;
    const days = Math.round((window.toMs - window.fromMs) / DAY_MS);
    const versions: MessageVersion[] = [];
    for (let d = 0; d < days; d++)
      for (let i = 0; i < perDay; i++) versions.push(version('19:c', `d${d}v${i}`, window.fromMs + d * DAY_MS + i * 60_000));
    const cap = 35;
    let seq = 0;
    const make = (writerId: string) =>
      new DayBatcher({
        container,
        entity,
        pass: 'fresh',
        window,
        writerId,
        maxBufferedVersions: 25,
        maxRetainedKeys: cap,
        nextSeq: () => seq++,
      });

    const first = make('w1');
    const r1 = await feed(first, shuffled(versions));
    expect(r1.newVersions).toBe(versions.length);
    const s1 = first.stats();
    // At most the cap, plus the one day being written.
    expect(s1.peakRetainedKeys).toBeLessThanOrEqual(cap + perDay);
    expect(s1.retainedKeys).toBeLessThanOrEqual(cap);
    expect(s1.evictedDays).toBeGreaterThan(0);
    // Unsorted pages bring versions of days whose keys were dropped: those days were read back.
    expect(s1.reloadedDays).toBeGreaterThan(0);
    // One listing per month the window touches (April and May), however many days are written.
    expect(s1.monthListings).toBe(2);

    // The same window read again, in another order: nothing new, each version still archived once.
    const second = make('w2');
    const r2 = await feed(second, shuffled(versions, 99));
    expect(r2.newVersions).toBe(0);
    expect(r2.duplicates).toBe(versions.length);
    expect(second.stats().peakRetainedKeys).toBeLessThanOrEqual(cap + perDay);
    const ids = await archivedIds(container, entity);
    expect(ids).toHaveLength(versions.length);
    expect(new Set(ids).size).toBe(versions.length);
  });

  it('a version seen again after its day was dropped is not written twice', async () => {
    const entity: Entity = { kind: 'user', id: 'evict-reload' };
    const window: Window = { fromMs: Date.parse('2024-06-01T00:00:00Z'), toMs: Date.parse('2024-07-01T00:00:00Z') };
    let seq = 0;
    const batcher = new DayBatcher({
      container,
      entity,
      pass: 'fresh',
      window,
      writerId: 'er',
      maxBufferedVersions: 3,
      maxRetainedKeys: 5,
      nextSeq: () => seq++,
    });
    const early = version('19:c', 'early', Date.parse('2024-06-02T08:00:00Z'));
    let written = 0;
    let dups = 0;
    const note = (r: FlushResult | undefined) => {
      written += r?.newVersions ?? 0;
      dups += r?.duplicates ?? 0;
    };
    note(await batcher.add(early));
    note(await batcher.flushAll());
    expect(batcher.stats().retainedKeys).toBe(1);
    // Other days push June 2's keys out of memory.
    for (let d = 10; d < 16; d++)
      for (let i = 0; i < 3; i++) note(await batcher.add(version('19:c', `o${d}-${i}`, Date.parse(`2024-06-${d}T0${i}:00:00Z`))));
    note(await batcher.flushAll());
    expect(batcher.stats().evictedDays).toBeGreaterThan(0);
    expect(batcher.stats().retainedKeys).toBeLessThanOrEqual(5);
    // The same version again (Graph repeats items across pages), and a new one of that day.
    note(await batcher.add(early));
    note(await batcher.add(version('19:c', 'late', Date.parse('2024-06-02T09:00:00Z'))));
    note(await batcher.flushAll());
    expect(batcher.stats().reloadedDays).toBeGreaterThanOrEqual(1);
    expect(written).toBe(1 + 18 + 1);
    expect(dups).toBe(1);
    const ids = await archivedIds(container, entity);
    expect(ids.filter((id) => id === 'early')).toHaveLength(1);
    expect(ids.filter((id) => id === 'late')).toHaveLength(1);
  });

  it('a window of years with data on two days lists only those days’ months', async () => {
    const entity: Entity = { kind: 'team', id: 'wide' };
    const window: Window = { fromMs: Date.parse('2019-01-01T00:00:00Z'), toMs: Date.parse('2024-01-01T00:00:00Z') };
    let seq = 0;
    const batcher = new DayBatcher({ container, entity, pass: 'fresh', window, writerId: 'wide', nextSeq: () => seq++ });
    const r = await feed(batcher, [
      version('19:t', 'a', Date.parse('2020-03-04T05:00:00Z')),
      version('19:t', 'b', Date.parse('2023-11-30T05:00:00Z')),
    ]);
    expect(r.newVersions).toBe(2);
    expect(batcher.stats().monthListings).toBe(2);
  });
});
