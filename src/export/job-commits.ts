// Records what an entity job has committed (docs/design.md §4, §7, §8), called only once it is
// durable: a daily job on its checkpoint row (the watermark moves, the state of an unfinished window
// read, and the job's result on its last write), a backfill through the request's onChunkCommitted
// (its progress row). Table storage cannot fence a write with the entity lease: each write first
// checks that the lease is surely still held.
import type { Entity } from '../model/entity';
import type { JobMode } from '../model/job';
import type { OpenRead } from '../model/window';
import type { Checkpoint, CheckpointStore } from '../state/checkpoint-store';
import { laterWatermarks } from './entity-chunks';
import type { ReadPacer, ResumePoint } from './job-budget';
import { storeOpenRead } from './open-read';
import type { PlannedChunk, Watermarks } from './windows';

export class JobCommits {
  /** Daily jobs: the checkpoint row as last read or written (its ETag makes each write one operation). */
  private known: Checkpoint | undefined;
  /** No checkpoint row when the job started: its first write creates one without reading first. */
  private knownAbsent = false;
  /**
   * Committed but not yet written to the checkpoint. A window that wrote nothing defers its watermark
   * move to the job's last write: an idle entity costs one read and one write in all.
   */
  private pending: { advance: Watermarks; added: number } = { advance: {}, added: 0 };

  private readonly daily: boolean;

  constructor(
    private readonly req: {
      entity: Entity;
      mode: JobMode;
      onChunkCommitted?: ((progress: ResumePoint) => Promise<void>) | undefined;
    },
    private readonly deps: { checkpoints: CheckpointStore; holdsLease?: (() => void) | undefined },
    private readonly pacer: ReadPacer,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.daily = req.mode.kind === 'daily';
  }

  /** Daily jobs: the checkpoint row as read for planning (undefined: there is none yet). */
  loaded(checkpoint: Checkpoint | undefined): void {
    this.known = checkpoint;
    this.knownAbsent = checkpoint === undefined;
  }

  /** The checkpoint row records an unfinished read, which the next write must clear. */
  get hasOpenRead(): boolean {
    return this.known?.readState !== undefined;
  }

  /** Every blob of a window is committed: its watermark moves (forward only) may now be written. */
  windowCommitted(advance: Watermarks, added: number): void {
    this.pending = { advance: laterWatermarks(this.pending.advance, advance), added: this.pending.added + added };
  }

  /**
   * Writes the committed watermark moves to the checkpoint with the state of the window being read
   * (`null`: none), and the job's result on its last write. Only after the data is durable.
   */
  async writeCheckpoint(readState: string | null, result?: { runId: string; status: string }): Promise<void> {
    this.signal?.throwIfAborted();
    this.deps.holdsLease?.();
    const nothingToClear = readState === null && this.known?.readState === undefined;
    this.known = await this.deps.checkpoints.advance(this.req.entity, this.pending.advance, this.pending.added, {
      known: this.known,
      knownAbsent: this.knownAbsent,
      ...(nothingToClear ? {} : { readState }),
      ...(result ? { result } : {}),
    });
    this.pending = { advance: {}, added: 0 };
    this.knownAbsent = false;
  }

  /** Records an unfinished window read, once everything read so far is durable. */
  async saveRead(chunk: PlannedChunk, open: OpenRead): Promise<void> {
    this.deps.holdsLease?.();
    if (this.daily) await this.writeCheckpoint(storeOpenRead(open));
    else await this.req.onChunkCommitted?.({ fromMs: chunk.window.fromMs, read: open });
    this.pacer.progressSaved();
  }
}
