// The files a run keeps beside its data under manifests/{runId}/: one manifest per job (what it wrote,
// with SHA-256s), the run's summary (run.json) and, in sender mode, the member ids its user jobs ask for
// and the manifests of the follow-up for members whose own job did not succeed.
import type { Entity } from '../model/entity';
import type { ArchiveContainer } from './archive-container';
import { readBlobBytes } from './batch-reader';
import { writeJson, type WrittenBlob } from './batch-writer';
import { jobManifestName, otherSendersName, runManifestName, senderCoverManifestName } from './blob-layout';

/**
 * The manifest of one execution of a job, named by its writer id: a later attempt of the same job adds
 * its own beside it instead of replacing it, so what earlier attempts wrote stays listed.
 */
export function writeJobManifest(
  container: ArchiveContainer,
  runId: string,
  entity: Entity,
  manifest: { writer: string; [field: string]: unknown },
  signal?: AbortSignal,
): Promise<WrittenBlob> {
  return writeJson(container, jobManifestName(runId, entity, manifest.writer), manifest, {
    overwrite: true,
    ...(signal ? { signal } : {}),
  });
}

/** Sender mode's follow-up for one user (docs/design.md §15): beside the user's job manifest, never replacing it. */
export function writeSenderCoverManifest(
  container: ArchiveContainer,
  runId: string,
  entity: Entity,
  manifest: unknown,
  signal?: AbortSignal,
): Promise<WrittenBlob> {
  return writeJson(container, senderCoverManifestName(runId, entity), manifest, { overwrite: true, ...(signal ? { signal } : {}) });
}

/** The run's summary; whoever finishes the run writes it (two workers finishing at once write the same). */
export function writeRunManifest(container: ArchiveContainer, runId: string, summary: unknown): Promise<WrittenBlob> {
  return writeJson(container, runManifestName(runId), summary, { overwrite: true });
}

/** Sender mode: the member ids the run's user jobs also ask Graph for (written before any job is sent). */
export async function writeOtherSenders(
  container: ArchiveContainer,
  runId: string,
  ids: readonly string[],
  signal?: AbortSignal,
): Promise<void> {
  await writeJson(container, otherSendersName(runId), ids, { overwrite: true, ...(signal ? { signal } : {}) });
}

/** The member ids recorded by writeOtherSenders; none for a run that recorded none. */
export async function readOtherSenders(container: ArchiveContainer, runId: string, signal?: AbortSignal): Promise<string[]> {
  const bytes = await readBlobBytes(container, otherSendersName(runId), signal);
  if (!bytes) return [];
  const ids: unknown = JSON.parse(bytes.toString('utf8'));
  return Array.isArray(ids) ? ids.filter((x): x is string => typeof x === 'string') : [];
}
