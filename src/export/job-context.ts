// What the stages of one entity job share (export-entity.ts builds it once per execution): the
// request and dependencies, the job's stop signal, its execution manifest, its tally, its read pacer
// and where it records what it committed.
import type { WrittenBlob } from '../archive/batch-writer';
import type { BatchContentHandoff } from '../archive/content-store';
import type { ArchivedKeys } from './archived-keys';
import type { Logger } from '../log';
import type { ExecutionManifest } from './execution-manifest';
import type { ExportEntityDeps, ExportEntityRequest } from './export-entity';
import type { ReadPacer } from './job-budget';
import type { JobCommits } from './job-commits';
import type { JobTally } from './job-tally';

export interface EntityJob {
  readonly req: ExportEntityRequest;
  readonly deps: ExportEntityDeps;
  /** The job's logger (run and entity). */
  readonly log: Logger;
  /**
   * The job's stop: fires when the run is aborted or the lease is lost, and is checked before every
   * write (each blob, the checkpoint), so a job that lost its entity writes nothing more.
   */
  readonly signal: AbortSignal | undefined;
  /** Every blob is named in this execution's manifest before it is written (docs/design.md §16). */
  readonly manifest: ExecutionManifest;
  /** This execution's id, in the metadata of every blob it writes. */
  readonly writerId: string;
  /** The next batch sequence number: one series across the execution's windows. */
  nextSeq(): number;
  readonly tally: JobTally;
  readonly pacer: ReadPacer;
  readonly commits: JobCommits;
  /** Where batches whose versions refer to content go (docs/design.md §17); undefined when content is off. */
  readonly content: BatchContentHandoff | undefined;
  /** What is archived already, per day: shared by the day batchers of all the job's windows. */
  readonly archived: ArchivedKeys;
}

/** How a single-blob write (a quarantined item, a chat version) declares itself in the manifest first. */
export function blobIntents(job: EntityJob) {
  return {
    declare: (names: readonly string[]) => job.manifest.declare(names),
    settle: (names: readonly string[], written: readonly WrittenBlob[]) => job.manifest.settle(names, written),
    writer: job.writerId,
  };
}
