// Enumerates the tenant's users and teams: the entities whose chats and channels get exported.

import { z } from 'zod';
import { MalformedResponseError } from './graph-errors';
import type { GraphHttp } from './graph-http';
import { pages } from './paging';

export interface DirectoryUser {
  id: string;
  displayName?: string | undefined;
  userPrincipalName?: string | undefined;
  accountEnabled?: boolean | undefined;
  userType?: string | undefined;
}

export interface DirectoryTeam {
  id: string;
  displayName?: string | undefined;
}

// All users, not only enabled or licensed ones: a disabled or unlicensed user may still hold chat
// history (docs/graph.md §6); "no data" comes back as a 404 and the entity is skipped.
export const USERS_PATH = '/users?$select=id,displayName,userPrincipalName,accountEnabled,userType&$top=999';
export const TEAMS_PATH = '/teams?$select=id,displayName&$top=100';

/** Graph sends null for unset properties; the directory types use absent instead. */
const optional = <T extends z.ZodType>(schema: T) => schema.nullish().transform((v) => v ?? undefined);

const userSchema = z.looseObject({
  id: z.string().min(1),
  displayName: optional(z.string()),
  userPrincipalName: optional(z.string()),
  accountEnabled: optional(z.boolean()),
  userType: optional(z.string()),
});

const teamSchema = z.looseObject({
  id: z.string().min(1),
  displayName: optional(z.string()),
});

export function listUsers(http: GraphHttp, signal?: AbortSignal): AsyncGenerator<DirectoryUser> {
  return listValidated(http, USERS_PATH, userSchema, 'user', signal);
}

export function listTeams(http: GraphHttp, signal?: AbortSignal): AsyncGenerator<DirectoryTeam> {
  return listValidated(http, TEAMS_PATH, teamSchema, 'team', signal);
}

/**
 * One user by object id or user principal name (`GET /users/{id | userPrincipalName}`), e.g. to turn an
 * operator's UPN into the object id the archive is keyed by. A user Graph does not know rejects with
 * the GraphError of its 404.
 */
export async function getUser(http: GraphHttp, idOrUpn: string, signal?: AbortSignal): Promise<DirectoryUser> {
  const path = `/users/${encodeURIComponent(idOrUpn)}?$select=id,displayName,userPrincipalName`;
  const res = await http.getJson(path, signal ? { signal } : {});
  const parsed = userSchema.safeParse(res.body);
  if (!parsed.success) {
    throw new MalformedResponseError(`the user ${idOrUpn} returned by Graph is invalid: ${parsed.error.issues[0]?.message ?? ''}`.trim(), {
      path: '/users/{id}',
      ...(res.requestId === undefined ? {} : { requestId: res.requestId }),
    });
  }
  return parsed.data;
}

/**
 * Users deleted in the last 30 days (docs/graph.md §6): Graph keeps serving their chats for that
 * long, so they are exported like live users, into their own folder and from their own checkpoint.
 */
export const DELETED_USERS_PATH = '/directory/deletedItems/microsoft.graph.user?$select=id,displayName,userPrincipalName,userType&$top=999';

export function listDeletedUsers(http: GraphHttp, signal?: AbortSignal): AsyncGenerator<DirectoryUser> {
  return listValidated(http, DELETED_USERS_PATH, userSchema, 'deleted user', signal);
}

/** Deleted teams Graph still serves (docs/graph.md §6: about 30 days): their channels stay exportable. */
export const DELETED_TEAMS_PATH = '/teamwork/deletedTeams';

export function listDeletedTeams(http: GraphHttp, signal?: AbortSignal): AsyncGenerator<DirectoryTeam> {
  return listValidated(http, DELETED_TEAMS_PATH, teamSchema, 'deleted team', signal);
}

/**
 * An item without an id is a broken response, not an entity to skip: silently dropping it would
 * silently drop that entity's export, so it fails the listing instead.
 */
async function* listValidated<T>(
  http: GraphHttp,
  path: string,
  schema: z.ZodType<T>,
  what: string,
  signal?: AbortSignal,
): AsyncGenerator<T> {
  for await (const page of pages(http, path, signal ? { signal } : {})) {
    for (const [i, item] of page.items.entries()) {
      const parsed = schema.safeParse(item);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const field = issue && issue.path.length > 0 ? issue.path.join('.') : 'item';
        throw new MalformedResponseError(
          `${what} ${i} on page ${page.index} of ${path.split('?')[0]} is invalid: ${field} ${issue?.message ?? ''}`.trim(),
          {
            path: path.split('?')[0] ?? path,
            ...(page.requestId === undefined ? {} : { requestId: page.requestId }),
          },
        );
      }
      yield parsed.data;
    }
  }
}
