// What the exporter relies on in a Copilot aiInteraction and in a meeting's callTranscript or
// callRecording, and the exactly-once version key of each (docs/design.md §18). Like chatMessage, both
// are open types: every other property passes through untouched, in the line exactly as received.
import { isMessageKind, type EntityKind } from '../model/entity';
import { parseInstant } from '../time';
import { parseMessage, versionKeyFromLine as messageKeyFromLine, type MessageVersion } from './message-schema';

type Result = { ok: true; version: MessageVersion } | { ok: false; reason: string };
type Fields = Omit<MessageVersion, 'line'>;

/** Any item an entity of this kind exports: a chat or channel message, an interaction, a meeting artifact. */
export function parseItem(kind: EntityKind, raw: unknown): Result {
  if (isMessageKind(kind)) return parseMessage(raw);
  const fields = kind === 'copilot' ? readInteraction(raw) : readArtifact(raw);
  if (!fields.ok) return fields;
  return { ok: true, version: { ...fields.version, line: JSON.stringify(raw) } };
}

/** The key parseItem gives the same object, recomputed from an archived line; undefined if unreadable. */
export function itemKeyFromLine(kind: EntityKind, line: string): string | undefined {
  if (isMessageKind(kind)) return messageKeyFromLine(line);
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return undefined;
  }
  const fields = kind === 'copilot' ? readInteraction(raw) : readArtifact(raw);
  return fields.ok ? fields.version.key : undefined;
}

/** The kind of a meeting artifact line: from its content URL property, else its `@odata.type`. */
export function artifactKind(item: Record<string, unknown>): 'transcript' | 'recording' | undefined {
  const type = typeof item['@odata.type'] === 'string' ? item['@odata.type'].toLowerCase() : '';
  if (typeof item.transcriptContentUrl === 'string' || type.endsWith('calltranscript')) return 'transcript';
  if (typeof item.recordingContentUrl === 'string' || type.endsWith('callrecording')) return 'recording';
  return undefined;
}

type Read = { ok: true; version: Fields } | { ok: false; reason: string };

/**
 * An aiInteraction. Key: (sessionId, id, createdDateTime, etag). Interactions are not edited, but an etag
 * that changes is a new version all the same, as for messages. Filed by createdDateTime.
 */
function readInteraction(raw: unknown): Read {
  const m = asObject(raw);
  if (!m) return { ok: false, reason: 'item is not a JSON object' };
  const id = nonEmpty(m, 'id');
  if (typeof id !== 'string') return id;
  const session = nonEmpty(m, 'sessionId');
  if (typeof session !== 'string') return session;
  const created = instant(m, 'createdDateTime');
  if (typeof created !== 'number') return created;
  const etag = m.etag;
  if (etag != null && typeof etag !== 'string') return { ok: false, reason: 'etag is not a string' };
  const key = `${session}|${id}|${created}|${etag ?? ''}`;
  return { ok: true, version: { conversationId: session, messageId: id, lastModifiedMs: created, bucketMs: created, key } };
}

/**
 * A callTranscript or callRecording. Key: (meetingId, id, createdDateTime, transcript|recording): an
 * artifact is created once and never changes; the kind keeps a transcript and a recording apart even if
 * Graph gave both the same id. Filed by createdDateTime.
 */
function readArtifact(raw: unknown): Read {
  const m = asObject(raw);
  if (!m) return { ok: false, reason: 'item is not a JSON object' };
  const id = nonEmpty(m, 'id');
  if (typeof id !== 'string') return id;
  const meeting = nonEmpty(m, 'meetingId');
  if (typeof meeting !== 'string') return meeting;
  const created = instant(m, 'createdDateTime');
  if (typeof created !== 'number') return created;
  const kind = artifactKind(m);
  if (!kind) return { ok: false, reason: 'neither transcriptContentUrl nor recordingContentUrl is set' };
  const key = `${meeting}|${id}|${created}|${kind}`;
  return { ok: true, version: { conversationId: meeting, messageId: id, lastModifiedMs: created, bucketMs: created, key } };
}

function asObject(raw: unknown): Record<string, unknown> | undefined {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : undefined;
}

// Name the field and the rule, never the value: the value may be content.
function nonEmpty(m: Record<string, unknown>, field: string): string | { ok: false; reason: string } {
  const v = m[field];
  if (typeof v !== 'string') return { ok: false, reason: `${field} ${v === undefined ? 'is missing' : 'is not a string'}` };
  if (v === '') return { ok: false, reason: `${field} is empty` };
  return v;
}

function instant(m: Record<string, unknown>, field: string): number | { ok: false; reason: string } {
  const v = m[field];
  if (typeof v !== 'string') return { ok: false, reason: `${field} ${v === undefined || v === null ? 'is missing' : 'is not a string'}` };
  const ms = parseInstant(v);
  return ms === undefined ? { ok: false, reason: `${field} is not an ISO-8601 instant` } : ms;
}
