// Reads the names a directory snapshot keeps (docs/rsmf.md): users with UPN and mail, teams with their
// channels, chats with topic and members. Permissions (application): User.Read.All,
// Team.ReadBasic.All, Channel.ReadBasic.All, Chat.ReadBasic.All and ChatMember.Read.All.
import type { DirectorySnapshot } from '../archive/directory-snapshot';
import { GraphError } from './graph-errors';
import type { GraphHttp } from './graph-http';
import { pages } from './paging';

type Json = Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

async function* items(http: GraphHttp, path: string, signal?: AbortSignal): AsyncGenerator<Json> {
  for await (const page of pages(http, path, signal ? { signal } : {})) {
    for (const item of page.items) if (typeof item === 'object' && item !== null && str((item as Json).id)) yield item as Json;
  }
}

export async function readDirectoryUsers(http: GraphHttp, signal?: AbortSignal): Promise<DirectorySnapshot['users']> {
  const out: DirectorySnapshot['users'] = [];
  for await (const u of items(http, '/users?$select=id,displayName,userPrincipalName,mail&$top=999', signal)) {
    const mail = str(u.mail);
    out.push({
      id: u.id as string,
      displayName: str(u.displayName) ?? '',
      userPrincipalName: str(u.userPrincipalName) ?? '',
      ...(mail ? { mail } : {}),
    });
  }
  return out;
}

/**
 * Reads at most this many teams' channels or users' chats at once: one request per team and per user
 * (Graph has no tenant-wide chat list for apps), so a 10,000-user tenant read one at a time would
 * spend 1,000 s at 100 ms per request; in parallel the shared rate limit is what paces it.
 */
export const DIRECTORY_READS_AT_ONCE = 16;

/** Runs `work` for every item, at most `limit` at a time; the first failure stops the rest. */
async function forEachAtOnce<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export async function readDirectoryTeams(
  http: GraphHttp,
  teamIds: ReadonlyArray<{ id: string; displayName?: string | undefined }>,
  signal?: AbortSignal,
): Promise<DirectorySnapshot['teams']> {
  const byTeam = new Map<string, DirectorySnapshot['teams'][number]>();
  await forEachAtOnce(teamIds, DIRECTORY_READS_AT_ONCE, async (team) => {
    const channels: DirectorySnapshot['teams'][number]['channels'] = [];
    for await (const c of items(http, `/teams/${encodeURIComponent(team.id)}/channels?$select=id,displayName,membershipType`, signal)) {
      channels.push({ id: c.id as string, displayName: str(c.displayName) ?? '', membershipType: str(c.membershipType) ?? 'standard' });
    }
    byTeam.set(team.id, { id: team.id, displayName: team.displayName ?? '', channels });
  });
  // In the order asked for, whatever order the reads finished in.
  return teamIds.flatMap((t) => byTeam.get(t.id) ?? []);
}

/** Every chat of the given users, once (a chat with five members is listed under each of them). */
export async function readDirectoryChats(
  http: GraphHttp,
  userIds: readonly string[],
  signal?: AbortSignal,
): Promise<DirectorySnapshot['chats']> {
  const seen = new Map<string, DirectorySnapshot['chats'][number]>();
  await forEachAtOnce(userIds, DIRECTORY_READS_AT_ONCE, async (userId) => {
    try {
      for await (const c of items(http, `/users/${encodeURIComponent(userId)}/chats?$expand=members&$top=50`, signal)) addChat(seen, c);
    } catch (err) {
      // A user without Teams (no mailbox, no licence) has no chats to name: the others still count.
      if (err instanceof GraphError && (err.status === 403 || err.status === 404)) return;
      throw err;
    }
  });
  return [...seen.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function addChat(seen: Map<string, DirectorySnapshot['chats'][number]>, c: Json): void {
  if (seen.has(c.id as string)) return;
  const members = (Array.isArray(c.members) ? (c.members as unknown[]) : []).flatMap((m) => {
    if (typeof m !== 'object' || m === null) return [];
    const member = m as Json;
    const userId = str(member.userId);
    const displayName = str(member.displayName);
    const email = str(member.email);
    return [{ ...(userId ? { userId } : {}), ...(displayName ? { displayName } : {}), ...(email ? { email } : {}) }];
  });
  const topic = str(c.topic);
  seen.set(c.id as string, { id: c.id as string, chatType: str(c.chatType) ?? 'unknown', ...(topic ? { topic } : {}), members });
}
