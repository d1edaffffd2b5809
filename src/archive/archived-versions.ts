// Reads which message versions are already archived for one entity and day, so the writer adds only
// new ones and re-running any window adds no duplicates (docs/design.md §5, exactly once).
import type { ArchiveContainer } from './archive-container';
import type { Entity } from '../model/entity';
import { readBatchLines, listBatches } from './batch-reader';
import { dayPrefix, entityPrefix } from './blob-layout';

/** How many batches of one day are downloaded at once. */
const PARALLEL_READS = 4;

/** Where the keys go: a Set, or a more compact set of the caller's (export/digest-set.ts). */
export interface KeySet {
  add(key: string): unknown;
}

/**
 * The keys (as computed by `keyOfLine`; undefined lines are ignored) of every line in every batch
 * under dayPrefix(entity, day). Quarantined versions are not under that prefix and so not counted.
 */
export async function loadArchivedVersionKeys<S extends KeySet = Set<string>>(
  container: ArchiveContainer,
  entity: Entity,
  day: string,
  keyOfLine: (line: string) => string | undefined,
  signal?: AbortSignal,
  into: S = new Set<string>() as KeySet as S,
): Promise<S> {
  const names: string[] = [];
  for await (const batch of listBatches(container, dayPrefix(entity, day), signal)) names.push(batch.name);
  return loadVersionKeysOf(container, names, keyOfLine, signal, into);
}

/**
 * The batches archived for an entity in the given months (`yyyy-mm`), by day (`yyyy-mm-dd`): one
 * listing per month instead of one per day, so a job that writes thirty days of an entity asks
 * Storage once or twice, not thirty times, which of those days already hold batches.
 */
export async function listArchivedBatchesByDay(
  container: ArchiveContainer,
  entity: Entity,
  months: Iterable<string>,
  signal?: AbortSignal,
): Promise<Map<string, string[]>> {
  const byDay = new Map<string, string[]>();
  const root = entityPrefix(entity);
  for (const month of months) {
    if (!/^\d{4}-\d{2}$/.test(month)) throw new RangeError(`invalid month ${JSON.stringify(month)}: expected yyyy-mm`);
    for await (const batch of listBatches(container, `${root}${month.replace('-', '/')}/`, signal)) {
      // Below the entity prefix a batch name starts with yyyy/mm/dd/ (blob-layout's dayPrefix).
      const m = /^(\d{4})\/(\d{2})\/(\d{2})\//.exec(batch.name.slice(root.length));
      if (!m) continue;
      const day = `${m[1]}-${m[2]}-${m[3]}`;
      const list = byDay.get(day);
      if (list) list.push(batch.name);
      else byDay.set(day, [batch.name]);
    }
  }
  return byDay;
}

/** The keys of every line of the named batches (downloaded a few at a time), added to `into`. */
export async function loadVersionKeysOf<S extends KeySet = Set<string>>(
  container: ArchiveContainer,
  names: readonly string[],
  keyOfLine: (line: string) => string | undefined,
  signal?: AbortSignal,
  into: S = new Set<string>() as KeySet as S,
): Promise<S> {
  const keys = into;
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
