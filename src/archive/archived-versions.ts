// Reads which message versions are already archived for one entity and day, so the writer adds only
// new ones and re-running any window adds no duplicates (DESIGN.md §3, exactly-once versions).
import type { ContainerClient } from '@azure/storage-blob';
import type { Entity } from '../export/types';
import { readBatchLines, listBatches } from './batch-reader';
import { dayPrefix } from './blob-layout';

/** How many batches of one day are downloaded at once. */
const PARALLEL_READS = 4;

/**
 * The keys (as computed by `keyOfLine`; undefined lines are ignored) of every line in every batch
 * under dayPrefix(entity, day). Quarantined versions are not under that prefix and so not counted.
 */
export async function loadArchivedVersionKeys(
  container: ContainerClient,
  entity: Entity,
  day: string,
  keyOfLine: (line: string) => string | undefined,
  signal?: AbortSignal,
): Promise<Set<string>> {
  const keys = new Set<string>();
  const names: string[] = [];
  for await (const batch of listBatches(container, dayPrefix(entity, day), signal)) names.push(batch.name);
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++] as string;
      for await (const line of readBatchLines(container, name, signal)) {
        const key = keyOfLine(line);
        if (key !== undefined) keys.add(key);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_READS, names.length) }, worker));
  return keys;
}
