// Read-only access to the archive for the viewer and the offline transcripts (docs/viewer.md): which
// users and teams have folders, which days of one entity hold batches, the lines of one entity-day
// with their content maps, one stored content blob. Every name comes from blob-layout, and every
// listing is bounded by an entity or month prefix: nothing here lists the whole container.
import type { ContainerClient } from '@azure/storage-blob';
import type { Entity } from '../model/entity';
import type { ContentMapEntry } from './content-store';
import { statusOf } from '../model/errors';
import { listArchivedBatchesByDay } from './archived-versions';
import { readBatchLines } from './batch-reader';
import { contentBlobName, contentMapName, decodeIdSegment, entityPrefix } from './blob-layout';

/** The two entity kinds people browse: a user's chats and a team's channels. */
export type BrowsableKind = 'user' | 'team';

/** One archived line, with where it came from (for the raw-line and blob links). */
export interface ArchivedLine {
  blob: string;
  /** 1-based line number inside the decompressed batch. */
  lineNo: number;
  text: string;
}

export type { ContentMapEntry } from './content-store';

export interface DayData {
  lines: ArchivedLine[];
  content: ContentMapEntry[];
}

export interface StoredBlob {
  contentType: string;
  bytes: Buffer;
}

/** How many batches are downloaded at once while drawing one page. */
const PARALLEL_READS = 8;

/** The ids of the users (or teams) that have a folder under messages/: one delimiter listing. */
export async function listEntityIds(container: ContainerClient, kind: BrowsableKind, signal?: AbortSignal): Promise<string[]> {
  const root = entityPrefix({ kind, id: 'x' }).slice(0, -'x/'.length);
  const ids: string[] = [];
  for await (const item of container.listBlobsByHierarchy('/', { prefix: root, ...(signal ? { abortSignal: signal } : {}) })) {
    if (item.kind !== 'prefix') continue;
    try {
      ids.push(decodeIdSegment(item.name.slice(root.length, -1)));
    } catch {
      // A folder the product did not write: not an entity.
    }
  }
  return ids;
}

/** The months (`yyyy-mm`) that hold batches of an entity, newest first: two small delimiter listings. */
export async function listEntityMonths(container: ContainerClient, entity: Entity, signal?: AbortSignal): Promise<string[]> {
  const root = entityPrefix(entity);
  const opts = signal ? { abortSignal: signal } : {};
  const months: string[] = [];
  for await (const y of container.listBlobsByHierarchy('/', { prefix: root, ...opts })) {
    if (y.kind !== 'prefix' || !/^\d{4}\/$/.test(y.name.slice(root.length))) continue;
    for await (const m of container.listBlobsByHierarchy('/', { prefix: y.name, ...opts })) {
      const rest = m.name.slice(root.length);
      if (m.kind === 'prefix' && /^\d{4}\/\d{2}\/$/.test(rest)) months.push(rest.slice(0, 7).replace('/', '-'));
    }
  }
  return months.sort().reverse();
}

/** Every `yyyy-mm` from the month of `fromDay` to the month of `toDay`. */
export function monthsBetween(fromDay: string, toDay: string): string[] {
  const months: string[] = [];
  let y = Number(fromDay.slice(0, 4));
  let m = Number(fromDay.slice(5, 7));
  const last = toDay.slice(0, 7);
  for (;;) {
    const month = `${y}-${String(m).padStart(2, '0')}`;
    if (month > last) break;
    months.push(month);
    m++;
    if (m === 13) {
      m = 1;
      y++;
    }
  }
  return months;
}

/** The days in [fromDay, toDay] (inclusive, `yyyy-mm-dd`) that hold batches of the entity, with their batch names. */
export async function listEntityDays(
  container: ContainerClient,
  entity: Entity,
  fromDay: string,
  toDay: string,
  signal?: AbortSignal,
): Promise<Map<string, string[]>> {
  const byDay = await listArchivedBatchesByDay(container, entity, monthsBetween(fromDay, toDay), signal);
  const inRange = new Map<string, string[]>();
  for (const day of [...byDay.keys()].sort()) {
    if (day >= fromDay && day <= toDay) inRange.set(day, (byDay.get(day) as string[]).sort());
  }
  return inRange;
}

/** The content map beside a batch (`X.content.json`), or none: most batches have no images or files. */
async function readContentMap(container: ContainerClient, batch: string, signal?: AbortSignal): Promise<ContentMapEntry[]> {
  let buf: Buffer;
  try {
    buf = await container
      .getBlobClient(contentMapName(batch))
      .downloadToBuffer(undefined, undefined, signal ? { abortSignal: signal } : {});
  } catch (err) {
    if (statusOf(err) === 404) return [];
    throw err;
  }
  try {
    const parsed = JSON.parse(buf.toString('utf8')) as { entries?: unknown };
    return Array.isArray(parsed.entries) ? (parsed.entries as unknown[]).filter(isContentEntry) : [];
  } catch {
    return [];
  }
}

/**
 * An entry as content-store writes it. The map is read back from storage, so a field of the wrong
 * type (a `bytes` that is markup, a `sha256` that is a path) drops the entry instead of reaching a
 * page, a URL or a file name.
 */
function isContentEntry(v: unknown): v is ContentMapEntry {
  const e = v as Partial<Record<keyof ContentMapEntry, unknown>> | null;
  const optional = (x: unknown, ok: (y: unknown) => boolean) => x === undefined || ok(x);
  const isString = (y: unknown) => typeof y === 'string';
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.messageId === 'string' &&
    typeof e.ref === 'string' &&
    typeof e.status === 'string' &&
    optional(e.sha256, (y) => typeof y === 'string' && /^[0-9a-f]{64}$/.test(y)) &&
    optional(e.bytes, (y) => typeof y === 'number' && Number.isSafeInteger(y) && y >= 0) &&
    optional(e.contentType, isString) &&
    optional(e.name, isString) &&
    optional(e.kind, isString)
  );
}

/** Every line of the named batches, in batch-name order, with their content maps (a few batches at a time). */
export async function readBatches(container: ContainerClient, names: readonly string[], signal?: AbortSignal): Promise<DayData> {
  const perBatch: DayData[] = new Array<DayData>(names.length);
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const i = next++;
      const name = names[i] as string;
      const [lines, content] = await Promise.all([collectLines(container, name, signal), readContentMap(container, name, signal)]);
      perBatch[i] = { lines, content };
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_READS, names.length) }, worker));
  return { lines: perBatch.flatMap((d) => d.lines), content: perBatch.flatMap((d) => d.content) };
}

async function collectLines(container: ContainerClient, blob: string, signal?: AbortSignal): Promise<ArchivedLine[]> {
  const out: ArchivedLine[] = [];
  let lineNo = 0;
  for await (const text of readBatchLines(container, blob, signal)) out.push({ blob, lineNo: ++lineNo, text });
  return out;
}

/** One line of a batch (1-based), or undefined when the batch has fewer lines. */
export async function readBatchLine(
  container: ContainerClient,
  blob: string,
  lineNo: number,
  signal?: AbortSignal,
): Promise<string | undefined> {
  let n = 0;
  for await (const text of readBatchLines(container, blob, signal)) if (++n === lineNo) return text;
  return undefined;
}

/** True when the blob exists (checked before streaming it, so a missing one is a 404, not an error mid-body). */
export async function blobExists(container: ContainerClient, name: string, signal?: AbortSignal): Promise<boolean> {
  return container.getBlobClient(name).exists(signal ? { abortSignal: signal } : {});
}

/** The bytes stored under `content/sha256/…` and their recorded type, or undefined when absent. */
export async function readStoredContent(container: ContainerClient, sha256: string, signal?: AbortSignal): Promise<StoredBlob | undefined> {
  const blob = container.getBlobClient(contentBlobName(sha256));
  try {
    const res = await blob.download(0, undefined, signal ? { abortSignal: signal } : {});
    const chunks: Buffer[] = [];
    for await (const chunk of res.readableStreamBody as AsyncIterable<Buffer>) chunks.push(chunk);
    return { contentType: res.contentType ?? 'application/octet-stream', bytes: Buffer.concat(chunks) };
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

/** Stored content as it downloads: its recorded type and size, the body, and a way to stop the download. */
export interface StoredStream {
  contentType: string;
  bytes: number | undefined;
  body: AsyncIterable<Uint8Array>;
  /** Stops the download (when the answer is refused after all). */
  cancel(): void;
}

/**
 * The bytes stored under `content/sha256/…` as a stream (recordings can be gigabytes: never held in
 * memory), or undefined when absent.
 */
export async function openStoredContent(
  container: ContainerClient,
  sha256: string,
  signal?: AbortSignal,
): Promise<StoredStream | undefined> {
  let res;
  try {
    res = await container.getBlobClient(contentBlobName(sha256)).download(0, undefined, signal ? { abortSignal: signal } : {});
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
  const body = res.readableStreamBody as (NodeJS.ReadableStream & AsyncIterable<Uint8Array> & { destroy?: () => void }) | undefined;
  return {
    contentType: res.contentType ?? 'application/octet-stream',
    bytes: res.contentLength,
    body: body ?? (async function* () {})(),
    cancel: () => body?.destroy?.(),
  };
}
