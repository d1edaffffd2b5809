// The handle on the archive's blob container. Everything else passes it around without calling it:
// every blob name comes from blob-layout.ts and every read and write is a function of src/archive
// (test/unit/layering.test.ts checks that nothing outside src/archive reaches the storage SDK).
import type { ContainerClient } from '@azure/storage-blob';

export type ArchiveContainer = ContainerClient;

/** Creates the container if it does not exist yet. */
export async function ensureContainer(container: ArchiveContainer): Promise<void> {
  await container.createIfNotExists();
}
