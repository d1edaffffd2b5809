// Partitions a window's message versions into UTC-day batches and writes each batch once, with only
// the versions not already archived for that entity and day (exactly-once versions, docs/design.md §5).
// Memory stays bounded: when too many versions are buffered, the biggest day is flushed early as its
// own batch, so a user with a million messages never needs them all in memory. The keys already
// archived are kept per day as 128-bit digests, for a bounded number of keys in all (least recently
// used days are dropped and read back from the archive when needed again), so neither a long window
// nor a dense one makes them grow without bound (docs/design.md §14).
import { hash } from 'node:crypto';
import type { ArchiveContainer } from '../archive/archive-container';
import { batchBlobName } from '../archive/blob-layout';
import { writeBatch, type WrittenBlob } from '../archive/batch-writer';
import type { BatchContentHandoff } from '../archive/content-store';
import { listArchivedBatchesByDay, loadArchivedVersionKeys, loadVersionKeysOf } from '../archive/archived-versions';
import { versionKeyFromLine, type MessageVersion } from '../graph/message-schema';
import { utcDay } from '../time';
import type { WriteIntents } from './execution-manifest';
import type { Entity } from '../model/entity';
import type { PassName, Window } from '../model/window';

export interface DayBatcherOptions {
  container: ArchiveContainer;
  entity: Entity;
  pass: PassName;
  window: Window;
  /** Unique per job execution, so two executions of one job never write the same blob name. */
  writerId: string;
  /** Flush the largest day once this many versions are buffered in total (default 5000). */
  maxBufferedVersions?: number;
  /**
   * Or once this many bytes of lines are buffered (default 2 MiB). Graph returns a backlog unsorted,
   * so a job buffers every day of its window at once; a byte bound keeps dozens of concurrent jobs
   * with large messages within a few hundred megabytes, at the price of smaller batches.
   */
  maxBufferedBytes?: number;
  /**
   * Most archived-version digests kept in memory, over all days (default 1,000,000, about 50 MB).
   * A day whose set is dropped is read back from its batches when one of its versions comes again;
   * only while a single day holding more is being written can the count pass this.
   */
  maxRetainedKeys?: number;
  /** Shared with the job: the next sequence number for blob names. */
  nextSeq: () => number;
  /**
   * The content stage (docs/design.md §17): a batch holding versions that refer to content (images,
   * files) is recorded in the content backlog before it is written, and handed to the stage after; the
   * export never waits for the downloads. Only versions new to the archive count, so a re-read (the
   * settle pass, overlaps) costs nothing.
   */
  content?: BatchContentHandoff;
  /**
   * The execution's manifest: every blob is declared in it before it is written (docs/design.md §16), so
   * a crash between a write and the manifest leaves no batch outside a manifest.
   */
  intents?: WriteIntents;
  signal?: AbortSignal;
}

export interface FlushResult {
  written: WrittenBlob[];
  newVersions: number;
  duplicates: number;
}

const DEFAULT_MAX_BUFFERED_VERSIONS = 5000;
const DEFAULT_MAX_BUFFERED_BYTES = 2 * 1024 * 1024;
const DEFAULT_MAX_RETAINED_KEYS = 1_000_000;

/** What the batcher holds besides its buffers (tests and the memory bench read it). */
export interface DayBatcherStats {
  /** Archived-version digests held now, over all days. */
  retainedKeys: number;
  /** The most held at any time. */
  peakRetainedKeys: number;
  /** Days whose keys were dropped to stay under the cap. */
  evictedDays: number;
  /** Days read back from the archive after their keys were dropped. */
  reloadedDays: number;
  /** Month listings taken (each month of the window at most once, and only when a day of it is written). */
  monthListings: number;
}

export class DayBatcher {
  /**
   * day → (versionDigest of the version key → line as UTF-8), in arrival order. Keyed by the digest, as
   * the archived sets are, so each version's key is hashed once, when it is added.
   */
  private readonly buffers = new Map<string, Map<string, Buffer>>();
  /** Buffered versions that refer to content (see add), by digest. */
  private readonly withContent = new Set<string>();
  /**
   * day → digests (versionDigest) of the keys archived before or during this window, loaded on the
   * day's first flush. Map order is least recently used first; the total is kept under the cap.
   */
  private readonly archived = new Map<string, Set<string>>();
  private retainedKeys = 0;
  private readonly maxRetainedKeys: number;
  /** Days whose set was dropped: read back with a listing of the day (the month index is stale for them). */
  private readonly evicted = new Set<string>();
  private readonly counters = { peakRetainedKeys: 0, evictedDays: 0, reloadedDays: 0, monthListings: 0 };
  private buffered = 0;
  private bufferedBytes = 0;
  private readonly maxBufferedVersions: number;
  private readonly maxBufferedBytes: number;
  private duplicates = 0;
  /**
   * month (`yyyy-mm`, inside the window) → its batches by day, listed when a day of that month is first
   * written, so a window of years with data on a few days lists only those days' months. A day's entry
   * is dropped once its keys are loaded.
   */
  private readonly monthIndex = new Map<string, Promise<Map<string, string[]>>>();

  constructor(private readonly opts: DayBatcherOptions) {
    this.maxBufferedVersions = opts.maxBufferedVersions ?? DEFAULT_MAX_BUFFERED_VERSIONS;
    this.maxBufferedBytes = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.maxRetainedKeys = Math.max(1, opts.maxRetainedKeys ?? DEFAULT_MAX_RETAINED_KEYS);
  }

  stats(): DayBatcherStats {
    return { retainedKeys: this.retainedKeys, ...this.counters };
  }

  /** Operations run one at a time: several sub-window reads of one job feed the same batcher. */
  private queue: Promise<unknown> = Promise.resolve();
  /**
   * The first failure of any operation. A failed flush has taken its day's versions out of the buffer
   * without writing them, so the batcher refuses everything after it: a later flushAll must not report
   * "everything read so far is durable" (the caller would then record read positions past versions that
   * were lost; docs/design.md §16), and a sibling read must not go on feeding it.
   */
  private failure: { error: unknown } | undefined;

  private serially<T>(op: () => Promise<T>): Promise<T> {
    const guarded = async () => {
      if (this.failure) throw this.failure.error;
      try {
        return await op();
      } catch (err) {
        this.failure ??= { error: err };
        throw err;
      }
    };
    const run = this.queue.then(guarded, guarded);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Adds a version; returns the result of an early flush when the buffer limit was reached.
   * `refersToContent` marks a version whose images or files the content stage fetches if, and only if,
   * it turns out to be new when its batch is written.
   */
  add(version: MessageVersion, refersToContent = false): Promise<FlushResult | undefined> {
    return this.serially(() => this.addNow(version, refersToContent));
  }

  /** Writes every buffered day; after it resolves, every version added so far is durable. */
  flushAll(): Promise<FlushResult> {
    return this.serially(() => this.flushAllNow());
  }

  private async addNow(version: MessageVersion, refersToContent: boolean): Promise<FlushResult | undefined> {
    const day = utcDay(version.bucketMs);
    let buffer = this.buffers.get(day);
    if (!buffer) {
      buffer = new Map();
      this.buffers.set(day, buffer);
    }
    const digest = versionDigest(version.key);
    if (buffer.has(digest) || this.archived.get(day)?.has(digest)) {
      // The same version twice in one read (Graph repeats items across pages) or already written.
      this.duplicates++;
      return undefined;
    }
    // Unpooled: a pooled Buffer is a slice of a shared 8 KiB slab, and one buffered line would keep
    // the slab, and the flushed lines that shared it, alive.
    const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(version.line, 'utf8'));
    bytes.write(version.line, 'utf8');
    buffer.set(digest, bytes);
    if (refersToContent) this.withContent.add(digest);
    this.buffered++;
    this.bufferedBytes += bytes.length;
    if (this.buffered < this.maxBufferedVersions && this.bufferedBytes < this.maxBufferedBytes) return undefined;
    let largest: string | undefined;
    let size = -1;
    for (const [d, b] of this.buffers) {
      if (b.size > size) {
        largest = d;
        size = b.size;
      }
    }
    return largest === undefined ? undefined : this.flushDay(largest);
  }

  private async flushAllNow(): Promise<FlushResult> {
    const total: FlushResult = { written: [], newVersions: 0, duplicates: 0 };
    const days = [...this.buffers.keys()].filter((d) => (this.buffers.get(d)?.size ?? 0) > 0).sort();
    // One manifest write declares every batch of this flush, not one per day.
    const names = new Map(days.map((d) => [d, this.batchName(d)] as const));
    await this.opts.intents?.declare([...names.values()]);
    for (const day of days) {
      const r = await this.flushDay(day, names.get(day));
      total.written.push(...r.written);
      total.newVersions += r.newVersions;
      total.duplicates += r.duplicates;
    }
    total.duplicates += this.takeDuplicates();
    return total;
  }

  private async loadArchived(day: string): Promise<Set<string>> {
    const { container, entity, window, signal } = this.opts;
    let keys: Set<string>;
    const month = day.slice(0, 7);
    if (!this.evicted.has(day) && inWindow(day, window)) {
      // One listing of a month serves every day of it. It is taken before this batcher writes anything
      // to that month, and a day's set is loaded before its first write and then kept up to date in
      // memory, so nothing this job writes can be missing from it; the entity lease keeps other
      // writers out meanwhile, as it does for the per-day listing.
      let index = this.monthIndex.get(month);
      if (!index) {
        this.counters.monthListings++;
        index = listArchivedBatchesByDay(container, entity, [month], signal);
        this.monthIndex.set(month, index);
      }
      const byDay = await index;
      const names = byDay.get(day) ?? [];
      byDay.delete(day);
      keys = names.length === 0 ? new Set() : await loadVersionKeysOf(container, names, versionDigestOfLine, signal);
    } else {
      // A version Graph returned outside the window (it happens), or a day whose keys were dropped and
      // which this batcher may have written to since its month was listed: the day is listed on its own.
      if (this.evicted.delete(day)) this.counters.reloadedDays++;
      keys = await loadArchivedVersionKeys(container, entity, day, versionDigestOfLine, signal);
    }
    this.archived.set(day, keys);
    this.retainedKeys += keys.size;
    this.notePeak();
    // Room is made before the day is written, so the count passes the cap by at most this one day.
    this.evictOver(day, false);
    return keys;
  }

  /** The day's set, loaded if need be, and marked most recently used. */
  private async archivedOf(day: string): Promise<Set<string>> {
    const known = this.archived.get(day);
    if (!known) return this.loadArchived(day);
    this.archived.delete(day);
    this.archived.set(day, known);
    return known;
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

  private takeDuplicates(): number {
    const d = this.duplicates;
    this.duplicates = 0;
    return d;
  }

  private batchName(day: string): string {
    const { entity, pass, window, writerId } = this.opts;
    return batchBlobName(entity, day, { pass, window, runId: writerId, seq: this.opts.nextSeq() });
  }

  /** Writes one day's buffer as one batch (named `declaredName` when its flushAll declared it already). */
  private async flushDay(day: string, declaredName?: string): Promise<FlushResult> {
    const buffer = this.buffers.get(day);
    this.buffers.delete(day);
    if (!buffer || buffer.size === 0) return { written: [], newVersions: 0, duplicates: 0 };
    const name = declaredName ?? this.batchName(day);
    const names = [name];
    if (declaredName === undefined) await this.opts.intents?.declare(names);
    this.buffered -= buffer.size;
    for (const line of buffer.values()) this.bufferedBytes -= line.length;
    const archived = await this.archivedOf(day);
    const lines: Buffer[] = [];
    let withContent = 0;
    let duplicates = 0;
    const fresh: string[] = [];
    for (const [digest, line] of buffer) {
      const refers = this.withContent.delete(digest);
      if (archived.has(digest)) {
        duplicates++;
        continue;
      }
      fresh.push(digest);
      lines.push(line);
      if (refers) withContent++;
    }
    if (lines.length === 0) {
      this.evictOver(day);
      this.opts.intents?.settle(names, []);
      return { written: [], newVersions: 0, duplicates };
    }
    const { entity, pass, window, writerId } = this.opts;
    const content = withContent > 0 ? this.opts.content : undefined;
    // Recorded before the write: a crash right after the batch lands leaves the obligation behind, never
    // a batch whose images nobody will fetch (docs/design.md §17).
    await content?.record(name, withContent);
    const blob = await writeBatch(
      this.opts.container,
      name,
      lines,
      {
        entitykind: entity.kind,
        entityid: encodeURIComponent(entity.id),
        pass,
        windowfrom: new Date(window.fromMs).toISOString(),
        windowto: new Date(window.toMs).toISOString(),
        day,
        // Which execution wrote it: its manifest declared the name before the write (docs/design.md §16).
        writer: writerId,
      },
      this.opts.signal,
    );
    // Only now, with the blob committed, do these versions count as archived.
    for (const digest of fresh) {
      archived.add(digest);
      this.retainedKeys++;
    }
    this.notePeak();
    this.evictOver(day);
    this.opts.intents?.settle(names, [blob]);
    await content?.written(name);
    return { written: [blob], newVersions: lines.length, duplicates };
  }
}

/** Whether the UTC day (`yyyy-mm-dd`) overlaps [fromMs, toMs), so its month is one of the window's. */
function inWindow(day: string, window: Window): boolean {
  const startMs = Date.parse(`${day}T00:00:00Z`);
  return startMs < window.toMs && startMs + 86_400_000 > window.fromMs;
}

/**
 * What the batcher remembers of a version key: 16 bytes of its SHA-256 as a one-byte string, a third
 * of the key's size. Two different keys of one entity and day collide with a probability around
 * n²/2¹²⁹ (below 10⁻²⁴ for a million versions), far below any storage fault.
 */
export function versionDigest(key: string): string {
  // Runs once for every version read: a one-shot hash (no Hash object, no Buffer), and the first 16
  // characters copied by a join, which makes a flat 16-character string (a slice of 13 or more
  // characters would keep the whole 32-character digest alive, 40% more memory per key held).
  // 'binary' is Node's name for latin1: one character per byte.
  const d = hash('sha256', key, 'binary');
  return [d.slice(0, 8), d.slice(8, 16)].join('');
}

function versionDigestOfLine(line: string): string | undefined {
  const key = versionKeyFromLine(line);
  return key === undefined ? undefined : versionDigest(key);
}
