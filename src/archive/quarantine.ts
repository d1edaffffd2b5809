// Items Graph served that failed validation, kept verbatim with the reason (docs/design.md §7): one
// blob per item, named by the item's hash and written once, so reading the same version again (the
// settle pass re-reads what the fresh pass read; a retried job re-reads its chunk) adds no copy.
import { createHash } from 'node:crypto';
import type { Entity } from '../model/entity';
import type { ArchiveContainer } from './archive-container';
import { BlobAlreadyExistsError, writeBatch, type WrittenBlob } from './batch-writer';
import { quarantineItemName } from './blob-layout';

/** What a write of one blob is told: where to declare it first, and which execution writes it. */
export interface DeclaredWrite {
  /** Records the names in the execution's manifest before the write (docs/design.md §16). */
  declare?: (names: readonly string[]) => Promise<void>;
  /** The write returned: the names, and what of them was written. */
  settle?: (names: readonly string[], written: readonly WrittenBlob[]) => void;
  /** The execution's id, kept in the blob's metadata. */
  writer?: string;
}

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
  how: DeclaredWrite = {},
): Promise<WrittenBlob | undefined> {
  // The item only: the reason and request-id of one reading must not make a second copy of the same version.
  const item = (JSON.parse(line) as { item?: unknown }).item ?? null;
  const sha256 = createHash('sha256').update(JSON.stringify(item)).digest('hex');
  const name = quarantineItemName(entity, sha256);
  await how.declare?.([name]);
  try {
    const blob = await writeBatch(container, name, [line], { ...metadata, ...(how.writer ? { writer: how.writer } : {}) }, signal);
    how.settle?.([name], [blob]);
    return blob;
  } catch (err) {
    if (err instanceof BlobAlreadyExistsError) {
      how.settle?.([name], []);
      return undefined;
    }
    throw err;
  }
}
