// Checks of operator input that would otherwise lose or duplicate data without any error:
// a `--now` in the future (watermarks only move forward, so the skipped range would never be read)
// and entity ids in another spelling than the canonical one the archive is keyed by (a UPN or an
// upper-case GUID would archive everything again under another folder, checkpoint and lease).
import { GraphError } from '../graph/graph-errors';
import type { GraphHttp } from '../graph/graph-http';
import { getUser } from '../graph/directory';
import { canonicalObjectId, isObjectId } from '../object-id';
import { iso, MINUTE } from '../time';
import { UsageError } from './cli-errors';

/** How far `--now` may run ahead of this machine's clock (clock skew between machines, not intent). */
export const NOW_TOLERANCE_MS = 5 * MINUTE;

/** Refuses an instant later than the real clock plus NOW_TOLERANCE_MS; `why` says what it would do. */
export function checkNotFuture(flag: string, ms: number, nowMs: number, why: string): void {
  if (ms <= nowMs + NOW_TOLERANCE_MS) return;
  throw new UsageError(`${flag} ${iso(ms)} is later than the current time ${iso(nowMs)}: ${why}; give an instant no later than now`);
}

/** Why `run --now` must not be in the future. */
export const FUTURE_RUN =
  'a run in the future would move every watermark past messages that do not exist yet, and they would never be exported';
/** Why `backfill --to` must not be in the future (the HTTP backfill refuses it too). */
export const FUTURE_BACKFILL = 'a backfill can only export what Graph holds already';

/** A user named on the command line: an object id, or a user principal name to resolve. */
function isUpn(value: string): boolean {
  return /^[^@\s]+@[^@\s]+$/.test(value);
}

/** Syntax of --user and --team values, before any client is built: exit 2 naming the first bad one. */
export function checkEntityArgs(users: readonly string[], teams: readonly string[]): void {
  for (const u of users) {
    if (!isObjectId(u) && !isUpn(u))
      throw new UsageError(`--user "${u}" is neither a user object id (a GUID) nor a user principal name (name@domain)`);
  }
  for (const t of teams) {
    if (!isObjectId(t)) throw new UsageError(`--team "${t}" is not a team object id (a GUID)`);
  }
}

/**
 * The canonical lower-case object ids of the named users and teams, without repeats: object ids are
 * lower-cased, user principal names resolved through Graph. A name Graph does not know is a usage
 * error naming it; any other Graph failure propagates.
 */
export async function canonicalEntityIds(
  http: GraphHttp,
  users: readonly string[],
  teams: readonly string[],
  signal?: AbortSignal,
): Promise<{ users: string[]; teams: string[] }> {
  checkEntityArgs(users, teams);
  const userIds: string[] = [];
  for (const u of users) {
    if (isObjectId(u)) {
      userIds.push(canonicalObjectId(u));
      continue;
    }
    try {
      userIds.push(canonicalObjectId((await getUser(http, u, signal)).id));
    } catch (err) {
      if (err instanceof GraphError && err.status === 404)
        throw new UsageError(`--user ${u}: no such user in the tenant (Graph answered 404)`);
      throw err;
    }
  }
  return { users: [...new Set(userIds)], teams: [...new Set(teams.map(canonicalObjectId))] };
}
