// Field schemas shared by the HTTP request bodies (backfills, productions): one rule for an instant and
// one for a list of object ids, so every endpoint accepts and names the same things the same way.
import { z } from 'zod';
import { canonicalObjectId, isObjectId } from '../object-id';
import { parseInstant } from '../time';

/** A full instant with a zone: a date alone or a local time would be ambiguous for an audit or legal range. */
const ZONED_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

/** An ISO-8601 instant with a zone, as epoch milliseconds. */
export const zonedInstant = z
  .string({ error: 'must be a string holding an ISO-8601 instant with a zone, e.g. 2024-01-01T00:00:00Z' })
  .refine(
    (s) => ZONED_INSTANT.test(s.trim()) && parseInstant(s) !== undefined,
    'must be an ISO-8601 instant with a zone, e.g. 2024-01-01T00:00:00Z',
  )
  .transform((s) => parseInstant(s) as number);

/** At most `max` Entra object ids (GUIDs) of users or teams, canonical lower case, each once. */
export const objectIdList = (what: string, max: number, per: string) =>
  z
    .array(z.string({ error: `each ${what} id must be a string` }).refine(isObjectId, `must be a ${what} object id (a GUID)`), {
      error: `must be an array of ${what} ids`,
    })
    .max(max, `at most ${max} ${what} ids per ${per}`)
    .transform((list) => [...new Set(list.map(canonicalObjectId))]);
