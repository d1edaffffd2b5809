// The counts of one execution of an entity job, and the increments its request's onProgress sees as
// pages are read and batches written. (Content is the content stage's, with counts of its own:
// docs/design.md §17.)
import type { FlushResult } from './day-batcher';
import { emptyCounts, type JobCounts } from '../model/job';

export class JobTally {
  readonly counts: JobCounts = emptyCounts();

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
    this.counts.messages += r.newVersions;
    this.counts.duplicates += r.duplicates;
    this.counts.blobs += r.written.length;
    let bytes = 0;
    for (const b of r.written) bytes += b.bytes;
    this.counts.bytes += bytes;
    this.onProgress?.({ messages: r.newVersions, duplicates: r.duplicates, blobs: r.written.length, bytes });
  }
}
