// Plans a run: enumerates the tenant's users (live and deleted within Graph's 30 days) and teams (every
// page) and applies the include/exclude settings, giving one entity (and so one job) per user and per team.
import { listDeletedTeams, listDeletedUsers, listTeams, listUsers, type DirectoryTeam, type DirectoryUser } from '../graph/directory';
import type { GraphHttp } from '../graph/graph-http';
import { GraphError } from '../graph/graph-errors';
import type { Logger } from '../log';
import type { Settings } from '../settings';
import type { Entity } from '../model/entity';

export type EntitySelection = Settings['entities'];

export async function planEntities(http: GraphHttp, sel: EntitySelection, signal?: AbortSignal, log?: Logger): Promise<Entity[]> {
  const entities: Entity[] = [];
  // Users are listed for their chats, and for their Copilot interactions and meetings even without chats.
  if (sel.users === 'all' || sel.copilot || sel.meetings) {
    for await (const u of tenantMembers(http, signal, log)) {
      if (selected(userNames(u), sel.includeUsers, sel.excludeUsers)) {
        // A deleted user stays kind 'user': same folder, same checkpoint, same lease as before deletion.
        entities.push({
          kind: 'user',
          id: u.id,
          ...((u.userPrincipalName ?? u.displayName) ? { displayName: u.userPrincipalName ?? u.displayName } : {}),
          ...(u.userType === 'Guest' ? { guest: true } : {}),
        });
      }
    }
  }
  if (sel.teams === 'all') {
    const addTeams = async (kind: 'team' | 'deletedTeam', list: AsyncIterable<DirectoryTeam>) => {
      for await (const t of list) {
        const names = [t.id, t.displayName].filter((x): x is string => !!x).map((x) => x.toLowerCase());
        if (selected(names, sel.includeTeams, sel.excludeTeams))
          entities.push({ kind, id: t.id, ...(t.displayName ? { displayName: t.displayName } : {}) });
      }
    };
    await addTeams('team', listTeams(http, signal));
    if (sel.deletedTeams) {
      try {
        await addTeams('deletedTeam', listDeletedTeams(http, signal));
      } catch (err) {
        // Deleted teams are a bonus (Graph serves them for about 30 days, and some clouds or tenants
        // refuse or lack the listing): its failure must not stop the export of everything else.
        if (!(err instanceof GraphError)) throw err;
        log?.warn('deleted teams not listed; exporting live teams only', {
          status: err.status,
          code: err.code,
          requestId: err.requestId,
          error: err.message,
        });
      }
    }
  }
  return withDerivedKinds(entities, sel, sel.users === 'all');
}

/**
 * The entities other APIs export for the same users and teams, each checkpointed, leased and archived
 * apart: retained versions (retained/), a user's Copilot interactions (copilot/) and the transcripts and
 * recordings of meetings a user organised (meetings/). Guests have no mailbox here, so none of them.
 */
function withDerivedKinds(entities: Entity[], sel: Pick<EntitySelection, 'retained' | 'copilot' | 'meetings'>, userChats = true): Entity[] {
  // EXPORT_USERS=none: the users were listed for their Copilot interactions or meetings only.
  const out = userChats ? [...entities] : entities.filter((e) => e.kind !== 'user');
  const members = entities.filter((e) => e.kind === 'user' && !e.guest);
  if (sel.retained) {
    for (const e of entities) {
      if (e.kind === 'user' && !e.guest && userChats) out.push({ ...e, kind: 'userRetained' });
      if (e.kind === 'team') out.push({ ...e, kind: 'teamRetained' });
    }
  }
  if (sel.copilot) out.push(...members.map((e): Entity => ({ ...e, kind: 'copilot' })));
  if (sel.meetings) out.push(...members.map((e): Entity => ({ ...e, kind: 'meetings' })));
  return out;
}

/**
 * Every user Graph still serves: live users, then users deleted in the last 30 days (each id once).
 * The deleted-users listing is a bonus like the deleted teams': if it is refused, live users are
 * still exported and a warning says what is missing.
 */
async function* tenantMembers(http: GraphHttp, signal?: AbortSignal, log?: Logger): AsyncGenerator<DirectoryUser> {
  const seen = new Set<string>();
  for await (const u of listUsers(http, signal)) {
    seen.add(u.id);
    yield u;
  }
  try {
    for await (const u of listDeletedUsers(http, signal)) {
      if (seen.has(u.id)) continue;
      seen.add(u.id);
      yield u;
    }
  } catch (err) {
    if (!(err instanceof GraphError)) throw err;
    log?.warn('deleted users not listed; exporting live users only', {
      status: err.status,
      code: err.code,
      requestId: err.requestId,
      error: err.message,
    });
  }
}

const userNames = (u: DirectoryUser) => [u.id, u.userPrincipalName].filter((x): x is string => !!x).map((x) => x.toLowerCase());

/** Include lists (ids or UPNs/names, lowercase) narrow the set when non-empty; exclude lists always win. */
function selected(names: string[], include: string[], exclude: string[]): boolean {
  if (names.some((n) => exclude.includes(n))) return false;
  return include.length === 0 || names.some((n) => include.includes(n));
}

/**
 * Sender mode, known before any job runs: the tenant members no own-messages query of this run reaches,
 * whose messages every user job's "others" query therefore asks for by id (docs/design.md §15): guests
 * (no mailbox of their own here), and every member (live, or deleted within 30 days) that the run has
 * no user job for (excluded, outside EXPORT_INCLUDE_USERS, or not named by a backfill). Members whose
 * own job is skipped or fails are only known afterwards; the run's follow-up covers them.
 */
export async function uncoveredMemberIds(
  http: GraphHttp,
  entities: readonly Entity[],
  signal?: AbortSignal,
  log?: Logger,
): Promise<string[]> {
  const own = new Set(entities.filter((e) => e.kind === 'user' && !e.guest).map((e) => e.id.toLowerCase()));
  const out = new Set(entities.filter((e) => e.kind === 'user' && e.guest).map((e) => e.id));
  for await (const u of tenantMembers(http, signal, log)) if (!own.has(u.id.toLowerCase())) out.add(u.id);
  return [...out];
}

/** Entities named explicitly (backfills): ids are taken as given, no directory call needed. */
export function explicitEntities(
  users: string[],
  teams: string[],
  sel: Pick<EntitySelection, 'retained' | 'copilot' | 'meetings'> = { retained: false, copilot: false, meetings: false },
): Entity[] {
  return withDerivedKinds(
    [...users.map((id) => ({ kind: 'user' as const, id })), ...teams.map((id) => ({ kind: 'team' as const, id }))],
    sel,
  );
}
