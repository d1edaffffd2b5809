// Display names for the viewer: users, teams, channels and chats looked up by id in the newest
// directory snapshot (`directory/{yyyy}/{mm}/{dd}/{runId}.json.gz`, gzipped JSON). An archive without
// a snapshot still browses: every lookup then answers undefined and the viewer shows the id.
import type { ArchiveContainer } from './archive-container';
import { readNearestDirectorySnapshot } from './directory-snapshot';

/** Id → display name lookups; undefined when the snapshot does not know the id. */
export interface DirectoryNames {
  user(id: string): string | undefined;
  team(id: string): string | undefined;
  channel(teamId: string, channelId: string): string | undefined;
  /** The chat's topic, or its members' names for a chat without one. */
  chat(chatId: string): string | undefined;
  /** The user ids of the chat's members the snapshot lists (a meeting chat's possible organisers). */
  chatMembers?(chatId: string): readonly string[];
}

export const NO_NAMES: DirectoryNames = { user: () => undefined, team: () => undefined, channel: () => undefined, chat: () => undefined };

interface Snapshot {
  users?: Array<{ id?: unknown; displayName?: unknown }>;
  teams?: Array<{ id?: unknown; displayName?: unknown; channels?: Array<{ id?: unknown; displayName?: unknown }> }>;
  chats?: Array<{ id?: unknown; topic?: unknown; members?: Array<{ userId?: unknown; displayName?: unknown; email?: unknown }> }>;
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim().length > 0 ? v : undefined);

/** Builds the lookups from a parsed snapshot (fields of the wrong type are ignored, not trusted). */
export function namesFromSnapshot(snapshot: unknown): DirectoryNames {
  const s = (typeof snapshot === 'object' && snapshot !== null ? snapshot : {}) as Snapshot;
  const users = new Map<string, string>();
  const teams = new Map<string, string>();
  const channels = new Map<string, string>();
  const chats = new Map<string, string>();
  const chatMembers = new Map<string, string[]>();
  for (const u of Array.isArray(s.users) ? s.users : []) {
    const id = text(u?.id);
    const name = text(u?.displayName);
    if (id && name) users.set(id, name);
  }
  for (const t of Array.isArray(s.teams) ? s.teams : []) {
    const id = text(t?.id);
    if (!id) continue;
    const name = text(t.displayName);
    if (name) teams.set(id, name);
    for (const c of Array.isArray(t.channels) ? t.channels : []) {
      const cid = text(c?.id);
      const cname = text(c?.displayName);
      if (cid && cname) channels.set(`${id}\n${cid}`, cname);
    }
  }
  for (const c of Array.isArray(s.chats) ? s.chats : []) {
    const id = text(c?.id);
    if (!id) continue;
    const members = (Array.isArray(c.members) ? c.members : [])
      .map((m) => text(m?.displayName) ?? (text(m?.userId) ? users.get(m.userId as string) : undefined) ?? text(m?.email))
      .filter((n): n is string => n !== undefined);
    const name = text(c.topic) ?? (members.length > 0 ? members.join(', ') : undefined);
    if (name) chats.set(id, name);
    const ids = (Array.isArray(c.members) ? c.members : []).map((m) => text(m?.userId)).filter((x): x is string => x !== undefined);
    if (ids.length > 0) chatMembers.set(id, ids);
  }
  return {
    user: (id) => users.get(id),
    team: (id) => teams.get(id),
    channel: (teamId, channelId) => channels.get(`${teamId}\n${channelId}`),
    chat: (id) => chats.get(id),
    chatMembers: (id) => chatMembers.get(id) ?? [],
  };
}

/**
 * The names of the newest snapshot under `directory/`, or NO_NAMES when there is none or it does not
 * parse. One listing of the snapshot folder (one small blob per run), never of the archive.
 */
export async function readLatestDirectoryNames(container: ArchiveContainer, signal?: AbortSignal): Promise<DirectoryNames> {
  try {
    // The snapshot nearest to now is the newest one (lists only directory/ by month, never the container).
    const snapshot = await readNearestDirectorySnapshot(container, new Date(), signal);
    return snapshot ? namesFromSnapshot(snapshot) : NO_NAMES;
  } catch {
    return NO_NAMES;
  }
}
