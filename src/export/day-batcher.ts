// Partitions a window's message versions into UTC-day batches and writes each batch once, with only
// the versions not already archived for that entity and day (exactly-once versions, DESIGN.md §3).
// Memory stays bounded: when too many versions are buffered, the biggest day is flushed early as its
// own batch, so a user with a million messages never needs them all in memory.
import type { ContainerClient } from '@azure/storage-blob';
import { batchBlobName } from '../archive/blob-layout';
import { writeBatch, type WrittenBlob } from '../archive/batch-writer';
import { loadArchivedVersionKeys } from '../archive/archived-versions';
import { versionKeyFromLine, type MessageVersion } from '../graph/message-schema';
import { utcDay } from '../time';
import type { Entity, PassName, Window } from './types';

export interface DayBatcherOptions {
  container: ContainerClient;
  entity: Entity;
  pass: PassName;
  window: Window;
  /** Unique per job execution, so two executions of one job never write the same blob name. */
  writerId: string;
  /** Flush the largest day once this many versions are buffered in total. */
  maxBufferedVersions: number;
  /** Shared with the job: the next sequence number for blob names. */
  nextSeq: () => number;
  signal?: AbortSignal;
}

export interface FlushResult {
  written: WrittenBlob[];
  newVersions: number;
  duplicates: number;
}

export class DayBatcher {
  /** day → (version key → line), in arrival order. */
  private readonly buffers = new Map<string, Map<string, string>>();
  /** day → keys archived before or during this window (loaded on first flush of the day). */
  private readonly archived = new Map<string, Set<string>>();
  private buffered = 0;
  private duplicates = 0;

  constructor(private readonly opts: DayBatcherOptions) {}

  /** Adds a version; returns the result of an early flush when the buffer limit was reached. */
  async add(version: MessageVersion): Promise<FlushResult | undefined> {
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
    buffer.set(version.key, version.line);
    this.buffered++;
    if (this.buffered < this.opts.maxBufferedVersions) return undefined;
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

  /** Writes every buffered day; after it resolves, every version added so far is durable. */
  async flushAll(): Promise<FlushResult> {
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
    const keys = await loadArchivedVersionKeys(this.opts.container, this.opts.entity, day, versionKeyFromLine, this.opts.signal);
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
    const archived = this.archived.get(day) ?? (await this.loadArchived(day));
    const lines: string[] = [];
    let duplicates = 0;
    for (const [key, line] of buffer) {
      if (archived.has(key)) duplicates++;
      else lines.push(line);
    }
    if (lines.length === 0) return { written: [], newVersions: 0, duplicates };
    const { entity, pass, window, writerId } = this.opts;
    const name = batchBlobName(entity, day, { pass, window, runId: writerId, seq: this.opts.nextSeq() });
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
    return { written: [blob], newVersions: lines.length, duplicates };
  }
}
