// Partitions a window's message versions into UTC-day batches and writes each batch once, with only
// the versions not already archived for that entity and day (exactly-once versions, docs/design.md §5).
// Memory stays bounded: when too many versions are buffered, the biggest day is flushed early as its
// own batch, so a user with a million messages never needs them all in memory.
import type { ArchiveContainer } from '../archive/archive-container';
import { batchBlobName, contentMapName } from '../archive/blob-layout';
import { writeBatch, writeJson, type WrittenBlob } from '../archive/batch-writer';
import { listArchivedBatchesByDay, loadArchivedVersionKeys, loadVersionKeysOf } from '../archive/archived-versions';
import { versionKeyFromLine, type MessageVersion } from '../graph/message-schema';
import { utcDay } from '../time';
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
  /** Shared with the job: the next sequence number for blob names. */
  nextSeq: () => number;
  /**
   * What a version refers to (images, files), fetched only for versions that are new to the archive,
   * just before their batch is written; re-read versions (the settle pass, overlaps) cost nothing.
   */
  contentFor?: (version: ContentTarget, line: string) => Promise<readonly unknown[] | undefined>;
  signal?: AbortSignal;
}

/** Which version a content lookup is for (the batcher keeps lines, not parsed objects). */
export interface ContentTarget {
  key: string;
  conversationId: string;
  messageId: string;
}

export interface FlushResult {
  written: WrittenBlob[];
  newVersions: number;
  duplicates: number;
}

const DEFAULT_MAX_BUFFERED_VERSIONS = 5000;
const DEFAULT_MAX_BUFFERED_BYTES = 2 * 1024 * 1024;

export class DayBatcher {
  /** day → (version key → line as UTF-8), in arrival order. */
  private readonly buffers = new Map<string, Map<string, Buffer>>();
  /** Buffered versions whose content is to be fetched when they are written (see add). */
  private readonly contentTargets = new Map<string, ContentTarget>();
  /** day → keys archived before or during this window (loaded on first flush of the day). */
  private readonly archived = new Map<string, Set<string>>();
  private buffered = 0;
  private bufferedBytes = 0;
  private readonly maxBufferedVersions: number;
  private readonly maxBufferedBytes: number;
  private duplicates = 0;
  /** The months the window covers (`yyyy-mm`): their batches are listed once, on the first flush. */
  private readonly windowMonths: Set<string>;
  private monthIndex: Promise<Map<string, string[]>> | undefined;

  constructor(private readonly opts: DayBatcherOptions) {
    this.windowMonths = monthsOf(opts.window);
    this.maxBufferedVersions = opts.maxBufferedVersions ?? DEFAULT_MAX_BUFFERED_VERSIONS;
    this.maxBufferedBytes = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  }

  /** Operations run one at a time: several sub-window reads of one job feed the same batcher. */
  private queue: Promise<unknown> = Promise.resolve();

  private serially<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(op, op);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Adds a version; returns the result of an early flush when the buffer limit was reached.
   * `refersToContent` marks a version whose images or files are fetched (contentFor) if, and only if,
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
    if (buffer.has(version.key) || this.archived.get(day)?.has(version.key)) {
      // The same version twice in one read (Graph repeats items across pages) or already written.
      this.duplicates++;
      return undefined;
    }
    // Unpooled: a pooled Buffer is a slice of a shared 8 KiB slab, and one buffered line would keep
    // the slab, and the flushed lines that shared it, alive.
    const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(version.line, 'utf8'));
    bytes.write(version.line, 'utf8');
    buffer.set(version.key, bytes);
    if (refersToContent)
      this.contentTargets.set(version.key, { key: version.key, conversationId: version.conversationId, messageId: version.messageId });
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
    for (const day of [...this.buffers.keys()].sort()) {
      const r = await this.flushDay(day);
      total.written.push(...r.written);
      total.newVersions += r.newVersions;
      total.duplicates += r.duplicates;
    }
    total.duplicates += this.takeDuplicates();
    return total;
  }

  private async loadArchived(day: string): Promise<Set<string>> {
    const { container, entity, signal } = this.opts;
    let keys: Set<string>;
    if (this.windowMonths.has(day.slice(0, 7))) {
      // One listing of the window's months serves every day of it. It is taken before this batcher
      // writes anything, and a day's set is loaded before its first write and then kept up to date
      // in memory, so nothing this job writes can be missing from it; the entity lease keeps other
      // writers out meanwhile, as it does for the per-day listing.
      this.monthIndex ??= listArchivedBatchesByDay(container, entity, this.windowMonths, signal);
      const names = (await this.monthIndex).get(day) ?? [];
      keys = names.length === 0 ? new Set() : await loadVersionKeysOf(container, names, versionKeyFromLine, signal);
    } else {
      // A version Graph returned outside the window (it happens): its day is looked up on its own.
      keys = await loadArchivedVersionKeys(container, entity, day, versionKeyFromLine, signal);
    }
    this.archived.set(day, keys);
    return keys;
  }

  private takeDuplicates(): number {
    const d = this.duplicates;
    this.duplicates = 0;
    return d;
  }

  private async flushDay(day: string): Promise<FlushResult> {
    const buffer = this.buffers.get(day);
    this.buffers.delete(day);
    if (!buffer || buffer.size === 0) return { written: [], newVersions: 0, duplicates: 0 };
    this.buffered -= buffer.size;
    for (const line of buffer.values()) this.bufferedBytes -= line.length;
    const archived = this.archived.get(day) ?? (await this.loadArchived(day));
    const lines: Buffer[] = [];
    const withContent: Array<{ target: ContentTarget; line: Buffer }> = [];
    let duplicates = 0;
    for (const [key, line] of buffer) {
      const target = this.contentTargets.get(key);
      this.contentTargets.delete(key);
      if (archived.has(key)) {
        duplicates++;
        continue;
      }
      lines.push(line);
      if (target) withContent.push({ target, line });
    }
    if (lines.length === 0) return { written: [], newVersions: 0, duplicates };
    const content: unknown[] = [];
    const contentFor = this.opts.contentFor;
    if (contentFor && withContent.length > 0) {
      for (const entries of await Promise.all(withContent.map((w) => contentFor(w.target, w.line.toString('utf8')))))
        if (entries) content.push(...entries);
    }
    const { entity, pass, window, writerId } = this.opts;
    const name = batchBlobName(entity, day, { pass, window, runId: writerId, seq: this.opts.nextSeq() });
    const written: WrittenBlob[] = [];
    if (content.length > 0) {
      // The content map goes first: a crash in between leaves a map without its batch (harmless, the
      // rerun writes both again), never a batch whose images and files are not recorded.
      written.push(
        await writeJson(
          this.opts.container,
          contentMapName(name),
          { batch: name, entries: content },
          this.opts.signal ? { signal: this.opts.signal } : {},
        ),
      );
    }
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
      },
      this.opts.signal,
    );
    // Only now, with the blob committed, do these versions count as archived.
    for (const key of buffer.keys()) archived.add(key);
    written.push(blob);
    return { written, newVersions: lines.length, duplicates };
  }
}

/** The UTC months (`yyyy-mm`) that [fromMs, toMs) touches. */
function monthsOf(window: Window): Set<string> {
  const months = new Set<string>();
  if (!(window.toMs > window.fromMs)) return months;
  const last = utcDay(window.toMs - 1).slice(0, 7);
  const d = new Date(window.fromMs);
  let y = d.getUTCFullYear();
  let m = d.getUTCMonth();
  for (;;) {
    const month = `${String(y).padStart(4, '0')}-${String(m + 1).padStart(2, '0')}`;
    months.add(month);
    if (month >= last) return months;
    m++;
    if (m === 12) {
      m = 0;
      y++;
    }
  }
}
