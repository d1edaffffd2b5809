// Shared by the day batcher's memory tests: the archive read back as version ids, and the unsorted
// order Graph serves a backlog in.
import { gunzipSync } from 'node:zlib';
import type { ContainerClient } from '@azure/storage-blob';
import { listBatches } from '../../src/archive/batch-reader';
import { entityPrefix } from '../../src/archive/blob-layout';
import type { Entity } from '../../src/model/entity';

/** Every archived line of the entity, as version ids. */
export async function archivedIds(container: ContainerClient, entity: Entity): Promise<string[]> {
  const ids: string[] = [];
  for await (const b of listBatches(container, entityPrefix(entity))) {
    const text = gunzipSync(await container.getBlobClient(b.name).downloadToBuffer()).toString('utf8');
    for (const line of text.split('\n')) if (line !== '') ids.push((JSON.parse(line) as { id: string }).id);
  }
  return ids;
}

/** A deterministic shuffle (Graph serves a backlog unsorted). */
export function shuffled<T>(items: T[], seed = 7): T[] {
  const out = [...items];
  let x = seed;
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
