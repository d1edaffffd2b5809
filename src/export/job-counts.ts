// A job's counts rebuilt from its execution manifests (docs/design.md §16): an execution that died
// (a killed instance, a lost lease) never recorded its counts, and the execution after it finds those
// versions already archived. The manifests, written before every write, still say what each wrote,
// so the job row, run.json and the report count what the archive holds.
import type { ArchiveContainer } from '../archive/archive-container';
import { QUARANTINE_PREFIX } from '../archive/blob-layout';
import { readExecutionManifests } from '../archive/run-files';
import type { Entity } from '../model/entity';
import type { JobCounts } from '../model/job';

export type ArchivedCounts = Pick<JobCounts, 'messages' | 'quarantined' | 'blobs' | 'bytes'>;

/** What every execution of the job (or of its sender-mode follow-up, with `cover`) wrote. */
export async function countsFromManifests(
  container: ArchiveContainer,
  runId: string,
  entity: Entity,
  opts: { cover?: boolean; signal?: AbortSignal } = {},
): Promise<ArchivedCounts> {
  const { manifests, declared } = await readExecutionManifests(container, runId, entity, opts);
  const written = new Map<string, { lines: number; bytes: number }>();
  for (const m of manifests) for (const b of m.blobs) written.set(b.name, { lines: b.lines, bytes: b.bytes });
  for (const m of manifests) {
    for (const name of m.pending) {
      const d = declared.get(name);
      // Declared by an execution that died around the write: it is this job's only if that execution wrote it.
      if (d && d.writer === m.writer && !written.has(name)) written.set(name, { lines: d.lines, bytes: d.bytes });
    }
  }
  const counts: ArchivedCounts = { messages: 0, quarantined: 0, blobs: 0, bytes: 0 };
  for (const [name, b] of written) {
    counts.blobs++;
    counts.bytes += b.bytes;
    if (name.startsWith(QUARANTINE_PREFIX)) counts.quarantined++;
    else if (name.endsWith('.jsonl.gz')) counts.messages += b.lines;
  }
  return counts;
}
