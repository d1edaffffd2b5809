// Plans a run: enumerates the tenant's users and teams (every page) and applies the include/exclude
// settings, giving one entity (and so one job) per user and per team.
import { listTeams, listUsers } from '../graph/directory';
import type { GraphHttp } from '../graph/graph-http';
import type { Settings } from '../settings';
import type { Entity } from './types';

export type EntitySelection = Settings['entities'];

export async function planEntities(http: GraphHttp, sel: EntitySelection, signal?: AbortSignal): Promise<Entity[]> {
  const entities: Entity[] = [];
  if (sel.users === 'all') {
    for await (const u of listUsers(http, signal)) {
      const names = [u.id, u.userPrincipalName].filter((x): x is string => !!x).map((x) => x.toLowerCase());
      if (selected(names, sel.includeUsers, sel.excludeUsers)) {
        entities.push({ kind: 'user', id: u.id, ...(u.userPrincipalName ?? u.displayName ? { displayName: u.userPrincipalName ?? u.displayName } : {}) });
      }
    }
  }
  if (sel.teams === 'all') {
    for await (const t of listTeams(http, signal)) {
      const names = [t.id, t.displayName].filter((x): x is string => !!x).map((x) => x.toLowerCase());
      if (selected(names, sel.includeTeams, sel.excludeTeams)) {
        entities.push({ kind: 'team', id: t.id, ...(t.displayName ? { displayName: t.displayName } : {}) });
      }
    }
  }
  return entities;
}

/** Include lists (ids or UPNs/names, lowercase) narrow the set when non-empty; exclude lists always win. */
function selected(names: string[], include: string[], exclude: string[]): boolean {
  if (names.some((n) => exclude.includes(n))) return false;
  return include.length === 0 || names.some((n) => include.includes(n));
}

/** Entities named explicitly (backfills): ids are taken as given, no directory call needed. */
export function explicitEntities(users: string[], teams: string[]): Entity[] {
  return [...users.map((id) => ({ kind: 'user' as const, id })), ...teams.map((id) => ({ kind: 'team' as const, id }))];
}
