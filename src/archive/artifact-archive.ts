// Read-only access to the two per-user archives beside messages, for the viewer and `teams-export html`
// (docs/viewer.md, "Copilot sessions" and "Meeting transcripts and recordings"): a user's Copilot
// interactions grouped into sessions, and the transcripts and recordings of meetings a user organised,
// with their content-map entries, found by organiser or by meeting chat. Names come from blob-layout;
// every listing is bounded by a user and a month or day prefix, never the whole container.
import type { ArchiveContainer } from './archive-container';
import { listEntityDays, listEntityMonths, readBatches, type ArchivedLine, type ContentMapEntry } from './archive-browser';
import { listBatches } from './batch-reader';
import { contentBlobName, dayPrefix, decodeIdSegment, entityPrefix } from './blob-layout';
import { statusOf } from '../model/errors';
import type { EntityKind } from '../model/entity';

/** The two per-user entity kinds beside messages: a user's Copilot interactions, the meetings a user organised. */
export type ArtifactRoot = Extract<EntityKind, 'copilot' | 'meetings'>;

/** `copilot/users/{seg}/` or `meetings/users/{seg}/` (docs/archive-format.md §12): one kind of one user. */
const userPrefix = (root: ArtifactRoot, userId: string) => entityPrefix({ kind: root, id: userId });

type Json = Record<string, unknown>;

const obj = (v: unknown): Json | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const msOf = (v: unknown): number | undefined => {
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isFinite(t) ? t : undefined;
};

function parseLine(text: string): Json | undefined {
  try {
    return obj(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** The users that have a folder under `copilot/users/` (or `meetings/users/`): one delimiter listing. */
export async function listArtifactUsers(container: ArchiveContainer, root: ArtifactRoot, signal?: AbortSignal): Promise<string[]> {
  // The folder holding one folder per user (`copilot/users/`): the prefix of any user's, without the user.
  const prefix = userPrefix(root, 'x').slice(0, -'x/'.length);
  const ids: string[] = [];
  for await (const item of container.listBlobsByHierarchy('/', { prefix, ...(signal ? { abortSignal: signal } : {}) })) {
    if (item.kind !== 'prefix') continue;
    try {
      ids.push(decodeIdSegment(item.name.slice(prefix.length, -1)));
    } catch {
      // A folder the product did not write: not a user.
    }
  }
  return ids;
}

/** The months (`yyyy-mm`) holding a user's batches of one kind, newest first: small delimiter listings. */
export function listArtifactMonths(
  container: ArchiveContainer,
  root: ArtifactRoot,
  userId: string,
  signal?: AbortSignal,
): Promise<string[]> {
  return listEntityMonths(container, { kind: root, id: userId }, signal);
}

/** A user's batches of one kind in [fromDay, toDay], by day (sorted): one flat listing per month. */
export function listArtifactDays(
  container: ArchiveContainer,
  root: ArtifactRoot,
  userId: string,
  fromDay: string,
  toDay: string,
  signal?: AbortSignal,
): Promise<Map<string, string[]>> {
  return listEntityDays(container, { kind: root, id: userId }, fromDay, toDay, signal);
}

// ---- Copilot ----

/** One aiInteraction as archived. */
export interface CopilotInteractionView {
  id: string;
  sessionId: string;
  /** `userPrompt`, `aiResponse`, or whatever else Graph sent. */
  interactionType: string;
  createdMs: number;
  /** The UTC day folder it was read from. */
  day: string;
  item: Json;
  line: ArchivedLine;
  /** Distinct etags archived for this id (more than one: the newest is shown). */
  versions: number;
}

/** A Copilot session: every interaction with one `sessionId`, in createdDateTime order (prompt before its answer). */
export interface CopilotSessionView {
  sessionId: string;
  /** The first interaction's appClass (the app the session ran in). */
  appClass: string | undefined;
  interactions: CopilotInteractionView[];
  startMs: number;
  endMs: number;
  /** The UTC days holding its interactions, oldest first. */
  days: string[];
}

const TYPE_ORDER: Record<string, number> = { userPrompt: 0, aiResponse: 1 };

/**
 * Groups archived aiInteraction lines into sessions, oldest session first. A line that is not an
 * interaction (no string id and sessionId) is skipped; the same interaction archived twice (same id) is
 * shown once, its newest version (the latest batch name, as batches are named in time order).
 */
export function copilotSessionsOf(lines: ReadonlyArray<{ line: ArchivedLine; day: string }>): CopilotSessionView[] {
  const byId = new Map<string, { view: CopilotInteractionView; etags: Set<string> }>();
  for (const { line, day } of lines) {
    const item = parseLine(line.text);
    const id = item ? str(item.id) : undefined;
    const sessionId = item ? str(item.sessionId) : undefined;
    if (!item || !id || !sessionId) continue;
    const key = `${sessionId}\n${id}`;
    const view: CopilotInteractionView = {
      id,
      sessionId,
      interactionType: str(item.interactionType) ?? 'unknown',
      createdMs: msOf(item.createdDateTime) ?? 0,
      day,
      item,
      line,
      versions: 1,
    };
    const etag = typeof item.etag === 'string' ? item.etag : JSON.stringify(item.etag ?? null);
    const seen = byId.get(key);
    if (!seen) byId.set(key, { view, etags: new Set([etag]) });
    else {
      seen.etags.add(etag);
      if (line.blob >= seen.view.line.blob) seen.view = view;
    }
  }
  const sessions = new Map<string, CopilotSessionView>();
  for (const { view, etags } of byId.values()) {
    view.versions = etags.size;
    let s = sessions.get(view.sessionId);
    if (!s) {
      s = { sessionId: view.sessionId, appClass: undefined, interactions: [], startMs: view.createdMs, endMs: view.createdMs, days: [] };
      sessions.set(view.sessionId, s);
    }
    s.interactions.push(view);
  }
  const out = [...sessions.values()];
  for (const s of out) {
    s.interactions.sort(
      (a, b) =>
        a.createdMs - b.createdMs ||
        (TYPE_ORDER[a.interactionType] ?? 2) - (TYPE_ORDER[b.interactionType] ?? 2) ||
        (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
    const first = s.interactions[0] as CopilotInteractionView;
    s.startMs = first.createdMs;
    s.endMs = (s.interactions.at(-1) as CopilotInteractionView).createdMs;
    s.appClass = str(first.item.appClass);
    s.days = [...new Set(s.interactions.map((x) => x.day))].sort();
  }
  return out.sort((a, b) => a.startMs - b.startMs || (a.sessionId < b.sessionId ? -1 : 1));
}

/** A user's Copilot sessions with interactions in [fromDay, toDay] (only the interactions of those days). */
export async function loadCopilotSessions(
  container: ArchiveContainer,
  userId: string,
  fromDay: string,
  toDay: string,
  signal?: AbortSignal,
): Promise<CopilotSessionView[]> {
  const lines: Array<{ line: ArchivedLine; day: string }> = [];
  for (const [day, names] of await listArtifactDays(container, 'copilot', userId, fromDay, toDay, signal)) {
    for (const line of (await readBatches(container, names, signal)).lines) lines.push({ line, day });
  }
  return copilotSessionsOf(lines);
}

// ---- Meetings ----

/** The meeting chat of an onlineMeeting id: base64 of `1*{organizerId}*0**{threadId}`; undefined for any other id. */
export function decodeMeetingId(meetingId: unknown): { organizerId: string; threadId: string } | undefined {
  if (typeof meetingId !== 'string' || meetingId.length === 0 || meetingId.length > 2048) return undefined;
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(meetingId)) return undefined;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(meetingId, 'base64'));
  } catch {
    return undefined;
  }
  const m = /^1\*([^*\s]{1,256})\*0\*\*(19:[^*\s]{1,256})$/.exec(text);
  return m ? { organizerId: m[1] as string, threadId: m[2] as string } : undefined;
}

export type MeetingArtifactKind = 'transcript' | 'recording';

/** One callTranscript or callRecording as archived under its organiser, with its content entries. */
export interface MeetingArtifactView {
  kind: MeetingArtifactKind;
  id: string;
  meetingId: string;
  /** The user whose `meetings/users/` folder holds it. */
  organizerId: string;
  /** The meeting chat, when meetingId decodes to one. */
  chatId: string | undefined;
  createdMs: number;
  endMs: number | undefined;
  /** Shared by a transcript and the recording of the same occurrence. */
  correlationId: string | undefined;
  day: string;
  item: Json;
  line: ArchivedLine;
  /** Content-map entries of this artifact: `transcript`, `transcriptMetadata`, `recording`. */
  content: ContentMapEntry[];
}

function artifactKind(item: Json): MeetingArtifactKind | undefined {
  const type = str(item['@odata.type']);
  if (type === '#microsoft.graph.callTranscript' || (type === undefined && str(item.transcriptContentUrl))) return 'transcript';
  if (type === '#microsoft.graph.callRecording' || (type === undefined && str(item.recordingContentUrl))) return 'recording';
  return undefined;
}

/**
 * The artifacts of a user's meeting batches (lines with their day, and the batches' content entries),
 * each artifact once, oldest first. Lines that are not a transcript or recording are skipped.
 */
export function meetingArtifactsOf(
  organizerId: string,
  lines: ReadonlyArray<{ line: ArchivedLine; day: string }>,
  content: readonly ContentMapEntry[],
): MeetingArtifactView[] {
  const byKey = new Map<string, MeetingArtifactView>();
  for (const { line, day } of lines) {
    const item = parseLine(line.text);
    const kind = item ? artifactKind(item) : undefined;
    const id = item ? str(item.id) : undefined;
    const meetingId = item ? str(item.meetingId) : undefined;
    if (!item || !kind || !id || !meetingId) continue;
    const key = `${kind}\n${meetingId}\n${id}`;
    if (byKey.has(key)) continue;
    byKey.set(key, {
      kind,
      id,
      meetingId,
      organizerId,
      chatId: decodeMeetingId(meetingId)?.threadId,
      createdMs: msOf(item.createdDateTime) ?? 0,
      endMs: msOf(item.endDateTime),
      correlationId: str(item.contentCorrelationId),
      day,
      item,
      line,
      content: [],
    });
  }
  const views = [...byKey.values()];
  for (const e of content) {
    for (const v of views) if (v.id === e.messageId && v.meetingId === e.conversationId) v.content.push(e);
  }
  return views.sort((a, b) => a.createdMs - b.createdMs || (a.kind < b.kind ? 1 : a.kind > b.kind ? -1 : 0));
}

async function readArtifactBatches(
  container: ArchiveContainer,
  organizerId: string,
  byDay: Map<string, string[]>,
  signal?: AbortSignal,
): Promise<MeetingArtifactView[]> {
  const lines: Array<{ line: ArchivedLine; day: string }> = [];
  const content: ContentMapEntry[] = [];
  for (const [day, names] of byDay) {
    const data = await readBatches(container, names, signal);
    for (const line of data.lines) lines.push({ line, day });
    content.push(...data.content);
  }
  return meetingArtifactsOf(organizerId, lines, content);
}

/** The transcripts and recordings of the meetings a user organised, filed in [fromDay, toDay]. */
export async function loadOrganizerArtifacts(
  container: ArchiveContainer,
  organizerId: string,
  fromDay: string,
  toDay: string,
  signal?: AbortSignal,
): Promise<MeetingArtifactView[]> {
  return readArtifactBatches(
    container,
    organizerId,
    await listArtifactDays(container, 'meetings', organizerId, fromDay, toDay, signal),
    signal,
  );
}

/** Most organisers whose day folders are looked in for one meeting chat-day. */
export const MAX_ORGANIZER_CANDIDATES = 50;

/**
 * The transcripts and recordings filed on `day` whose meetingId decodes to `chatId`. The archive files
 * them under their organiser, whom a chat id does not name: each candidate's day folder is listed (one
 * flat listing each, at most MAX_ORGANIZER_CANDIDATES), and read when it holds batches.
 */
export async function loadChatDayArtifacts(
  container: ArchiveContainer,
  chatId: string,
  day: string,
  candidates: Iterable<string>,
  signal?: AbortSignal,
): Promise<MeetingArtifactView[]> {
  const organizers: string[] = [];
  for (const c of candidates) {
    if (organizers.length === MAX_ORGANIZER_CANDIDATES) break;
    if (typeof c !== 'string' || organizers.includes(c)) continue;
    try {
      dayPrefix({ kind: 'meetings', id: c }, day);
    } catch {
      continue; // an id no folder can be named from
    }
    organizers.push(c);
  }
  const found = await Promise.all(
    organizers.map(async (organizerId) => {
      const names: string[] = [];
      for await (const b of listBatches(container, dayPrefix({ kind: 'meetings', id: organizerId }, day), signal)) names.push(b.name);
      if (names.length === 0) return [];
      const all = await readArtifactBatches(container, organizerId, new Map([[day, names.sort()]]), signal);
      return all.filter((a) => a.chatId === chatId);
    }),
  );
  return found.flat().sort((a, b) => a.createdMs - b.createdMs);
}

/** The first `maxBytes` of stored content as UTF-8 text (a transcript), or undefined when it is not stored. */
export async function readStoredText(
  container: ArchiveContainer,
  sha256: string,
  maxBytes: number,
  signal?: AbortSignal,
): Promise<{ text: string; truncated: boolean } | undefined> {
  const blob = container.getBlobClient(contentBlobName(sha256));
  let res;
  try {
    // One byte more than shown tells whether there is more.
    res = await blob.download(0, maxBytes + 1, signal ? { abortSignal: signal } : {});
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of (res.readableStreamBody ?? []) as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    total += chunk.length;
  }
  const bytes = Buffer.concat(chunks, total);
  const truncated = bytes.length > maxBytes;
  return { text: bytes.subarray(0, maxBytes).toString('utf8'), truncated };
}
