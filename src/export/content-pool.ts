// The content stage inside one process (the CLI, the demo, the benchmark; docs/design.md §17): the
// run's jobs hand their written batches over and go on exporting, while this pool settles them, many
// batches (so many conversations) at once, each conversation at Graph's pace and every download at a
// lower priority than the export's pages. The run ends only once the pool has drained; what is left to
// retry stays in the backlog for a later run, which also takes what a killed process left behind.
//
// The pool schedules by conversation, not in arrival order: Graph paces hosted contents per chat or
// channel (about 1 request/s), so the backlog can end no sooner than its busiest conversation's
// references take at that pace. The conversation with the most content waiting is served first, and
// keeps up to CONTENT_POOL_PER_CONVERSATION batches in progress (one downloading while the next waits
// for its turn), so it always has a download coming. While the run's jobs export, few batches are in
// progress (the stage's work shares the machine with the export); once they have finished, many.
import type { ContentConversations } from '../archive/content-store';
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

/**
 * Batches settled at once while the run's entity jobs are exporting; each fetches a few references at
 * once (EXPORT_CONTENT_CONCURRENCY). Kept small: the stage's work shares the machine with the export, and
 * the busiest conversations, served first, need two each. In the bench's content profile 16 cost the
 * export 1.27-1.32x its time without content, 8 cost 1.16-1.26x, with the backlog as close to its floor
 * (bench/RESULTS.md, "Content as its own stage").
 */
export const CONTENT_POOL_BATCHES = 8;
/** Batches settled at once after the run's jobs have finished (ContentPool.exportFinished). */
export const CONTENT_POOL_BATCHES_AFTER_EXPORT = 64;
/**
 * Batches of one conversation in progress at once: one downloading while the next reads its batch and
 * waits for the conversation's turn, so a conversation with content waiting always has a download
 * coming. More would only wait for the same turn.
 */
export const CONTENT_POOL_PER_CONVERSATION = 2;

export interface ContentPoolOptions {
  /** Batches at once while the run's jobs export (default CONTENT_POOL_BATCHES). */
  concurrency?: number;
  /** Batches at once once they have finished (default CONTENT_POOL_BATCHES_AFTER_EXPORT, at least `concurrency`). */
  concurrencyAfterExport?: number;
  /** Batches of one conversation at once (default CONTENT_POOL_PER_CONVERSATION). */
  perConversation?: number;
  onChange?: (s: ContentPoolStats) => void;
}

export class ContentPool implements ContentHandoff {
  readonly backlog: ContentBacklog;
  private readonly schedule: ConversationSchedule;
  /** Batches waiting or in progress: a batch handed over twice is settled once. */
  private readonly known = new Set<string>();
  /** Batches taken from runs that have finished (see takeLeftovers). */
  private readonly ofFinishedRuns = new Set<string>();
  private active = 0;
  private exported = false;
  private readonly counters = { settled: 0, deferred: 0 };
  private idle: Array<() => void> = [];

  constructor(
    private readonly deps: ContentStageDeps & ContentPoolOptions,
    private readonly signal?: AbortSignal,
  ) {
    this.backlog = deps.backlog;
    this.schedule = new ConversationSchedule(deps.perConversation ?? CONTENT_POOL_PER_CONVERSATION);
  }

  stats(): ContentPoolStats {
    return { pending: this.known.size, ...this.counters };
  }

  /**
   * Queues a batch. `conversations` (its messages with content per chat or channel) decides when it is
   * taken; a batch without it (one of an earlier run's) is a conversation of its own.
   */
  dispatch(batch: string, _signal?: AbortSignal, conversations?: ContentConversations): Promise<void> {
    if (!this.known.has(batch) && !this.signal?.aborted) {
      this.known.add(batch);
      this.schedule.add(batch, conversations);
      this.changed();
      this.pump();
    }
    return Promise.resolve();
  }

  /** The run's entity jobs have all finished: the pool may take many more batches at once. */
  exportFinished(): void {
    this.exported = true;
    this.pump();
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

  private limit(): number {
    const during = this.deps.concurrency ?? CONTENT_POOL_BATCHES;
    if (!this.exported) return during;
    return Math.max(during, this.deps.concurrencyAfterExport ?? CONTENT_POOL_BATCHES_AFTER_EXPORT);
  }

  private pump(): void {
    const limit = this.limit();
    while (this.active < limit && !this.signal?.aborted) {
      const batch = this.schedule.next();
      if (batch === undefined) break;
      this.active++;
      void this.settle(batch).finally(() => {
        this.active--;
        this.schedule.done(batch);
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
      // A download waiting for a process slot goes before those of conversations with less content left.
      const r = await settleBatchContent(this.deps, o, this.signal, this.ofFinishedRuns.delete(batch), (c) => this.schedule.contentLeft(c));
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

interface QueuedBatch {
  batch: string;
  seq: number;
  /** Conversation id → its messages with content in this batch. */
  conversations: ReadonlyMap<string, readonly string[]>;
}

interface ConversationState {
  /**
   * Its messages with content in batches waiting or in progress → how many of those batches hold each (a
   * group chat's message is in each member's batch, its content fetched once): its size is what is left.
   */
  messages: Map<string, number>;
  /** Its batches in progress. */
  active: number;
  /** Its batches waiting, oldest first. */
  waiting: Map<string, QueuedBatch>;
}

/** A heap entry: a conversation as it was when pushed (stale entries are skipped when they surface). */
interface Candidate {
  id: string;
  /** Its messages with content left, then. */
  pending: number;
  /** Its oldest waiting batch: among conversations with as much left, the one waiting longest goes first. */
  seq: number;
}

/**
 * Which waiting batch the pool takes next: one of the conversation with the most content waiting or in
 * progress, among those with fewer than `perConversation` batches in progress (its oldest batch first).
 * A batch of several conversations counts for each of them. Lazy max-heap: every change to a
 * conversation pushes its new state, and stale entries are dropped when they reach the top.
 */
export class ConversationSchedule {
  private readonly conversations = new Map<string, ConversationState>();
  private readonly batches = new Map<string, QueuedBatch>();
  private heap: Candidate[] = [];
  private seq = 0;

  constructor(private readonly perConversation: number) {
    if (!(Number.isInteger(perConversation) && perConversation >= 1))
      throw new RangeError(`batches per conversation must be an integer >= 1, got ${perConversation}`);
  }

  add(batch: string, hint?: ContentConversations): void {
    const conversations = new Map<string, readonly string[]>();
    for (const [id, messages] of hint ?? []) if (messages.length > 0) conversations.set(id, messages);
    // Without a hint the batch is a conversation of its own (its real ones are known once it is read).
    if (conversations.size === 0) conversations.set(`batch ${batch}`, ['']);
    const q: QueuedBatch = { batch, seq: this.seq++, conversations };
    this.batches.set(batch, q);
    for (const [id, messages] of conversations) {
      let c = this.conversations.get(id);
      if (!c) this.conversations.set(id, (c = { messages: new Map(), active: 0, waiting: new Map() }));
      for (const m of messages) c.messages.set(m, (c.messages.get(m) ?? 0) + 1);
      c.waiting.set(batch, q);
      this.touch(id, c);
    }
  }

  /** A conversation's messages with content in batches waiting or in progress (0 when none). */
  contentLeft(conversationId: string): number {
    return this.conversations.get(conversationId)?.messages.size ?? 0;
  }

  /** Takes the next batch to settle, or undefined when every conversation with waiting batches has enough in progress. */
  next(): string | undefined {
    for (;;) {
      const top = this.heap[0];
      if (!top) return undefined;
      const c = this.conversations.get(top.id);
      const oldest = c?.waiting.values().next().value;
      if (!c || !oldest || c.active >= this.perConversation || c.messages.size !== top.pending || oldest.seq !== top.seq) {
        this.pop();
        continue;
      }
      for (const id of oldest.conversations.keys()) {
        const other = this.conversations.get(id)!;
        other.waiting.delete(oldest.batch);
        other.active++;
        this.touch(id, other);
      }
      return oldest.batch;
    }
  }

  /** A batch taken by next() is finished (settled, deferred or failed). */
  done(batch: string): void {
    const q = this.batches.get(batch);
    if (!q) return;
    this.batches.delete(batch);
    for (const [id, messages] of q.conversations) {
      const c = this.conversations.get(id);
      if (!c) continue;
      c.active--;
      for (const m of messages) {
        const n = (c.messages.get(m) ?? 0) - 1;
        if (n > 0) c.messages.set(m, n);
        else c.messages.delete(m);
      }
      if (c.active <= 0 && c.waiting.size === 0) this.conversations.delete(id);
      else this.touch(id, c);
    }
  }

  /** Pushes a conversation's current state, if it could be served. */
  private touch(id: string, c: ConversationState): void {
    const oldest = c.waiting.values().next().value;
    if (!oldest || c.active >= this.perConversation) return;
    // Stale entries pile up while the top stays valid: rebuild from the live state now and then.
    if (this.heap.length > 64 + 4 * this.conversations.size) this.rebuild();
    this.push({ id, pending: c.messages.size, seq: oldest.seq });
  }

  private rebuild(): void {
    this.heap = [];
    for (const [id, c] of this.conversations) {
      const oldest = c.waiting.values().next().value;
      if (oldest && c.active < this.perConversation) this.push({ id, pending: c.messages.size, seq: oldest.seq });
    }
  }

  /** Whether `a` goes before `b`: more content waiting first, then the one waiting longest. */
  private static before(a: Candidate, b: Candidate): boolean {
    return a.pending !== b.pending ? a.pending > b.pending : a.seq < b.seq;
  }

  private push(e: Candidate): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!ConversationSchedule.before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (h.length === 0 || !last) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < h.length && ConversationSchedule.before(h[l]!, h[best]!)) best = l;
      if (r < h.length && ConversationSchedule.before(h[r]!, h[best]!)) best = r;
      if (best === i) return;
      [h[i], h[best]] = [h[best]!, h[i]!];
      i = best;
    }
  }
}
