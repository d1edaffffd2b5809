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

export async function readDirectoryTeams(
  http: GraphHttp,
  teamIds: ReadonlyArray<{ id: string; displayName?: string | undefined }>,
  signal?: AbortSignal,
): Promise<DirectorySnapshot['teams']> {
  const out: DirectorySnapshot['teams'] = [];
  for (const team of teamIds) {
    const channels: DirectorySnapshot['teams'][number]['channels'] = [];
    for await (const c of items(http, `/teams/${encodeURIComponent(team.id)}/channels?$select=id,displayName,membershipType`, signal)) {
      channels.push({ id: c.id as string, displayName: str(c.displayName) ?? '', membershipType: str(c.membershipType) ?? 'standard' });
    }
    out.push({ id: team.id, displayName: team.displayName ?? '', channels });
  }
  return out;
}

/** Every chat of the given users, once (a chat with five members is listed under each of them). */
export async function readDirectoryChats(
  http: GraphHttp,
  userIds: readonly string[],
  signal?: AbortSignal,
): Promise<DirectorySnapshot['chats']> {
  const seen = new Map<string, DirectorySnapshot['chats'][number]>();
  for (const userId of userIds) {
    try {
      for await (const c of items(http, `/users/${encodeURIComponent(userId)}/chats?$expand=members&$top=50`, signal)) addChat(seen, c);
    } catch (err) {
      // A user without Teams (no mailbox, no licence) has no chats to name: the others still count.
      if (err instanceof GraphError && (err.status === 403 || err.status === 404)) continue;
      throw err;
    }
  }
  return [...seen.values()];
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
