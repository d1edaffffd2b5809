// The content stage inside one process (the CLI, the demo, the benchmark; docs/design.md §17): the
// run's jobs hand their written batches over and go on exporting, while this pool settles them, many
// batches (so many conversations) at once, each conversation at Graph's pace and every download at a
// lower priority than the export's pages. The run ends only once the pool has drained; what is left to
// retry stays in the backlog for a later run, which also takes what a killed process left behind.
import { errorText } from '../model/errors';
import type { ContentBacklog, ContentObligation } from '../state/content-backlog';
import type { ContentHandoff } from './content-handoff';
import { settleBatchContent, type ContentStageDeps } from './content-stage';

export interface ContentPoolStats {
  /** Batches handed over and not finished yet (waiting or in progress). */
  pending: number;
  /** Batches whose content map is written. */
  settled: number;
  /** Batches left for a later attempt (references to retry, or a failure of storage). */
  deferred: number;
}

/** Batches settled at once; each fetches a few references at once (EXPORT_CONTENT_CONCURRENCY). */
export const CONTENT_POOL_BATCHES = 16;

export class ContentPool implements ContentHandoff {
  readonly backlog: ContentBacklog;
  private readonly waiting: string[] = [];
  /** Batches waiting or in progress: a batch handed over twice is settled once. */
  private readonly known = new Set<string>();
  /** Batches taken from runs that have finished (see takeLeftovers). */
  private readonly ofFinishedRuns = new Set<string>();
  private active = 0;
  private readonly counters = { settled: 0, deferred: 0 };
  private idle: Array<() => void> = [];

  constructor(
    private readonly deps: ContentStageDeps & { concurrency?: number; onChange?: (s: ContentPoolStats) => void },
    private readonly signal?: AbortSignal,
  ) {
    this.backlog = deps.backlog;
  }

  stats(): ContentPoolStats {
    return { pending: this.known.size, ...this.counters };
  }

  dispatch(batch: string): Promise<void> {
    if (!this.known.has(batch) && !this.signal?.aborted) {
      this.known.add(batch);
      this.waiting.push(batch);
      this.changed();
      this.pump();
    }
    return Promise.resolve();
  }

  /**
   * Takes over what earlier runs left in the backlog: rows due (a retry's time has come, or a dispatch
   * was lost), and rows never tried of runs no longer open (their process finished or was killed). A
   * row of a run still open elsewhere is that run's until it is due. Returns how many batches were taken.
   */
  async takeLeftovers(isOpen: (runId: string) => Promise<boolean>): Promise<number> {
    const open = new Map<string, Promise<boolean>>();
    let taken = 0;
    for await (const o of this.backlog.pending(this.signal)) {
      let known = open.get(o.runId);
      if (!known) open.set(o.runId, (known = isOpen(o.runId)));
      const finished = !(await known);
      // A retry waits for its due time whatever its run; a row never tried is taken from a finished run
      // at once (the process that would have settled it is gone).
      if (!(o.dueMs <= this.deps.now() || (finished && o.attempts === 0))) continue;
      taken++;
      // A row of a finished run whose batch is not there was recorded by a job that died before the
      // write: that execution's batch name will never be written, so the row can go at once.
      if (finished) this.ofFinishedRuns.add(o.batch);
      await this.dispatch(o.batch);
    }
    return taken;
  }

  /** Resolves once every batch handed over has been settled or deferred (or the run was stopped). */
  drain(): Promise<void> {
    if (this.known.size === 0 || this.signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private pump(): void {
    const limit = this.deps.concurrency ?? CONTENT_POOL_BATCHES;
    while (this.active < limit && this.waiting.length > 0 && !this.signal?.aborted) {
      const batch = this.waiting.shift()!;
      this.active++;
      void this.settle(batch).finally(() => {
        this.active--;
        this.known.delete(batch);
        this.changed();
        this.pump();
        if (this.known.size === 0 || this.signal?.aborted) this.wake();
      });
    }
    if (this.signal?.aborted) this.wake();
  }

  private async settle(batch: string): Promise<void> {
    const { log } = this.deps;
    let o: ContentObligation | undefined;
    try {
      // Read afresh: another process may have settled it, and the row's ETag guards the retry record.
      o = await this.backlog.get(batch, this.signal);
      if (!o) return;
      const r = await settleBatchContent(this.deps, o, this.signal, this.ofFinishedRuns.delete(batch));
      if (r.outcome === 'settled') this.counters.settled++;
      else if (r.outcome === 'retry') this.counters.deferred++;
    } catch (err) {
      if (this.signal?.aborted) return;
      // Storage trouble: the row stays pending and comes due for a later run.
      this.counters.deferred++;
      log.warn('content of a batch not settled; left for a later run', { batch, error: errorText(err) });
    }
  }

  private changed(): void {
    this.deps.onChange?.(this.stats());
  }

  private wake(): void {
    const waiters = this.idle;
    this.idle = [];
    for (const w of waiters) w();
  }
}
