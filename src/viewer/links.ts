// Where the viewer's pages point: one interface, two spellings. The server (CLI `serve` and the HTTP
// function) uses absolute paths under its base; the offline transcript folder uses relative file
// names so it opens from disk. Ids travel as blob-layout's id segments, so a URL names exactly one id.
import { CONTENT_PREFIX, encodeIdSegment } from '../archive/blob-layout';
import type { BrowsableKind } from '../archive/archive-browser';
import { inertFileName, isReservedWindowsName } from './file-names';

export interface DayRange {
  from: string;
  to: string;
}

export interface Links {
  home(): string;
  entity(kind: BrowsableKind, id: string, range?: DayRange): string | undefined;
  search(kind: BrowsableKind, id: string): string | undefined;
  /** A conversation-day; `page` (from 1) of a long day, or the page holding `message`. */
  day(kind: BrowsableKind, id: string, conversationId: string, day: string, at?: { page?: number; message?: string }): string;
  /** A user's Copilot sessions on one UTC day; with `sessionId`, at that session. */
  copilotDay(userId: string, day: string, sessionId?: string): string;
  /** The transcripts and recordings of the meetings a user organised, filed on one UTC day. */
  meetingsDay(userId: string, day: string): string;
  /** The raw JSON line (undefined where there is no server to ask). */
  raw(blob: string, lineNo: number): string | undefined;
  blob(blob: string): string | undefined;
  /** Stored bytes; `name` for a download (a file attachment). */
  content(sha256: string, contentType: string, name?: string): string;
  asset(name: 'viewer.css' | 'viewer.js'): string;
}

export const KIND_LETTER: Record<BrowsableKind, string> = { user: 'u', team: 't' };

/**
 * The element id of a Copilot session on its day page (`s-` and the session id as an id segment), or
 * undefined for a session id no segment can spell (the session is then shown without an anchor).
 */
export function sessionAnchor(sessionId: string): string | undefined {
  try {
    return `s-${encodeIdSegment(sessionId)}`;
  } catch {
    return undefined;
  }
}

function sessionFragment(sessionId: string | undefined): string {
  const anchor = sessionId === undefined ? undefined : sessionAnchor(sessionId);
  return anchor ? `#${anchor}` : '';
}

/**
 * Offline folders of a user's Copilot and meeting day pages, beside the conversation folders. No id
 * segment contains '_' (encodeIdSegment escapes it), so neither can be a conversation's folder.
 */
export const OFFLINE_COPILOT_FOLDER = '_copilot';
export const OFFLINE_MEETINGS_FOLDER = '_meetings';

function query(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * Links for a server mounted at `base` ('/' for `teams-export serve`, '/api/viewer/' for the
 * function). Links carry only what names the page: never a key or token, which would end up in
 * browser history, proxy logs and screenshots (docs/security.md).
 */
export function serverLinks(base: string): Links {
  const entityPath = (kind: BrowsableKind, id: string) => `${base}${KIND_LETTER[kind]}/${encodeIdSegment(id)}`;
  return {
    home: () => base,
    entity: (kind, id, range) => `${entityPath(kind, id)}${query({ from: range?.from, to: range?.to })}`,
    search: (kind, id) => `${entityPath(kind, id)}/search`,
    day: (kind, id, conversationId, day, at) =>
      `${entityPath(kind, id)}/c/${encodeIdSegment(conversationId)}/${day}${query({ page: at?.page !== undefined && at.page > 1 ? String(at.page) : undefined, m: at?.message })}${at?.message !== undefined ? `#m-${encodeURIComponent(at.message)}` : ''}`,
    copilotDay: (userId, day, sessionId) => `${entityPath('user', userId)}/copilot/${day}${sessionFragment(sessionId)}`,
    meetingsDay: (userId, day) => `${entityPath('user', userId)}/meetings/${day}`,
    raw: (blob, lineNo) => `${base}raw/${blob}${query({ line: String(lineNo) })}`,
    blob: (blob) => `${base}blob/${blob}`,
    content: (sha256, _type, name) => `${base}content/${sha256}${query({ name })}`,
    asset: (name) => `${base}assets/${name}`,
  };
}

/** File name of one page of a conversation-day in the offline folder. */
export function offlineDayFile(day: string, page = 1): string {
  return page > 1 ? `${day}-p${page}.html` : `${day}.html`;
}

/**
 * Folder of a conversation's pages below its entity's folder. An id segment keeps lower-case letters,
 * so an id like `con` would name a device on Windows: such a folder gets a `_`, which no id segment
 * contains (encodeIdSegment escapes it), so it cannot collide with another conversation's.
 */
export function offlineConversationFolder(conversationId: string): string {
  const seg = encodeIdSegment(conversationId);
  return isReservedWindowsName(seg) ? `_${seg}` : seg;
}

/** Folder of an entity's pages in the offline transcript folder. */
export function offlineEntityFolder(kind: BrowsableKind, id: string): string {
  return `${KIND_LETTER[kind]}-${encodeIdSegment(id)}`;
}

const EXTENSIONS: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif', 'image/webp': 'webp' };

/**
 * File name of stored bytes in the offline folder: raster images keep their type, anything else is
 * inert `.bin`; an attachment keeps its name, with the neutral suffix unless its type is inert.
 */
export function offlineContentFile(sha256: string, contentType: string, name?: string): string {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new RangeError('not a SHA-256');
  if (name !== undefined) return `files/${sha256}/${inertFileName(name)}`;
  return `${CONTENT_PREFIX}${sha256}.${EXTENSIONS[contentType.split(';')[0]?.trim().toLowerCase() ?? ''] ?? 'bin'}`;
}

/**
 * Links for one page of the offline folder, `depth` folders below its root. Every content link is
 * reported to `used`, so the writer copies exactly the bytes the pages show.
 */
export function offlineLinks(depth: number, used: (sha256: string, file: string) => void, entities?: ReadonlySet<string>): Links {
  const up = '../'.repeat(depth);
  return {
    home: () => `${up}index.html`,
    entity: (kind, id) => {
      const folder = offlineEntityFolder(kind, id);
      return entities && !entities.has(folder) ? undefined : `${up}${folder}/index.html`;
    },
    search: () => undefined,
    day: (kind, id, conversationId, day, at) =>
      `${up}${offlineEntityFolder(kind, id)}/${offlineConversationFolder(conversationId)}/${offlineDayFile(day, at?.page)}`,
    copilotDay: (userId, day, sessionId) =>
      `${up}${offlineEntityFolder('user', userId)}/${OFFLINE_COPILOT_FOLDER}/${offlineDayFile(day)}${sessionFragment(sessionId)}`,
    meetingsDay: (userId, day) => `${up}${offlineEntityFolder('user', userId)}/${OFFLINE_MEETINGS_FOLDER}/${offlineDayFile(day)}`,
    raw: () => undefined,
    blob: () => undefined,
    content: (sha256, contentType, name) => {
      const file = offlineContentFile(sha256, contentType, name);
      used(sha256, file);
      return `${up}${file}`;
    },
    asset: (name) => `${up}assets/${name}`,
  };
}
