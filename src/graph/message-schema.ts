// What the exporter relies on in a chatMessage (ids, conversation, timestamps, etag) and the
// exactly-once version key derived from it; every other property passes through untouched.

import { parseInstant } from '../time';

export interface MessageVersion {
  /** chatId for chat messages, channelIdentity.channelId for channel messages. */
  conversationId: string;
  messageId: string;
  /** Date.parse(lastModifiedDateTime); null in old data. */
  lastModifiedMs: number | null;
  /** The instant that picks the UTC day folder: lastModifiedMs, else createdDateTime. */
  bucketMs: number;
  /** `${conversationId}|${messageId}|${lastModifiedMs}|${etag ?? ''}`: the exactly-once identity. */
  key: string;
  /** JSON.stringify(raw): the object exactly as received, every property kept. */
  line: string;
}

type Parsed = { ok: true; version: Omit<MessageVersion, 'line'> } | { ok: false; reason: string };

export function parseMessage(raw: unknown): { ok: true; version: MessageVersion } | { ok: false; reason: string } {
  const parsed = readVersion(raw);
  if (!parsed.ok) return parsed;
  return { ok: true, version: { ...parsed.version, line: JSON.stringify(raw) } };
}

/** The key parseMessage gives the same object, recomputed from an archived line; undefined if unreadable. */
export function versionKeyFromLine(line: string): string | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return undefined;
  }
  const parsed = readVersion(raw);
  return parsed.ok ? parsed.version.key : undefined;
}

// chatMessage and its parts are open types, unknown properties are normal. Only the fields below are
// checked, by hand rather than with a schema library: this runs for every version exported (thousands
// a second) and a schema parse copies each object. Everything else (createdDateTime included when
// lastModified is set) is carried in `line` without judgement.
function readVersion(raw: unknown): Parsed {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, reason: 'item is not a JSON object' };
  const m = raw as Record<string, unknown>;
  // Name the field and the rule, never the value: the value may be message content.
  const id = m.id;
  if (typeof id !== 'string') return { ok: false, reason: `id ${id === undefined ? 'is missing' : 'is not a string'}` };
  if (id === '') return { ok: false, reason: 'id is empty' };
  const lastModified = m.lastModifiedDateTime;
  let lastModifiedMs: number | null = null;
  if (lastModified != null) {
    if (typeof lastModified !== 'string') return { ok: false, reason: 'lastModifiedDateTime is not a string' };
    const ms = parseInstant(lastModified);
    // Any ISO-8601 instant with a zone; fraction digits vary in Graph payloads (.24Z, .864Z, 7 digits).
    if (ms === undefined) return { ok: false, reason: 'lastModifiedDateTime is not an ISO-8601 instant' };
    lastModifiedMs = ms;
  }
  const etag = m.etag;
  if (etag != null && typeof etag !== 'string') return { ok: false, reason: 'etag is not a string' };
  const chatId = nullableNonEmpty(m.chatId, 'chatId');
  if (typeof chatId === 'object' && chatId !== null) return chatId;
  const identity = m.channelIdentity;
  let channelId: string | null | { ok: false; reason: string } = null;
  if (identity != null) {
    if (typeof identity !== 'object' || Array.isArray(identity)) return { ok: false, reason: 'channelIdentity is not a object' };
    channelId = nullableNonEmpty((identity as Record<string, unknown>).channelId, 'channelIdentity.channelId');
    if (typeof channelId === 'object' && channelId !== null) return channelId;
  }
  const conversationId = chatId ?? channelId;
  if (conversationId == null) return { ok: false, reason: 'neither chatId nor channelIdentity.channelId is set' };
  let bucketMs = lastModifiedMs;
  if (bucketMs === null) {
    bucketMs = typeof m.createdDateTime === 'string' ? (parseInstant(m.createdDateTime) ?? null) : null;
    if (bucketMs === null)
      return { ok: false, reason: 'lastModifiedDateTime is null and createdDateTime is missing or not an ISO-8601 instant' };
  }
  const key = `${conversationId}|${id}|${lastModifiedMs}|${etag ?? ''}`;
  return { ok: true, version: { conversationId, messageId: id, lastModifiedMs, bucketMs, key } };
}

/** A string that is absent, null or non-empty; a failure naming the field otherwise. */
function nullableNonEmpty(v: unknown, field: string): string | null | { ok: false; reason: string } {
  if (v == null) return null;
  if (typeof v !== 'string') return { ok: false, reason: `${field} is not a string` };
  if (v === '') return { ok: false, reason: `${field} is empty` };
  return v;
}
