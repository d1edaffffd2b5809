// What the exporter relies on in a chatMessage (ids, conversation, timestamps, etag) and the
// exactly-once version key derived from it; every other property passes through untouched.

import { z } from 'zod';
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

/** Any ISO-8601 instant with a zone; fraction digits vary in Graph payloads (.24Z, .864Z, 7 digits). */
const instant = z.string().refine((s) => parseInstant(s) !== undefined, { message: 'is not an ISO-8601 instant' });
const nonEmpty = z.string().min(1, { message: 'is empty' });

// Loose objects: chatMessage and its parts are open types, unknown properties are normal. Only the
// fields below are checked; everything else (createdDateTime included when lastModified is set) is
// carried in `line` without judgement.
const messageSchema = z.looseObject({
  id: nonEmpty,
  lastModifiedDateTime: instant.nullish(),
  createdDateTime: z.unknown(),
  etag: z.string().nullish(),
  chatId: nonEmpty.nullish(),
  channelIdentity: z.looseObject({ channelId: nonEmpty.nullish() }).nullish(),
});

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

function readVersion(raw: unknown): Parsed {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, reason: 'item is not a JSON object' };
  const result = messageSchema.safeParse(raw);
  if (!result.success) {
    // Name the field and the rule, never the value: the value may be message content.
    const issue = result.error.issues[0];
    const field = issue && issue.path.length > 0 ? issue.path.join('.') : 'item';
    const rule = issue?.code === 'invalid_type' ? (valueAt(raw, issue.path) === undefined ? 'is missing' : `is not a ${issue.expected}`) : (issue?.message ?? 'is invalid');
    return { ok: false, reason: `${field} ${rule}` };
  }
  const m = result.data;
  const conversationId = m.chatId ?? m.channelIdentity?.channelId;
  if (conversationId == null) return { ok: false, reason: 'neither chatId nor channelIdentity.channelId is set' };
  const lastModifiedMs = m.lastModifiedDateTime == null ? null : (parseInstant(m.lastModifiedDateTime) as number);
  let bucketMs = lastModifiedMs;
  if (bucketMs === null) {
    bucketMs = typeof m.createdDateTime === 'string' ? (parseInstant(m.createdDateTime) ?? null) : null;
    if (bucketMs === null) return { ok: false, reason: 'lastModifiedDateTime is null and createdDateTime is missing or not an ISO-8601 instant' };
  }
  const key = `${conversationId}|${m.id}|${lastModifiedMs}|${m.etag ?? ''}`;
  return { ok: true, version: { conversationId, messageId: m.id, lastModifiedMs, bucketMs, key } };
}

function valueAt(raw: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let v: unknown = raw;
  for (const k of path) v = typeof v === 'object' && v !== null ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}
