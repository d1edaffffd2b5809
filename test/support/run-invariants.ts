// The promises of an archive of record, checked after a queued run (docs/design.md §16): every
// version the run was served is archived exactly once per folder, watermarks only moved forward,
// the run ended in a final state with its run.json, every archived blob is in a manifest, and the
// run's counts are what the archive holds.
import type { ContainerClient } from '@azure/storage-blob';
import { readBatchLines } from '../../src/archive/batch-reader';
import { readBlobBytes } from '../../src/archive/batch-reader';
import { runManifestName } from '../../src/archive/blob-layout';
import { parseBatchBlobName } from '../../src/archive/blob-layout';
import { itemKeyFromLine } from '../../src/graph/artifact-schema';
import { versionKeyFromLine } from '../../src/graph/message-schema';
import type { CheckpointStore } from '../../src/state/checkpoint-store';
import type { RunStore } from '../../src/state/run-store';
import type { StorageOperation } from '../../emulator/storage-proxy';

/** What a reference run (one without faults) archived: folder → version key, and the final watermarks. */
export interface ArchiveSnapshot {
  /** `folder|key` for every archived line (a folder is an entity's or a chat's folder under messages/). */
  lines: string[];
  checkpoints: Map<string, { fresh?: number | undefined; settled?: number | undefined }>;
}

/** The folder of a batch: `messages/users/{seg}/`, `messages/chats/{seg}/`, … */
function folderOf(name: string): string {
  return name.split('/').slice(0, 3).join('/');
}

export async function snapshotArchive(container: ContainerClient, checkpoints: CheckpointStore): Promise<ArchiveSnapshot> {
  const lines: string[] = [];
  // Messages, and Copilot interactions and meeting artifacts (docs/design.md §18), each by its own key.
  for (const prefix of ['messages/', 'copilot/', 'meetings/']) {
    for await (const b of container.listBlobsFlat({ prefix })) {
      if (!b.name.endsWith('.jsonl.gz')) continue;
      const kind = parseBatchBlobName(b.name)?.entity.kind;
      for await (const line of readBatchLines(container, b.name))
        lines.push(`${folderOf(b.name)}|${(kind ? itemKeyFromLine(kind, line) : versionKeyFromLine(line)) ?? 'unparseable'}`);
    }
  }
  const marks = new Map<string, { fresh?: number | undefined; settled?: number | undefined }>();
  for await (const c of checkpoints.list())
    marks.set(`${c.entity.kind}:${c.entity.id}`, { fresh: c.freshWatermarkMs, settled: c.settledWatermarkMs });
  return { lines: lines.sort(), checkpoints: marks };
}

/**
 * Watches the checkpoint writes that storage accepted: each watermark of each row may only ever be
 * written at or after its last accepted value.
 */
export function watermarkMonitor(checkpointTable: string): { observe(op: StorageOperation, status: number): void; problems: string[] } {
  const last = new Map<string, number>();
  const problems: string[] = [];
  return {
    problems,
    observe(op, status) {
      if (op.service !== 'table' || status >= 300 || !op.resource.startsWith(checkpointTable)) return;
      if (!['PUT', 'POST', 'PATCH', 'MERGE'].includes(op.method) || op.body.length === 0) return;
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(op.body.toString('utf8')) as Record<string, unknown>;
      } catch {
        return;
      }
      const row = `${String(body.PartitionKey ?? '')}/${String(body.RowKey ?? op.resource)}`;
      for (const field of ['freshWatermark', 'settledWatermark']) {
        const v = body[field];
        if (typeof v !== 'string') continue;
        const ms = Date.parse(v);
        const key = `${row}#${field}`;
        const before = last.get(key);
        if (before !== undefined && ms < before) problems.push(`${key} moved back from ${new Date(before).toISOString()} to ${v}`);
        last.set(key, Math.max(ms, before ?? ms));
      }
    },
  };
}

export interface InvariantInput {
  container: ContainerClient;
  runs: RunStore;
  checkpoints: CheckpointStore;
  runId: string;
  reference: ArchiveSnapshot;
  watermarkProblems: readonly string[];
}

/** Every broken promise, in words (empty when the run kept them all). */
export async function runInvariantProblems(i: InvariantInput): Promise<string[]> {
  const problems: string[] = [...i.watermarkProblems];
  const now = await snapshotArchive(i.container, i.checkpoints);

  // Exactly once: the same lines as the reference run, none twice.
  const seen = new Set<string>();
  for (const l of now.lines) {
    if (seen.has(l)) problems.push(`archived twice: ${l}`);
    seen.add(l);
  }
  const ref = new Set(i.reference.lines);
  const lost = [...ref].filter((l) => !seen.has(l));
  const extra = [...seen].filter((l) => !ref.has(l));
  if (lost.length > 0) problems.push(`${lost.length} versions lost, e.g. ${lost.slice(0, 3).join(', ')}`);
  if (extra.length > 0) problems.push(`${extra.length} versions the reference run did not archive, e.g. ${extra.slice(0, 3).join(', ')}`);

  // Watermarks where the reference run left them.
  for (const [entity, marks] of i.reference.checkpoints) {
    const got = now.checkpoints.get(entity);
    if (got?.fresh !== marks.fresh || got?.settled !== marks.settled)
      problems.push(`${entity}: watermarks ${JSON.stringify(got)} instead of ${JSON.stringify(marks)}`);
  }

  // A final state, its run.json, and counts that are what the archive holds.
  const run = await i.runs.getRun(i.runId);
  if (!run) return [...problems, `run ${i.runId} not found`];
  if (run.status !== 'succeeded' || run.finishedAtMs === undefined)
    problems.push(`run ended ${run.status}${run.finishedAtMs === undefined ? ' without finishedAt' : ''}: ${run.error ?? ''}`);
  const manifestBytes = await readBlobBytes(i.container, runManifestName(i.runId));
  if (!manifestBytes) problems.push('run.json missing');
  else {
    const manifest = JSON.parse(manifestBytes.toString('utf8')) as { status?: string; totals?: { messages?: number } };
    if (manifest.status !== run.status) problems.push(`run.json says ${manifest.status}, the run row ${run.status}`);
    if (manifest.totals?.messages !== now.lines.length)
      problems.push(`run.json counts ${manifest.totals?.messages} messages, the archive holds ${now.lines.length}`);
  }
  for await (const job of i.runs.listJobs(i.runId)) {
    if (!['done', 'skipped', 'failed'].includes(job.status)) problems.push(`job ${job.entity.kind}:${job.entity.id} left ${job.status}`);
  }

  // Every archived blob is listed by a manifest.
  const listed = new Set<string>();
  for await (const m of i.container.listBlobsFlat({ prefix: 'manifests/' })) {
    if (!m.name.endsWith('.json') || m.name.endsWith('/run.json')) continue;
    const doc = JSON.parse((await readBlobBytes(i.container, m.name))?.toString('utf8') ?? '{}') as {
      blobs?: Array<{ name?: string }>;
      pending?: string[];
    };
    for (const b of doc.blobs ?? []) if (typeof b.name === 'string') listed.add(b.name);
    for (const name of doc.pending ?? []) listed.add(name);
  }
  for (const prefix of ['messages/', 'quarantine/', 'retained/', 'copilot/', 'meetings/']) {
    for await (const b of i.container.listBlobsFlat({ prefix })) {
      if (!listed.has(b.name)) problems.push(`in no manifest: ${b.name}`);
    }
  }
  return problems;
}
