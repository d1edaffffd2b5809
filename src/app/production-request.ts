// Validates the body of `POST /api/productions` (docs/rsmf.md): the instants and id lists of a backfill
// (src/app/backfill-request.ts) plus conversation ids and allowUnsettled; every problem names its field.
import { z } from 'zod';
import { canonicalObjectId, isObjectId } from '../object-id';
import type { ProductionRequest } from '../rsmf/production';
import { parseInstant } from '../time';
import { fieldProblems, ValidationError } from './app-errors';

export const PRODUCTION_LIMITS = { maxIds: 1000 } as const;

/** A full instant with a zone, as for backfills: a date alone would be ambiguous for a legal range. */
const ZONED_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

const instant = z
  .string({ error: 'must be a string holding an ISO-8601 instant with a zone, e.g. 2024-01-01T00:00:00Z' })
  .refine(
    (s) => ZONED_INSTANT.test(s.trim()) && parseInstant(s) !== undefined,
    'must be an ISO-8601 instant with a zone, e.g. 2024-01-01T00:00:00Z',
  )
  .transform((s) => parseInstant(s) as number);

const objectIds = (what: string) =>
  z
    .array(z.string({ error: `each ${what} id must be a string` }).refine(isObjectId, `must be a ${what} object id (a GUID)`), {
      error: `must be an array of ${what} ids`,
    })
    .max(PRODUCTION_LIMITS.maxIds, `at most ${PRODUCTION_LIMITS.maxIds} ${what} ids per production`)
    .transform((list) => [...new Set(list.map(canonicalObjectId))]);

/** Chat and channel ids (`19:…@thread.v2`) are Graph's strings, kept as given: printable, no spaces. */
const conversationIds = z
  .array(
    z
      .string({ error: 'each conversation id must be a string' })
      .regex(/^[\x21-\x7e]{1,256}$/, 'must be a chat or channel id (1-256 printable characters, no spaces)'),
    { error: 'must be an array of chat or channel ids' },
  )
  .max(PRODUCTION_LIMITS.maxIds, `at most ${PRODUCTION_LIMITS.maxIds} conversation ids per production`)
  .transform((list) => [...new Set(list)]);

const bodySchema = z
  .object(
    {
      from: instant,
      to: instant,
      users: objectIds('user').optional(),
      teams: objectIds('team').optional(),
      conversations: conversationIds.optional(),
      allowUnsettled: z.boolean({ error: 'must be true or false' }).optional(),
    },
    { error: 'the body must be a JSON object { from, to, users?, teams?, conversations?, allowUnsettled? }' },
  )
  .strict();

/** Parses a production body; throws ValidationError naming every invalid field (the archive checks follow). */
export function parseProductionRequest(body: unknown): ProductionRequest {
  const parsed = bodySchema.safeParse(body);
  if (!parsed.success) throw new ValidationError(fieldProblems(parsed.error.issues));
  const { from, to, users = [], teams = [], conversations = [], allowUnsettled = false } = parsed.data;
  if (from >= to) throw new ValidationError([{ field: 'from', message: 'must be before to' }]);
  return { fromMs: from, toMs: to, users, teams, conversations, allowUnsettled };
}
