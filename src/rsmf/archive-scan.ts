// First pass of a production (docs/rsmf.md): reads every archived batch of the selected entities from
// the first day of the range to the end of the archive once, and sorts each version into a spool file on local disk per slice
// (conversation and UTC day of the message's creation), with the content entries of that version.
// Memory holds only a bounded write buffer and one small record per slice, never the versions.
import { appendFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ArchiveContainer } from '../archive/archive-container';
import { listBlobs, readBatchLines, readBlobBytes } from '../archive/batch-reader';
import { chatVersionsPrefix, contentMapName, entityPrefix } from '../archive/blob-layout';
import type { Entity } from '../model/entity';
import { versionKeyFromLine } from '../graph/message-schema';
import { utcDay } from '../time';
import type { MeetingArtifact } from './meeting-artifacts';

/** Where versions come from: an entity's folder, or sender mode's folder of one chat. */
export type ScanSource = { entity: Entity } | { chatId: string };

/**
 * What a slice is of: a chat or a channel (messages), a user's Copilot session (copilot-scan.ts), or a
 * meeting whose id names no chat (its transcripts and recordings alone, meeting-artifacts.ts).
 */
export type SliceKind = 'chat' | 'channel' | 'copilot' | 'meeting';

export interface SliceSpool {
  /** The Graph id: chat or channel id, Copilot sessionId, or onlineMeeting id. */
  conversationId: string;
  conversationKind: SliceKind;
  teamId?: string;
  /** copilot: the user whose session it is; meeting: its organiser. */
  ownerId?: string;
  /** copilot: the appClass of the session's first interaction read, and the app's name as an answer gives it. */
  appClass?: string;
  app?: string;
  day: string;
  /** Spool file: `V\t{version line}` and `C\t{content entry}` records, one a line. */
  file: string;
  /** Users under whose folders the conversation's versions were found. */
  custodians: Set<string>;
  /** Batch (and content map) blobs the slice's versions were read from. */
  sources: Set<string>;
  /** Meeting transcripts and recordings shown in this slice, beside its messages (meeting-artifacts.ts). */
  artifacts?: MeetingArtifact[];
}

export interface ScanResult {
  slices: Map<string, SliceSpool>;
  /** Versions in the folders read of messages created before the range (not produced, counted). */
  earlierMessageVersions: number;
  /** Chats met while scanning: their sender-mode folders hold the rest of their versions. */
  chatsSeen: Set<string>;
  batchesRead: number;
}

export interface ScanOptions {
  /** Messages created in [fromMs, toMs) are produced. */
  fromMs: number;
  toMs: number;
  /**
   * Day folders are read from fromMs up to this instant: a message's later versions (edits, reactions,
   * its deletion) are filed under the days they happened, so its whole archived history lies beyond toMs.
   */
  scanUntilMs: number;
  /** Only these conversations (all when undefined). */
  conversations?: ReadonlySet<string>;
  /** Spool directory (created by the caller, removed by it). */
  dir: string;
  signal?: AbortSignal;
  onBatch?: (name: string) => void;
}

const PARALLEL_READS = 4;
/** Spool records held before they are appended to their files (as UTF-8: half a JS string's size). */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

type Json = Record<string, unknown>;

/** The UTC days of [fromMs, toMs) and the month folders (`yyyy/mm/`) they lie in. */
export function daysOf(fromMs: number, toMs: number): { days: Set<string>; months: string[] } {
  const days = new Set<string>();
  for (let d = Date.parse(`${utcDay(fromMs)}T00:00:00Z`); d < toMs; d += 86_400_000) days.add(utcDay(d));
  const months = [...new Set([...days].map((d) => `${d.slice(0, 4)}/${d.slice(5, 7)}/`))];
  return { days, months };
}

/** Appends spool records to their slices' files, buffering up to MAX_BUFFERED_BYTES. */
export class Spooler {
  private readonly buffers = new Map<string, Buffer[]>();
  private bytes = 0;
  constructor(private readonly slices: Map<string, SliceSpool>) {}

  add(sliceKey: string, record: string): void {
    let list = this.buffers.get(sliceKey);
    if (!list) this.buffers.set(sliceKey, (list = []));
    const bytes = Buffer.from(`${record}\n`, 'utf8');
    list.push(bytes);
    this.bytes += bytes.length;
    if (this.bytes >= MAX_BUFFERED_BYTES) this.flush();
  }

  flush(): void {
    for (const [key, records] of this.buffers) appendFileSync((this.slices.get(key) as SliceSpool).file, Buffer.concat(records));
    this.buffers.clear();
    this.bytes = 0;
  }
}

export interface BatchWork {
  batch: string;
  contentMap?: string;
  custodian?: string;
}

/** The day batches under `root` (`…/yyyy/mm/dd/*.jsonl.gz`) in `days`, with their content maps: one listing per month. */
export async function dayBatchesUnder(
  container: ArchiveContainer,
  root: string,
  days: ReadonlySet<string>,
  months: readonly string[],
  custodian: string | undefined,
  signal?: AbortSignal,
): Promise<BatchWork[]> {
  const work: BatchWork[] = [];
  for (const month of months) {
    const names = new Set<string>();
    for await (const item of listBlobs(container, `${root}${month}`, signal)) names.add(item.name);
    for (const name of [...names].sort()) {
      const day = /(\d{4})\/(\d{2})\/(\d{2})\/[^/]+\.jsonl\.gz$/.exec(name.slice(root.length));
      if (!day || !days.has(`${day[1]}-${day[2]}-${day[3]}`)) continue;
      const map = contentMapName(name);
      work.push({ batch: name, ...(names.has(map) ? { contentMap: map } : {}), ...(custodian ? { custodian } : {}) });
    }
  }
  return work;
}

/** The day batches of `sources` in `days` (and their content maps): one listing per source and month. */
async function batchesOf(
  container: ArchiveContainer,
  sources: readonly ScanSource[],
  days: ReadonlySet<string>,
  months: readonly string[],
  signal?: AbortSignal,
): Promise<BatchWork[]> {
  const work: BatchWork[] = [];
  for (const source of sources) {
    const root = 'entity' in source ? entityPrefix(source.entity) : chatVersionsPrefix(source.chatId);
    const custodian =
      'entity' in source && (source.entity.kind === 'user' || source.entity.kind === 'userRetained') ? source.entity.id : undefined;
    work.push(...(await dayBatchesUnder(container, root, days, months, custodian, signal)));
  }
  return work;
}

/** Runs `fn` over `items`, PARALLEL_READS at a time; `stop` ends the loop early. */
export async function eachBatch<T>(items: readonly T[], fn: (item: T) => Promise<void>, stop: () => boolean = () => false): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !stop()) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_READS, items.length) }, worker));
}

/** The chat or channel a version line belongs to. */
function conversationOf(m: Json): string | undefined {
  const channel = (m.channelIdentity ?? undefined) as Json | undefined;
  return typeof m.chatId === 'string' ? m.chatId : typeof channel?.channelId === 'string' ? channel.channelId : undefined;
}

export async function scanArchive(container: ArchiveContainer, sources: readonly ScanSource[], o: ScanOptions): Promise<ScanResult> {
  const result: ScanResult = { slices: new Map(), earlierMessageVersions: 0, chatsSeen: new Set(), batchesRead: 0 };
  const spooler = new Spooler(result.slices);
  const { days, months } = daysOf(o.fromMs, Math.max(o.toMs, o.scanUntilMs));
  const work = await batchesOf(container, sources, days, months, o.signal);
  await eachBatch(work, async (w) => {
    await scanBatch(container, w, o, result, spooler);
    result.batchesRead++;
    o.onBatch?.(w.batch);
  });
  spooler.flush();
  return result;
}

/**
 * Which of `ids` have a version in the day folders of [fromMs, toMs) of `sources`: reads those batches
 * only until every id is found (a request's check that its conversations are archived, docs/rsmf.md).
 * An id found nowhere costs a read of every batch of the range of the sources.
 */
export async function findConversations(
  container: ArchiveContainer,
  sources: readonly ScanSource[],
  ids: ReadonlySet<string>,
  o: { fromMs: number; toMs: number; signal?: AbortSignal },
): Promise<{ found: Set<string>; batchesRead: number }> {
  const found = new Set<string>();
  let batchesRead = 0;
  if (ids.size === 0) return { found, batchesRead };
  const { days, months } = daysOf(o.fromMs, o.toMs);
  const work = await batchesOf(container, sources, days, months, o.signal);
  const done = () => found.size === ids.size;
  await eachBatch(
    work,
    async (w) => {
      batchesRead++;
      for await (const line of readBatchLines(container, w.batch, o.signal)) {
        const parsed = JSON.parse(line) as unknown;
        const id = typeof parsed === 'object' && parsed !== null ? conversationOf(parsed as Json) : undefined;
        if (id !== undefined && ids.has(id)) found.add(id);
        if (done()) return;
      }
    },
    done,
  );
  return { found, batchesRead };
}

async function scanBatch(container: ArchiveContainer, w: BatchWork, o: ScanOptions, result: ScanResult, spooler: Spooler): Promise<void> {
  const content = new Map<string, Json[]>();
  if (w.contentMap) {
    const bytes = await readBlobBytes(container, w.contentMap, o.signal);
    const map = (bytes ? JSON.parse(bytes.toString('utf8')) : {}) as { entries?: Json[] };
    for (const e of Array.isArray(map.entries) ? map.entries : []) {
      const key = typeof e === 'object' && e !== null && typeof e.key === 'string' ? e.key : undefined;
      if (key) content.set(key, [...(content.get(key) ?? []), e]);
    }
  }
  for await (const line of readBatchLines(container, w.batch, o.signal)) {
    const parsed = JSON.parse(line) as unknown;
    // A line that is not an object is no message of any conversation.
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) continue;
    const m = parsed as Json;
    const channel = (m.channelIdentity ?? undefined) as Json | undefined;
    const conversationId = conversationOf(m);
    if (!conversationId) continue;
    if (typeof m.chatId === 'string') result.chatsSeen.add(conversationId);
    if (o.conversations && !o.conversations.has(conversationId)) continue;
    const createdMs = typeof m.createdDateTime === 'string' ? Date.parse(m.createdDateTime) : NaN;
    if (!Number.isFinite(createdMs) || createdMs >= o.toMs) continue; // a later day's production
    if (createdMs < o.fromMs) {
      result.earlierMessageVersions++;
      continue;
    }
    const day = utcDay(createdMs);
    const sliceKey = `${conversationId}\u0000${day}`;
    let slice = result.slices.get(sliceKey);
    if (!slice) {
      const teamId = typeof channel?.teamId === 'string' ? channel.teamId : undefined;
      slice = {
        conversationId,
        conversationKind: typeof m.chatId === 'string' ? 'chat' : 'channel',
        ...(teamId ? { teamId } : {}),
        day,
        file: join(o.dir, `${result.slices.size}.spool`),
        custodians: new Set(),
        sources: new Set(),
      };
      rmSync(slice.file, { force: true });
      result.slices.set(sliceKey, slice);
    }
    if (w.custodian) slice.custodians.add(w.custodian);
    slice.sources.add(w.batch);
    spooler.add(sliceKey, `V\t${line}`);
    // Content maps are keyed by the version key; most batches have none, so most lines skip this.
    const entries = content.size > 0 ? content.get(versionKeyFromLine(line) ?? '') : undefined;
    if (entries && w.contentMap) {
      slice.sources.add(w.contentMap);
      for (const e of entries) spooler.add(sliceKey, `C\t${JSON.stringify(e)}`);
    }
  }
}
