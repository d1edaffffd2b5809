// Validates the body of `POST /api/backfills`: ISO instants with a zone, from < to, to not in the
// future, a bounded span and bounded id lists of GUIDs; every problem is reported with its field.
import { z } from 'zod';
import type { Window } from '../model/window';
import { canonicalObjectId, isObjectId } from '../object-id';
import { DAY, parseInstant, type Clock } from '../time';
import { fieldProblems, ValidationError } from './app-errors';

export const BACKFILL_LIMITS = { maxSpanMs: 3660 * DAY, maxIds: 1000 } as const;

/** A full instant with a zone: a date alone or a local time would be ambiguous for an audit range. */
const ZONED_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

const instant = z
  .string({ error: 'must be a string holding an ISO-8601 instant with a zone, e.g. 2024-01-01T00:00:00Z' })
  .refine(
    (s) => ZONED_INSTANT.test(s.trim()) && parseInstant(s) !== undefined,
    'must be an ISO-8601 instant with a zone, e.g. 2024-01-01T00:00:00Z',
  )
  .transform((s) => parseInstant(s) as number);

const ids = (what: string) =>
  z
    .array(z.string({ error: `each ${what} id must be a string` }).refine(isObjectId, `must be a ${what} object id (a GUID)`), {
      error: `must be an array of ${what} ids`,
    })
    .max(BACKFILL_LIMITS.maxIds, `at most ${BACKFILL_LIMITS.maxIds} ${what} ids per backfill`)
    .transform((list) => [...new Set(list.map(canonicalObjectId))]);

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
