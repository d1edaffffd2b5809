// Checks shared by the reliability scenarios: checkpoints never ahead of the archive, and small waits.
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { expect, inject } from 'vitest';
import type { ArchiveAudit } from '../support/archive-audit';
import { entityPrefix } from '../../src/archive/blob-layout';
import { listBatches, readBatchLines } from '../../src/archive/batch-reader';
import type { Entity } from '../../src/model/entity';
import { versionKeyFromLine } from '../../src/graph/message-schema';
import type { Harness } from '../support/harness';

/** A container of the shared Azurite, addressed directly (around any proxy a scenario puts in between). */
export function directContainer(name: string): ContainerClient {
  return BlobServiceClient.fromConnectionString(inject('storageConnectionString')).getContainerClient(name);
}

/** The verdict every scenario ends with: every blob valid, nothing duplicated, lost or foreign. */
export function expectClean(audit: ArchiveAudit, opts: { quarantined?: number } = {}): void {
  expect(audit.invalidBlobs).toEqual([]);
  expect(audit.duplicated).toEqual([]);
  expect(audit.missingPerEntity).toEqual([]);
  expect(audit.lost).toEqual([]);
  expect(audit.extra).toEqual([]);
  if (opts.quarantined !== undefined) expect(audit.quarantined).toBe(opts.quarantined);
}

export async function archivedKeySet(container: ContainerClient, entity: Entity): Promise<Set<string>> {
  const keys = new Set<string>();
  for await (const b of listBatches(container, entityPrefix(entity))) {
    for await (const line of readBatchLines(container, b.name)) keys.add(versionKeyFromLine(line) ?? 'unparseable');
  }
  return keys;
}

/**
 * "No checkpoint moves past committed data": for every entity, each current version stamped before
 * its fresh watermark (the end of everything the checkpoint claims) is in the entity's archive, and
 * the watermarks never exceed the run's own window ends. Only valid while the tenant has not changed
 * since the run (a later edit replaces a version the run archived). Returns the violations.
 */
export async function checkpointViolations(h: Harness, container: ContainerClient, nowMs: number): Promise<string[]> {
  const problems: string[] = [];
  const startMs = h.deps.windows.startMs;
  for (const entity of h.entities()) {
    const cp = await h.deps.checkpoints.get(entity);
    const fresh = cp?.freshWatermarkMs;
    const settled = cp?.settledWatermarkMs;
    if (fresh !== undefined && fresh > nowMs - h.deps.windows.lagMs)
      problems.push(`${entity.kind}:${entity.id} fresh watermark beyond now − lag`);
    if (settled !== undefined && settled > nowMs - h.deps.windows.settleMs)
      problems.push(`${entity.kind}:${entity.id} settled watermark beyond now − settle`);
    if (fresh === undefined) continue;
    const have = await archivedKeySet(container, entity);
    for (const v of h.emulator.tenant.currentVersions(entity, { fromMs: startMs, toMs: fresh })) {
      if (!have.has(v.key))
        problems.push(`${entity.kind}:${entity.id} watermark ${new Date(fresh).toISOString()} but ${v.key} is not archived`);
    }
  }
  return problems;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
