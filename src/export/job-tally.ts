// The counts of one execution of an entity job, and the increments its request's onProgress sees as
// pages are read and batches written. Content that could not be stored is tallied by status for the
// run's collection report (docs/design.md §13), only from batches that were written: a write that
// failed has its versions fetched again by the next attempt, which must not count them twice.
import type { ContentEntry } from './content-fetcher';
import type { FlushResult } from './day-batcher';
import { emptyCounts, type JobCounts } from '../model/job';

export class JobTally {
  readonly counts: JobCounts = emptyCounts();
  /** Content that could not be stored, by status. */
  readonly unfetched: Record<string, number> = {};

  constructor(private readonly onProgress?: (delta: Partial<JobCounts>) => void) {}

  /** A page of `items` raw items was received. */
  pageRead(items: number): void {
    this.counts.pages++;
    this.counts.received += items;
    this.onProgress?.({ pages: 1, received: items });
  }

  /** A quarantined item was written (not one an earlier read had already quarantined). */
  quarantinedOne(): void {
    this.counts.quarantined++;
    this.onProgress?.({ quarantined: 1 });
  }

  /** What a batch flush (or a single chat version's write) wrote. */
  record(r: FlushResult): void {
    for (const e of (r.content ?? []) as ContentEntry[]) {
      if (e.status !== 'stored') this.unfetched[e.status] = (this.unfetched[e.status] ?? 0) + 1;
    }
    this.counts.messages += r.newVersions;
    this.counts.duplicates += r.duplicates;
    this.counts.blobs += r.written.length;
    let bytes = 0;
    for (const b of r.written) bytes += b.bytes;
    this.counts.bytes += bytes;
    this.onProgress?.({ messages: r.newVersions, duplicates: r.duplicates, blobs: r.written.length, bytes });
  }

  /** `{ unfetched }` for a job result when some content could not be stored; otherwise nothing. */
  unfetchedField(): { unfetched?: Record<string, number> } {
    return Object.keys(this.unfetched).length > 0 ? { unfetched: this.unfetched } : {};
  }
}
