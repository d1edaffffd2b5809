// Turns the archived versions of one Teams message into one RSMF 2.0 event (docs/rsmf.md): the latest
// version is the event, every earlier body is an edit, a deletion keeps the last known body, reactions
// are those of the latest version, system messages become join/leave/history. Pure: no I/O.
import type { ContentMapEntry } from '../archive/content-store';
import { htmlToText, problemOf, textOf } from '../archive/render-text';

type Json = Record<string, unknown>;

export interface RsmfCustom {
  name: string;
  value: string;
}

export interface RsmfAttachment {
  /** File name inside rsmf.zip. */
  id: string;
  display: string;
  size: number;
}

export interface RsmfEvent {
  id: string;
  type: 'message' | 'join' | 'leave' | 'history' | 'unknown';
  parent?: string;
  body: string;
  participant: string;
  conversation: string;
  timestamp: string;
  deleted?: boolean;
  importance: 'normal' | 'high';
  reactions?: Array<{ value: string; count: number; participants: string[] }>;
  attachments?: RsmfAttachment[];
  edits?: Array<{ participant: string; timestamp: string; previous: string; new: string }>;
  custom: RsmfCustom[];
}

/** A content entry of the archive (`*.content.json`): what one reference of one version resolved to. */
export type ContentEntry = ContentMapEntry;

/** A stored byte string the event names, to be copied from `content/` into the zip. */
export interface ZipFile {
  sha256: string;
  fileName: string;
  size: number;
}

export interface BuiltEvent {
  event: RsmfEvent;
  /** Everyone the event refers to, with the name the payload gave (names come from the snapshot first). */
  people: Array<{ id: string; displayName?: string }>;
  files: ZipFile[];
}

/**
 * Who an event is by when the archive never saw a sender (a message deleted before any version naming
 * it was archived, a system event without an initiator): review platforms flag events without one.
 */
export const UNKNOWN_PARTICIPANT = { id: 'teams-export:unknown', displayName: 'Unknown (not named in the archive)' } as const;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const obj = (v: unknown): Json | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined);

/** An ISO instant as RSMF wants it (RFC 3339, milliseconds); undefined for anything unparsable. */
export function isoOf(v: unknown): string | undefined {
  const ms = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

/** The identity a Graph identitySet names: user, application or device, with its payload name. */
export function identityOf(set: unknown): { id: string; displayName?: string } | undefined {
  const s = obj(set);
  for (const k of ['user', 'application', 'device']) {
    const who = obj(s?.[k]);
    const id = str(who?.id);
    if (id) return { id, ...(str(who?.displayName) ? { displayName: who?.displayName as string } : {}) };
  }
  return undefined;
}

/** A message body as plain text (HTML made readable); '' when there is none (deleted, system). */
export function bodyText(m: Json): string {
  const body = obj(m.body);
  const content = str(body?.content);
  if (!content || content === '<systemEventMessage/>') return '';
  return body?.contentType === 'html' ? htmlToText(content) : content;
}

const EXTENSIONS: Record<string, string> = {
  'image/png': '.png',
  'image/jpeg': '.jpg',
  'image/jpg': '.jpg',
  'image/gif': '.gif',
  'image/webp': '.webp',
  'image/svg+xml': '.svg',
  'text/plain': '.txt',
  'application/pdf': '.pdf',
  'application/json': '.json',
};

/** The extension review platforms recognise: from the stored Content-Type, else the file's own name. */
export function extensionOf(contentType: string | undefined, name: string | undefined): string {
  if (typeof contentType !== 'string') contentType = undefined;
  if (typeof name !== 'string') name = undefined;
  const fromType = contentType ? EXTENSIONS[contentType.split(';')[0]?.trim().toLowerCase() ?? ''] : undefined;
  if (fromType) return fromType;
  const fromName = name ? /\.([A-Za-z0-9]{1,8})$/.exec(name)?.[1] : undefined;
  return fromName ? `.${fromName.toLowerCase()}` : '.bin';
}

const JOIN = /membersAdded|membersJoined/i;
const LEAVE = /membersDeleted|membersLeft/i;

function systemType(m: Json): RsmfEvent['type'] | undefined {
  const detail = obj(m.eventDetail);
  const system = m.messageType === 'systemEventMessage' || m.messageType === 'unknownFutureValue' || detail !== undefined;
  if (!system) return undefined;
  const kind = textOf(detail?.['@odata.type']);
  return JOIN.test(kind) ? 'join' : LEAVE.test(kind) ? 'leave' : 'history';
}

function systemBody(m: Json, nameOf: (id: string) => string | undefined): string {
  const detail = obj(m.eventDetail);
  const kind = (textOf(detail?.['@odata.type']) || 'system event').replace('#microsoft.graph.', '').replace(/EventMessageDetail$/, '');
  const members = Array.isArray(detail?.members)
    ? (detail.members as unknown[]).map((x) => str(obj(x)?.id)).filter((x): x is string => x !== undefined)
    : [];
  const names = members.map((id) => nameOf(id) ?? id);
  return names.length > 0 ? `${kind}: ${names.join(', ')}` : kind;
}

function custom(name: string, value: unknown): RsmfCustom[] {
  const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';
  return text.length > 0 ? [{ name, value: text }] : [];
}

/**
 * One event from the versions of one message, oldest first (distinct versions only). `contentOf`
 * gives the content entries recorded for a version; `nameOf` resolves a user id to a display name for system
 * event bodies; `parent` is set by the caller only when the thread root is in the same file.
 */
export function buildEvent(
  versions: readonly Json[],
  o: {
    conversation: string;
    parent?: string;
    contentOf: (version: Json) => readonly ContentEntry[];
    nameOf: (id: string) => string | undefined;
  },
): BuiltEvent {
  const latest = versions[versions.length - 1];
  if (!latest) throw new RangeError('an event needs at least one version');
  const people = new Map<string, string | undefined>();
  const see = (who: { id: string; displayName?: string } | undefined) => {
    if (who && (!people.has(who.id) || people.get(who.id) === undefined)) people.set(who.id, who.displayName);
  };
  // The sender as the latest version that names one says (a deleted version has `from: null`).
  let sender: { id: string; displayName?: string } | undefined;
  for (const v of versions) {
    const who = identityOf(v.from);
    if (who) sender = who;
  }
  see(sender);
  const type = systemType(latest) ?? 'message';
  const initiator = type !== 'message' ? identityOf(obj(latest.eventDetail)?.initiator) : undefined;
  see(initiator);

  // Bodies in order: each change of the text is an edit; the last known text is the event's body.
  const edits: NonNullable<RsmfEvent['edits']> = [];
  let body: string | undefined;
  let bodyVersion: Json | undefined;
  for (const v of versions) {
    if (str(v.deletedDateTime) || obj(v.body)?.content == null) continue;
    const text = type === 'message' ? bodyText(v) : systemBody(v, o.nameOf);
    if (body !== undefined && text !== body && sender) {
      edits.push({
        participant: sender.id,
        timestamp: isoOf(v.lastEditedDateTime) ?? isoOf(v.lastModifiedDateTime) ?? '',
        previous: body,
        new: text,
      });
    }
    body = text;
    bodyVersion = v;
  }

  const reactionsByValue = new Map<string, string[]>();
  for (const r of Array.isArray(latest.reactions) ? (latest.reactions as unknown[]) : []) {
    const reaction = obj(r);
    if (!reaction) continue;
    const type = str(reaction.reactionType) ?? 'unknown';
    const value = type === 'custom' ? (str(reaction.displayName) ?? 'custom') : type;
    const who = identityOf(reaction.user) ?? (str(obj(reaction.user)?.id) ? { id: obj(reaction.user)?.id as string } : undefined);
    see(who);
    // '' stands for a reactor Graph did not name: counted, not listed.
    const list = reactionsByValue.get(value) ?? [];
    list.push(who?.id ?? '');
    reactionsByValue.set(value, list);
  }
  const reactions = [...reactionsByValue].map(([value, ids]) => ({
    value,
    count: ids.length,
    participants: [...new Set(ids.filter((id) => id !== ''))],
  }));

  // Attachments of the version whose body is shown: hosted contents (images, snippets) and files.
  const files: ZipFile[] = [];
  const attachments: RsmfAttachment[] = [];
  const notArchived: string[] = [];
  if (bodyVersion) {
    let n = 0;
    for (const entry of o.contentOf(bodyVersion)) {
      if (entry.status !== 'stored' || !entry.sha256) {
        notArchived.push(`${entry.name ?? entry.kind} (${entry.status})`);
        continue;
      }
      n++;
      const ext = extensionOf(entry.contentType, entry.name);
      const fileName = `${entry.sha256}${ext}`;
      const display =
        entry.kind === 'file' && entry.name ? entry.name : `${entry.contentType?.startsWith('image/') ? 'image' : 'content'}-${n}${ext}`;
      if (!attachments.some((a) => a.id === fileName)) {
        attachments.push({ id: fileName, display, size: entry.bytes ?? 0 });
        files.push({ sha256: entry.sha256, fileName, size: entry.bytes ?? 0 });
      }
    }
  }

  const deleted = str(latest.deletedDateTime) !== undefined;
  const importance = latest.importance === 'high' || latest.importance === 'urgent' ? 'high' : 'normal';
  const channel = obj(latest.channelIdentity);
  const actor = (type === 'message' ? sender : (initiator ?? sender)) ?? UNKNOWN_PARTICIPANT;
  see(actor);
  const event: RsmfEvent = {
    id: textOf(latest.id),
    type,
    ...(o.parent !== undefined ? { parent: o.parent } : {}),
    body: body ?? '',
    participant: actor.id,
    conversation: o.conversation,
    timestamp: isoOf(latest.createdDateTime) ?? isoOf(latest.lastModifiedDateTime) ?? new Date(0).toISOString(),
    ...(deleted ? { deleted: true } : {}),
    importance,
    ...(reactions.length > 0 ? { reactions } : {}),
    ...(attachments.length > 0 ? { attachments } : {}),
    ...(edits.length > 0 ? { edits } : {}),
    custom: [
      ...custom('Graph message id', latest.id),
      ...custom('Reply to (Graph id)', latest.replyToId),
      ...custom('Team id', channel?.teamId),
      ...custom('Web URL', latest.webUrl),
      ...custom('Subject', latest.subject),
      ...custom('Message type', latest.messageType),
      ...custom('Last modified', isoOf(latest.lastModifiedDateTime)),
      ...custom('Deleted at', isoOf(latest.deletedDateTime)),
      ...custom('Archived versions', versions.length),
      // Every archived version by its lastModifiedDateTime: reaction-only versions are folded into the
      // event, and this keeps each of them accounted for.
      ...custom('Version times', versions.map((v) => isoOf(v.lastModifiedDateTime) ?? isoOf(v.createdDateTime) ?? '').join(' ')),
      ...custom('Content not archived', notArchived.join('; ')),
      ...(deleted && body === undefined ? custom('Note', 'deleted before any version with its body was archived') : []),
    ],
  };
  return { event, people: [...people].map(([id, displayName]) => ({ id, ...(displayName ? { displayName } : {}) })), files };
}

/** The body a production shows for a message it could not render (docs/rsmf.md). */
export const UNRENDERABLE_BODY = '[could not render this message; its archived versions are unchanged in the archive]';

/**
 * buildEvent, or, for a message whose versions it cannot read (a shape no Graph payload has), an
 * event that says so: its id, its time when one can be read, the reason, so the production goes on
 * and the reviewer sees that a message is there (issue 20, per-message isolation).
 */
export function buildEventSafely(versions: readonly Json[], o: Parameters<typeof buildEvent>[1]): BuiltEvent {
  try {
    return buildEvent(versions, o);
  } catch (err) {
    const latest = versions[versions.length - 1] ?? {};
    const times = versions.flatMap((v) => {
      try {
        return [isoOf(v.createdDateTime) ?? isoOf(v.lastModifiedDateTime)].filter((t): t is string => t !== undefined);
      } catch {
        return [];
      }
    });
    const id = textOf(latest.id) || '(no id)';
    const event: RsmfEvent = {
      id,
      type: 'message',
      body: UNRENDERABLE_BODY,
      participant: UNKNOWN_PARTICIPANT.id,
      conversation: o.conversation,
      timestamp: times[0] ?? new Date(0).toISOString(),
      importance: 'normal',
      custom: [
        { name: 'Graph message id', value: id },
        { name: 'Archived versions', value: String(versions.length) },
        { name: 'Rendering problem', value: problemOf(err) },
      ],
    };
    return { event, people: [{ ...UNKNOWN_PARTICIPANT }], files: [] };
  }
}
