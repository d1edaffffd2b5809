// The directory reads behind a directory snapshot (docs/rsmf.md): a team's channels and a user's chats
// with their members (`$expand=members`), shaped as Graph serves them, one page each (the seeded tenants
// are small; paging is exercised by the export routes).
import type { ServerResponse } from 'node:http';
import { graphIdHeaders, sendGraphError, sendJson, type RequestIds } from './http-util';
import type { Tenant } from './tenant';

const CHANNELS = /^\/v1\.0\/teams\/([^/()]+)\/channels$/i;
const USER_CHATS = /^\/v1\.0\/users\/([^/()]+)\/chats$/i;

const CHAT_TYPE = { oneOnOne: 'oneOnOne', group: 'group', meeting: 'meeting' } as const;

/** Answers the request and returns true when `path` is one of these routes. */
export function handleDirectoryRoute(res: ServerResponse, path: string, ids: RequestIds, tenant: Tenant, origin: string): boolean {
  const channels = CHANNELS.exec(path);
  if (channels) {
    const team = tenant.team(decodeURIComponent(channels[1] as string));
    if (!team) sendGraphError(res, ids, 404, 'NotFound', `No team found with Group Id ${channels[1] as string}`);
    else
      sendJson(
        res,
        200,
        {
          '@odata.context': `${origin}/v1.0/$metadata#teams('${team.id}')/channels`,
          value: team.channels.map((c) => ({ id: c.id, displayName: c.displayName, membershipType: c.membershipType })),
        },
        graphIdHeaders(ids),
      );
    return true;
  }
  const chats = USER_CHATS.exec(path);
  if (chats) {
    const user = tenant.user(decodeURIComponent(chats[1] as string));
    if (!user) sendGraphError(res, ids, 404, 'Request_ResourceNotFound', `Resource '${chats[1] as string}' does not exist.`);
    else {
      const value = tenant.chats
        .filter((c) => c.memberIds.includes(user.id))
        .map((c) => ({
          id: c.id,
          topic: c.topic,
          chatType: CHAT_TYPE[c.kind],
          members: c.memberIds.map((id) => {
            const m = tenant.user(id);
            return {
              '@odata.type': '#microsoft.graph.aadUserConversationMember',
              id: `${c.id}|${id}`,
              userId: id,
              displayName: m?.displayName ?? null,
              email: m?.mail ?? null,
              roles: ['owner'],
            };
          }),
        }));
      sendJson(res, 200, { '@odata.context': `${origin}/v1.0/$metadata#users('${user.id}')/chats(members())`, value }, graphIdHeaders(ids));
    }
    return true;
  }
  return false;
}
