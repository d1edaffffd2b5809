// Validates the body of `POST /api/backfills`: ISO instants with a zone, from < to, to not in the
// future, a bounded span and bounded id lists of GUIDs; every problem is reported with its field.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Window } from '../model/window';
import { DAY, type Clock } from '../time';
import { fieldProblems, ValidationError } from './app-errors';
import { objectIdList, zonedInstant } from './request-fields';

export const BACKFILL_LIMITS = { maxSpanMs: 3660 * DAY, maxIds: 1000 } as const;

const instant = zonedInstant;
const ids = (what: string) => objectIdList(what, BACKFILL_LIMITS.maxIds, 'backfill');

const bodySchema = z
  .object(
    {
      from: instant,
      to: instant,
      users: ids('user').optional(),
      teams: ids('team').optional(),
    },
    { error: 'the body must be a JSON object { from, to, users?, teams? }' },
  )
  .strict();

export interface BackfillRequest {
  window: Window;
  users: string[];
  teams: string[];
}

/** Parses and checks a backfill body; throws ValidationError naming every invalid field. */
export function parseBackfillRequest(body: unknown, clock: Clock): BackfillRequest {
  const parsed = bodySchema.safeParse(body);
  if (!parsed.success) throw new ValidationError(fieldProblems(parsed.error.issues));
  const { from, to, users = [], teams = [] } = parsed.data;
  const problems = [];
  const now = clock.now();
  if (from >= to) problems.push({ field: 'from', message: 'must be before to' });
  if (to > now) problems.push({ field: 'to', message: 'must not be in the future' });
  if (to - from > BACKFILL_LIMITS.maxSpanMs)
    problems.push({ field: 'to', message: `the range must span at most ${Math.round(BACKFILL_LIMITS.maxSpanMs / DAY)} days` });
  if (problems.length > 0) throw new ValidationError(problems);
  return { window: { fromMs: from, toMs: to }, users, teams };
}

/**
 * The request as a retry with the same Idempotency-Key must repeat it: the window, and the ids in any
 * order (duplicates dropped). Another body under the same key is refused (HTTP 422).
 */
export function backfillFingerprint(req: BackfillRequest): string {
  const sorted = (ids: readonly string[]) => [...new Set(ids)].sort();
  const canonical = { from: req.window.fromMs, to: req.window.toMs, users: sorted(req.users), teams: sorted(req.teams) };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}
