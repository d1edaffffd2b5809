// Items Graph served that failed validation, kept verbatim with the reason (docs/design.md §7): one
// blob per item, named by the item's hash and written once, so reading the same version again (the
// settle pass re-reads what the fresh pass read; a retried job re-reads its chunk) adds no copy.
import { createHash } from 'node:crypto';
import type { Entity } from '../model/entity';
import type { ArchiveContainer } from './archive-container';
import { BlobAlreadyExistsError, writeBatch, type WrittenBlob } from './batch-writer';
import { quarantineItemName } from './blob-layout';

/**
 * Writes one quarantine line (`{ reason, requestId, item }` as JSON) unless that item is quarantined
 * already. Returns the blob written, or undefined when it existed.
 */
export async function writeQuarantinedItem(
  container: ArchiveContainer,
  entity: Entity,
  line: string,
  metadata: Record<string, string>,
  signal?: AbortSignal,
): Promise<WrittenBlob | undefined> {
  // The item only: the reason and request-id of one reading must not make a second copy of the same version.
  const item = (JSON.parse(line) as { item?: unknown }).item ?? null;
  const sha256 = createHash('sha256').update(JSON.stringify(item)).digest('hex');
  try {
    return await writeBatch(container, quarantineItemName(entity, sha256), [line], metadata, signal);
  } catch (err) {
    if (err instanceof BlobAlreadyExistsError) return undefined;
    throw err;
  }
}
