// Partitions a window's message versions into UTC-day batches and writes each batch once, with only
// the versions not already archived for that entity and day (exactly-once versions, docs/design.md §5).
// Memory stays bounded: when too many versions are buffered, the biggest day is flushed early as its
// own batch, so a user with a million messages never needs them all in memory; the day buffers come
// from the process's memory budget (memory-budget.ts), and when it is used up a batcher holding its
// fair share flushes its largest day early too. The keys already
// archived are kept per day as 128-bit digests, for a bounded number of keys in all (least recently
// used days are dropped and read back from the archive when needed again), so neither a long window
// nor a dense one makes them grow without bound (docs/design.md §14).
import type { ArchiveContainer } from '../archive/archive-container';
import { batchBlobName } from '../archive/blob-layout';
import { writeBatchBody, type WrittenBlob } from '../archive/batch-writer';
import type { BatchContentHandoff } from '../archive/content-store';
import type { MessageVersion } from '../graph/message-schema';
import { utcDay } from '../time';
import { ArchivedKeys, type ArchivedKeysStats } from './archived-keys';
import { MemoryBudget, unboundedBudget } from './memory-budget';
import { versionDigest } from './version-digest';
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
  /**
   * The job's cache of archived version keys, shared by the batchers of its windows, so a later window
   * (the fresh pass after the settle pass) reuses the month listings and day sets an earlier one read.
   * Without one the batcher keeps its own.
   */
  archived?: ArchivedKeys;
  /**
   * The process's memory budget (EXPORT_MEMORY_MB), shared by every batcher of the process: the day
   * buffers come from it. Without one the batcher has an unbounded one of its own.
   */
  memory?: MemoryBudget;
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

/** A version of a page, and whether it refers to content (see DayBatcher.add). */
export interface PageVersion {
  version: Omit<MessageVersion, 'line'>;
  /** The version's line as UTF-8, followed by '\n' (no other newline in it). */
  line: Buffer;
  refersToContent: boolean;
}

/** One day's buffered versions. */
interface DayBuffer {
  /** The lines, each followed by '\n', back to back in arrival order: `used` bytes of `buf`. */
  buf: Buffer;
  used: number;
  /** versionDigest of the key → where its line starts in `buf` (it ends where the next one starts). */
  starts: Map<string, number>;
}

const DEFAULT_MAX_BUFFERED_VERSIONS = 5000;
const DEFAULT_MAX_BUFFERED_BYTES = 2 * 1024 * 1024;

/** What the batcher holds besides its buffers: its archived-key cache's figures. */
export type DayBatcherStats = ArchivedKeysStats;

export class DayBatcher {
  /**
   * day → its lines, keyed by the digest of the version key as the archived sets are, so each version's
   * key is hashed once, when it is added.
   */
  private readonly buffers = new Map<string, DayBuffer>();
  /** Buffered versions that refer to content (see add): digest → the version's conversation and message. */
  private readonly withContent = new Map<string, { conversationId: string; messageId: string }>();
  /** What is archived already, per day: the job's cache (or this batcher's own). */
  private readonly keys: ArchivedKeys;
  private buffered = 0;
  private bufferedBytes = 0;
  private readonly memory: MemoryBudget;
  /** Capacity of the day buffers this batcher holds (taken from `memory`). */
  private heldBytes = 0;
  private readonly maxBufferedVersions: number;
  private readonly maxBufferedBytes: number;
  private duplicates = 0;
  constructor(private readonly opts: DayBatcherOptions) {
    this.maxBufferedVersions = opts.maxBufferedVersions ?? DEFAULT_MAX_BUFFERED_VERSIONS;
    this.maxBufferedBytes = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.memory = opts.memory ?? unboundedBudget();
    this.keys =
      opts.archived ??
      new ArchivedKeys({ container: opts.container, entity: opts.entity, maxRetainedKeys: opts.maxRetainedKeys, signal: opts.signal });
  }

  /** The archived-key cache's figures (shared by every batcher of one job: see ArchivedKeys). */
  stats(): DayBatcherStats {
    return this.keys.stats();
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
    const { line, ...rest } = version;
    return this.serially(async () => {
      // One line per version: a raw newline would split a version in two when read back.
      if (line.includes('\n')) throw new RangeError('a batch line must not contain a newline');
      return this.addNow([{ version: rest, line: Buffer.from(`${line}\n`, 'utf8'), refersToContent }]);
    });
  }

  /**
   * Adds a page's versions in one operation, in order, each as `add` would; returns what early flushes
   * wrote, if any. One operation per page instead of one per version: the page's lines reach the day
   * buffers at once, so the page itself can go.
   */
  addPage(versions: readonly PageVersion[]): Promise<FlushResult | undefined> {
    return this.serially(() => this.addNow(versions));
  }

  /** Writes every buffered day; after it resolves, every version added so far is durable. */
  flushAll(): Promise<FlushResult> {
    return this.serially(() => this.flushAllNow());
  }

  /**
   * Gives the day buffers still held back to the memory budget, once the operations queued so far are
   * over. For a batcher that will not be used again (its window read failed or stopped); one that ended
   * with flushAll holds none.
   */
  release(): Promise<void> {
    const drop = async () => {
      for (const b of this.buffers.values()) this.giveBack(b.buf);
      this.buffers.clear();
      this.withContent.clear();
      this.buffered = 0;
      this.bufferedBytes = 0;
    };
    const run = this.queue.then(drop, drop);
    this.queue = run;
    return run;
  }

  private async addNow(versions: readonly PageVersion[]): Promise<FlushResult | undefined> {
    let result: FlushResult | undefined;
    for (const { version, line, refersToContent } of versions) {
      const day = utcDay(version.bucketMs);
      const digest = versionDigest(version.key);
      if (this.buffers.get(day)?.starts.has(digest) || this.keys.has(day, digest)) {
        // The same version twice in one read (Graph repeats items across pages) or already written.
        this.duplicates++;
        continue;
      }
      // The process's budget is used up: a batcher holding its fair share or more makes room first by
      // writing its largest day early (as its own batch); one holding less may go over (memory-budget.ts).
      const growth = this.growthFor(day, line.length);
      if (growth > 0 && !this.memory.linesHaveRoom(growth) && this.heldBytes >= this.memory.fairShare()) {
        const fullest = this.largestDay((b) => b.buf.length);
        if (fullest !== undefined) {
          this.memory.notePressureFlush();
          result = merged(result, await this.flushDay(fullest));
        }
      }
      // Read again: the early write may have been this day's.
      const buffer = this.room(day, this.buffers.get(day), line.length);
      buffer.starts.set(digest, buffer.used);
      buffer.used += line.copy(buffer.buf, buffer.used);
      if (refersToContent) this.withContent.set(digest, { conversationId: version.conversationId, messageId: version.messageId });
      this.buffered++;
      this.bufferedBytes += line.length - 1;
      if (this.buffered < this.maxBufferedVersions && this.bufferedBytes < this.maxBufferedBytes) continue;
      const largest = this.largestDay((b) => b.starts.size);
      if (largest !== undefined) result = merged(result, await this.flushDay(largest));
    }
    return result;
  }

  /** How many more bytes of day buffers adding `bytes` to `day` takes (0 when its buffer has room). */
  private growthFor(day: string, bytes: number): number {
    const b = this.buffers.get(day);
    if (!b) return MemoryBudget.capacityFor(bytes);
    return b.used + bytes <= b.buf.length ? 0 : MemoryBudget.capacityFor(b.used + bytes) - b.buf.length;
  }

  /** The buffered day with the most of `measure` (versions for the batcher's own limit, capacity for the budget's). */
  private largestDay(measure: (b: DayBuffer) => number): string | undefined {
    let largest: string | undefined;
    let size = -1;
    for (const [d, b] of this.buffers) {
      const m = measure(b);
      if (m > size) {
        largest = d;
        size = m;
      }
    }
    return largest;
  }

  /** The day's buffer with room for `bytes` more: created, or moved to one twice as large (or more). */
  private room(day: string, buffer: DayBuffer | undefined, bytes: number): DayBuffer {
    if (!buffer) {
      const created: DayBuffer = { buf: this.take(MemoryBudget.capacityFor(bytes)), used: 0, starts: new Map() };
      this.buffers.set(day, created);
      return created;
    }
    if (buffer.used + bytes > buffer.buf.length) {
      const larger = this.take(MemoryBudget.capacityFor(buffer.used + bytes));
      buffer.buf.copy(larger, 0, 0, buffer.used);
      this.giveBack(buffer.buf);
      buffer.buf = larger;
    }
    return buffer;
  }

  private take(capacity: number): Buffer {
    if (this.heldBytes === 0) this.memory.holding(1);
    this.heldBytes += capacity;
    return this.memory.takeLineBuffer(capacity);
  }

  private giveBack(buf: Buffer): void {
    this.heldBytes -= buf.length;
    if (this.heldBytes === 0) this.memory.holding(-1);
    this.memory.giveBackLineBuffer(buf);
  }

  private async flushAllNow(): Promise<FlushResult> {
    const total: FlushResult = { written: [], newVersions: 0, duplicates: 0 };
    const days = [...this.buffers.keys()].filter((d) => (this.buffers.get(d)?.starts.size ?? 0) > 0).sort();
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
    if (!buffer) return { written: [], newVersions: 0, duplicates: 0 };
    try {
      return await this.writeDay(day, buffer, declaredName);
    } finally {
      // Written or not, the lines are done with (a failed flush fails the batcher: see `failure`).
      this.giveBack(buffer.buf);
    }
  }

  private async writeDay(day: string, buffer: DayBuffer, declaredName: string | undefined): Promise<FlushResult> {
    if (buffer.starts.size === 0) return { written: [], newVersions: 0, duplicates: 0 };
    const name = declaredName ?? this.batchName(day);
    const names = [name];
    this.buffered -= buffer.starts.size;
    this.bufferedBytes -= buffer.used - buffer.starts.size;
    if (declaredName === undefined) await this.opts.intents?.declare(names);
    const archived = await this.keys.of(day, this.opts.window);
    let withContent = 0;
    /** The new versions' messages with content per conversation: the content stage's hint of what to serve first. */
    const conversations = new Map<string, string[]>();
    let duplicates = 0;
    const fresh: string[] = [];
    // Lines already archived are squeezed out in place; the rest stay in arrival order.
    const { buf } = buffer;
    let kept = 0;
    let prev: { digest: string; start: number } | undefined;
    const take = (digest: string, start: number, end: number) => {
      const refers = this.withContent.get(digest);
      this.withContent.delete(digest);
      if (archived.has(digest)) {
        duplicates++;
        return;
      }
      fresh.push(digest);
      if (refers !== undefined) {
        withContent++;
        const ids = conversations.get(refers.conversationId);
        if (ids) ids.push(refers.messageId);
        else conversations.set(refers.conversationId, [refers.messageId]);
      }
      if (start !== kept) buf.copy(buf, kept, start, end);
      kept += end - start;
    };
    for (const [digest, start] of buffer.starts) {
      if (prev) take(prev.digest, prev.start, start);
      prev = { digest, start };
    }
    if (prev) take(prev.digest, prev.start, buffer.used);
    if (fresh.length === 0) {
      this.keys.done(day);
      this.opts.intents?.settle(names, []);
      return { written: [], newVersions: 0, duplicates };
    }
    const { entity, pass, window, writerId } = this.opts;
    const content = withContent > 0 ? this.opts.content : undefined;
    // Recorded before the write: a crash right after the batch lands leaves the obligation behind, never
    // a batch whose images nobody will fetch (docs/design.md §17).
    await content?.record(name, withContent);
    const blob = await writeBatchBody(
      this.opts.container,
      name,
      buf.subarray(0, kept),
      fresh.length,
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
    this.keys.written(day, archived, fresh);
    this.opts.intents?.settle(names, [blob]);
    await content?.written(name, conversations);
    return { written: [blob], newVersions: fresh.length, duplicates };
  }
}

function merged(a: FlushResult | undefined, b: FlushResult): FlushResult {
  if (!a) return b;
  return { written: [...a.written, ...b.written], newVersions: a.newVersions + b.newVersions, duplicates: a.duplicates + b.duplicates };
}

export { versionDigest } from './version-digest';
