// What one entity job knows is archived already, per UTC day (exactly-once versions, docs/design.md §5,
// §14): the 128-bit digests of the version keys in the day's batches, loaded on the day's first write
// and kept up to date as the job writes. One cache per job, shared by the day batchers of all its
// windows, so the fresh pass after the settle pass reuses the month listings and day sets the settle
// pass read instead of reading them again. At most `maxRetainedKeys` digests are kept over all days:
// least recently used days are dropped and read back from their batches when needed again. A day's
// digests are a DigestSet (16 bytes each in a typed array, outside the JavaScript heap).
import type { ArchiveContainer } from '../archive/archive-container';
import { listArchivedBatchesByDay, loadArchivedVersionKeys, loadVersionKeysOf } from '../archive/archived-versions';
import { itemKeyFromLine } from '../graph/artifact-schema';
import type { Entity, EntityKind } from '../model/entity';
import type { Window } from '../model/window';
import { DigestSet } from './digest-set';
import { versionDigest } from './version-digest';

const DEFAULT_MAX_RETAINED_KEYS = 1_000_000;

/** What the cache holds (tests and the memory bench read it). */
export interface ArchivedKeysStats {
  /** Archived-version digests held now, over all days. */
  retainedKeys: number;
  /** The most held at any time. */
  peakRetainedKeys: number;
  /** Days whose keys were dropped to stay under the cap. */
  evictedDays: number;
  /** Days read back from the archive after their keys were dropped. */
  reloadedDays: number;
  /** Month listings taken (each month at most once, and only when a day of it is written). */
  monthListings: number;
}

export class ArchivedKeys {
  /**
   * day → digests of the keys archived before or during this job, loaded on the day's first write.
   * Map order is least recently used first; the total is kept under the cap.
   */
  private readonly archived = new Map<string, DigestSet>();
  private retainedKeys = 0;
  private readonly maxRetainedKeys: number;
  /** Days whose set was dropped: read back with a listing of the day (the month index is stale for them). */
  private readonly evicted = new Set<string>();
  private readonly counters = { peakRetainedKeys: 0, evictedDays: 0, reloadedDays: 0, monthListings: 0 };
  /**
   * month (`yyyy-mm`) → its batches by day, listed when a day of that month inside a window is first
   * written, so a window of years with data on a few days lists only those days' months. A day's entry
   * is dropped once its keys are loaded.
   */
  private readonly monthIndex = new Map<string, Promise<Map<string, string[]>>>();

  constructor(
    private readonly o: {
      container: ArchiveContainer;
      entity: Entity;
      maxRetainedKeys?: number | undefined;
      signal?: AbortSignal | undefined;
    },
  ) {
    this.maxRetainedKeys = Math.max(1, o.maxRetainedKeys ?? DEFAULT_MAX_RETAINED_KEYS);
  }

  stats(): ArchivedKeysStats {
    return { retainedKeys: this.retainedKeys, ...this.counters };
  }

  /** Whether the version (its digest) is known archived on a day whose set is held now (no load). */
  has(day: string, digest: string): boolean {
    return this.archived.get(day)?.has(digest) === true;
  }

  /** The day's set (loaded if need be, and marked most recently used), before a write of `window` to it. */
  async of(day: string, window: Window): Promise<DigestSet> {
    const known = this.archived.get(day);
    if (!known) return this.load(day, window);
    this.archived.delete(day);
    this.archived.set(day, known);
    return known;
  }

  /** The day's batch holding `fresh` (digests) is committed: they count as archived from now on. */
  written(day: string, set: DigestSet, fresh: readonly string[]): void {
    for (const digest of fresh) set.add(digest);
    // The set may have been dropped meanwhile by another window's load (a shared cache): count only a kept one.
    if (this.archived.get(day) === set) this.retainedKeys += fresh.length;
    this.notePeak();
    this.evictOver(day);
  }

  /** The day's write added nothing: room is made as after a write. */
  done(day: string): void {
    this.evictOver(day);
  }

  private async load(day: string, window: Window): Promise<DigestSet> {
    const { container, entity, signal } = this.o;
    let keys: DigestSet;
    const month = day.slice(0, 7);
    if (!this.evicted.has(day) && inWindow(day, window)) {
      // One listing of a month serves every day of it, for every window of the job. It is taken before
      // the job writes anything to that month, and a day's set is loaded before its first write and then
      // kept up to date in memory, so nothing this job writes can be missing from it; the entity lease
      // keeps other writers out meanwhile, as it does for the per-day listing.
      let index = this.monthIndex.get(month);
      if (!index) {
        this.counters.monthListings++;
        index = listArchivedBatchesByDay(container, entity, [month], signal);
        this.monthIndex.set(month, index);
      }
      const byDay = await index;
      const names = byDay.get(day) ?? [];
      byDay.delete(day);
      keys =
        names.length === 0
          ? new DigestSet()
          : await loadVersionKeysOf(container, names, (line) => versionDigestOfLine(entity.kind, line), signal, new DigestSet());
    } else {
      // A version Graph returned outside the window (it happens), or a day whose keys were dropped and
      // which this job may have written to since its month was listed: the day is listed on its own.
      if (this.evicted.delete(day)) this.counters.reloadedDays++;
      keys = await loadArchivedVersionKeys(
        container,
        entity,
        day,
        (line) => versionDigestOfLine(entity.kind, line),
        signal,
        new DigestSet(),
      );
    }
    this.archived.set(day, keys);
    this.retainedKeys += keys.size;
    this.notePeak();
    // Room is made before the day is written, so the count passes the cap by at most this one day.
    this.evictOver(day, false);
    return keys;
  }

  /**
   * Drops least recently used days other than `keep` (being written) until under the cap; then `keep`
   * too when asked (after its write) and it alone is over.
   */
  private evictOver(keep: string, keepToo = true): void {
    for (const [day, keys] of this.archived) {
      if (this.retainedKeys <= this.maxRetainedKeys) return;
      if (day === keep) continue;
      this.archived.delete(day);
      this.retainedKeys -= keys.size;
      this.evicted.add(day);
      this.counters.evictedDays++;
    }
    // A single day larger than the cap: dropped too once written, and read back if it comes again.
    const own = this.archived.get(keep);
    if (keepToo && this.retainedKeys > this.maxRetainedKeys && own) {
      this.archived.delete(keep);
      this.retainedKeys -= own.size;
      this.evicted.add(keep);
      this.counters.evictedDays++;
    }
  }

  private notePeak(): void {
    if (this.retainedKeys > this.counters.peakRetainedKeys) this.counters.peakRetainedKeys = this.retainedKeys;
  }
}

/** Whether the UTC day (`yyyy-mm-dd`) overlaps [fromMs, toMs), so its month is one of the window's. */
function inWindow(day: string, window: Window): boolean {
  const startMs = Date.parse(`${day}T00:00:00Z`);
  return startMs < window.toMs && startMs + 86_400_000 > window.fromMs;
}

function versionDigestOfLine(kind: EntityKind, line: string): string | undefined {
  const key = itemKeyFromLine(kind, line);
  return key === undefined ? undefined : versionDigest(key);
}
