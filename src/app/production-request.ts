// Validates the body of `POST /api/productions` (docs/rsmf.md): the instants and id lists of a backfill
// (src/app/backfill-request.ts) plus conversation ids and allowUnsettled; every problem names its field.
import { z } from 'zod';
import type { ProductionRequest } from '../rsmf/production';
import { fieldProblems, ValidationError } from './app-errors';
import { objectIdList, zonedInstant } from './request-fields';

export const PRODUCTION_LIMITS = { maxIds: 1000 } as const;

const instant = zonedInstant;
const objectIds = (what: string) => objectIdList(what, PRODUCTION_LIMITS.maxIds, 'production');

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
