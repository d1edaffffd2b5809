// The manifest of one execution of a job (docs/design.md §12, §16): what it wrote, and what it is about
// to write. Every archive blob an export writes is named in its execution's manifest BEFORE it is
// written (`pending`), and listed with its SHA-256 once written (`blobs`), so a crash at any storage
// operation leaves no archived blob outside a manifest, and the job's counts can be rebuilt from its
// manifests (job-counts.ts) after an execution died without recording them.
import type { ArchiveContainer } from '../archive/archive-container';
import type { WrittenBlob } from '../archive/batch-writer';
import { writeJobManifest, writeSenderCoverManifest } from '../archive/run-files';
import type { Entity } from '../model/entity';
import type { JobCounts, JobError } from '../model/job';

/** The blobs a write is about to create: declared first, settled once the write returned. */
export interface WriteIntents {
  /** Records the names in the manifest (one manifest write) before any of them is written. */
  declare(names: readonly string[]): Promise<void>;
  /** The write of these names returned: the ones in `written` are listed, the rest were not needed. */
  settle(names: readonly string[], written: readonly WrittenBlob[]): void;
}

export interface ExecutionManifestDoc {
  runId: string;
  entity: { kind: string; id: string };
  /** `writing` while the execution runs, then `done`, `continued`, `skipped` or `failed`. */
  status: string;
  counts: JobCounts;
  error?: JobError;
  /** The execution's id; also in the metadata of every blob it writes (`writer`). */
  writer: string;
  blobs: WrittenBlob[];
  /** Blobs declared and not yet known to be written: each exists only if its write reached storage. */
  pending: string[];
}

export class ExecutionManifest implements WriteIntents {
  private readonly blobs: WrittenBlob[] = [];
  private readonly pending = new Set<string>();
  private written = false;

  constructor(
    private readonly o: {
      container: ArchiveContainer;
      runId: string;
      entity: Entity;
      writer: string;
      /** Sender mode's follow-up: its manifests go beside the job's, never replacing them. */
      cover: boolean;
      counts: () => JobCounts;
      signal?: AbortSignal | undefined;
    },
  ) {}

  /** Blobs written so far (each with its SHA-256 and line count). */
  get blobCount(): number {
    return this.blobs.length;
  }

  async declare(names: readonly string[]): Promise<void> {
    const fresh = names.filter((n) => !this.pending.has(n));
    if (fresh.length === 0) return;
    for (const n of fresh) this.pending.add(n);
    await this.write('writing');
  }

  settle(names: readonly string[], written: readonly WrittenBlob[]): void {
    for (const n of names) this.pending.delete(n);
    for (const b of written) {
      this.pending.delete(b.name);
      this.blobs.push(b);
    }
  }

  /**
   * Writes the manifest with the execution's status. Nothing is written for an execution that wrote
   * nothing, declared nothing and has no error to record (an idle entity costs no manifest).
   */
  async save(status: string, error?: JobError): Promise<void> {
    if (!this.written && this.blobs.length === 0 && this.pending.size === 0 && !error) return;
    await this.write(status, error);
  }

  private async write(status: string, error?: JobError): Promise<void> {
    const { container, runId, entity, writer, cover } = this.o;
    const doc: ExecutionManifestDoc & { [field: string]: unknown } = {
      runId,
      entity: { kind: entity.kind, id: entity.id },
      status,
      counts: this.o.counts(),
      ...(error ? { error } : {}),
      writer,
      blobs: [...this.blobs],
      pending: [...this.pending],
    };
    await (cover ? writeSenderCoverManifest : writeJobManifest)(container, runId, entity, doc, this.o.signal);
    this.written = true;
  }
}
