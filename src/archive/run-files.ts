// The files a run keeps beside its data under manifests/{runId}/: one manifest per job (what it wrote,
// with SHA-256s), the run's summary (run.json) and, in sender mode, the member ids its user jobs ask for
// and the manifests of the follow-up for members whose own job did not succeed.
import type { Entity } from '../model/entity';
import type { ArchiveContainer } from './archive-container';
import { readBlobBytes } from './batch-reader';
import { writeJson, type WrittenBlob } from './batch-writer';
import {
  PRODUCTIONS_PREFIX,
  productionIdOfFolder,
  executionManifestsPrefix,
  jobManifestName,
  otherSendersName,
  runManifestName,
  senderCoverManifestName,
} from './blob-layout';
import { statusOf } from '../model/errors';

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

/**
 * The manifest of one execution of sender mode's follow-up for one user (docs/design.md §15): beside the
 * user's job manifests, never replacing them, one per execution like theirs.
 */
export function writeSenderCoverManifest(
  container: ArchiveContainer,
  runId: string,
  entity: Entity,
  manifest: { writer: string; [field: string]: unknown },
  signal?: AbortSignal,
): Promise<WrittenBlob> {
  return writeJson(container, senderCoverManifestName(runId, entity, manifest.writer), manifest, {
    overwrite: true,
    ...(signal ? { signal } : {}),
  });
}

/** One execution manifest as read back: its blobs, and the blobs it declared before writing them. */
export interface StoredExecutionManifest {
  name: string;
  writer: string;
  blobs: Array<{ name: string; sha256: string; bytes: number; lines: number }>;
  pending: string[];
}

/** A declared blob as it is in storage: absent, or present with the writer and line count of its metadata. */
export interface DeclaredBlob {
  name: string;
  writer?: string;
  lines: number;
  bytes: number;
}

/**
 * Every execution manifest of one job (or of its sender-mode follow-up), with the declared blobs that
 * exist looked up (their metadata says which execution wrote them): what the job wrote, whichever of
 * its executions died before recording it.
 */
export async function readExecutionManifests(
  container: ArchiveContainer,
  runId: string,
  entity: Entity,
  opts: { cover?: boolean; signal?: AbortSignal } = {},
): Promise<{ manifests: StoredExecutionManifest[]; declared: Map<string, DeclaredBlob> }> {
  const manifests: StoredExecutionManifest[] = [];
  const abort = opts.signal ? { abortSignal: opts.signal } : {};
  for await (const item of container.listBlobsFlat({ prefix: executionManifestsPrefix(runId, entity, opts.cover === true), ...abort })) {
    if (!item.name.endsWith('.json')) continue;
    const bytes = await readBlobBytes(container, item.name, opts.signal);
    if (!bytes) continue;
    const doc = JSON.parse(bytes.toString('utf8')) as Partial<StoredExecutionManifest>;
    manifests.push({
      name: item.name,
      writer: typeof doc.writer === 'string' ? doc.writer : '',
      blobs: Array.isArray(doc.blobs) ? doc.blobs.filter((b) => typeof b?.name === 'string') : [],
      pending: Array.isArray(doc.pending) ? doc.pending.filter((n): n is string => typeof n === 'string') : [],
    });
  }
  const declared = new Map<string, DeclaredBlob>();
  for (const m of manifests) {
    for (const name of m.pending) {
      if (declared.has(name)) continue;
      try {
        const props = await container.getBlobClient(name).getProperties(abort);
        declared.set(name, {
          name,
          ...(props.metadata?.writer !== undefined ? { writer: props.metadata.writer } : {}),
          lines: Number(props.metadata?.lines ?? '0') || 0,
          bytes: props.contentLength ?? 0,
        });
      } catch (err) {
        if (statusOf(err) !== 404) throw err;
      }
    }
  }
  return { manifests, declared };
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

/** The ids of every production folder under `productions/` (a listing of one level, not of their files). */
export async function* listProductionIds(container: ArchiveContainer, signal?: AbortSignal): AsyncGenerator<string> {
  for await (const item of container.listBlobsByHierarchy('/', {
    prefix: PRODUCTIONS_PREFIX,
    ...(signal ? { abortSignal: signal } : {}),
  })) {
    if (item.kind !== 'prefix') continue;
    const id = productionIdOfFolder(item.name);
    if (id !== undefined) yield id;
  }
}
