// Recording reads over HTTP, and reading the trail back (GET /api/audit): docs/security.md. A handler
// records the read after it has checked the request and found the content, and before it sends a byte
// of it; when the record cannot be written the read is refused with 503 AuditUnavailable.
import { z } from 'zod';
import { auditRecord, AuditWriteError, readAuditTrail, type AuditEvent, type AuditRecord } from '../archive/audit-trail';
import type { Logger } from '../log';
import { iso } from '../time';
import type { AppContext } from './app-context';
import { fieldProblems, RefusedError, ValidationError } from './app-errors';
import type { Caller } from './http-auth';
import { zonedInstant } from './request-fields';

/** Writes one record for `caller`'s read (request id: the Functions invocation id); 503 when it cannot. */
export async function recordRead(ctx: AppContext, caller: Caller, requestId: string, event: AuditEvent, log: Logger): Promise<void> {
  const record = auditRecord({ principal: caller.principal, via: 'http', requestId, client: caller.client }, event, ctx.clock.now());
  try {
    await ctx.audit.record(record, log);
  } catch (err) {
    if (err instanceof AuditWriteError)
      throw new RefusedError(
        'AuditUnavailable',
        'the read could not be recorded in the audit trail, so it was refused; try again later (the log has the details)',
      );
    throw err;
  }
}

export const AUDIT_QUERY_LIMITS = { default: 1000, max: 5000, maxDays: 93 } as const;

const DAY_MS = 86_400_000;

const auditQuery = z
  .object({
    from: zonedInstant.optional(),
    to: zonedInstant.optional(),
    principal: z.string().trim().min(1, 'must not be empty').max(256, 'at most 256 characters').optional(),
    entity: z.string().trim().min(1, 'must not be empty').max(1024, 'at most 1024 characters').optional(),
    limit: z
      .string()
      .regex(/^\d+$/, `must be a whole number from 1 to ${AUDIT_QUERY_LIMITS.max}`)
      .transform(Number)
      .refine((n) => n >= 1 && n <= AUDIT_QUERY_LIMITS.max, `must be a whole number from 1 to ${AUDIT_QUERY_LIMITS.max}`)
      .optional(),
  })
  .strict();

export interface AuditQueryResult {
  from: string;
  to: string;
  records: AuditRecord[];
  /** More records match: narrow the range or the filters. */
  truncated: boolean;
  /** Blobs of the trail that are not records (name and reason): should never happen; reported, not hidden. */
  unreadable: string[];
}

/**
 * GET /api/audit?from=&to=&principal=&entity=&limit=: the records in [from, to) (default: the last
 * 24 hours), oldest first, at most `limit`. The read of the trail is itself recorded (`audit.read`).
 */
export async function queryAudit(
  ctx: AppContext,
  caller: Caller,
  requestId: string,
  query: Record<string, string>,
  log: Logger,
  signal?: AbortSignal,
): Promise<AuditQueryResult> {
  const parsed = auditQuery.safeParse(query);
  if (!parsed.success) throw new ValidationError(fieldProblems(parsed.error.issues));
  const q = parsed.data;
  const toMs = q.to ?? ctx.clock.now();
  const fromMs = q.from ?? toMs - DAY_MS;
  if (fromMs >= toMs) throw new ValidationError([{ field: 'from', message: 'must be before to' }]);
  if (toMs - fromMs > AUDIT_QUERY_LIMITS.maxDays * DAY_MS)
    throw new ValidationError([{ field: 'to', message: `at most ${AUDIT_QUERY_LIMITS.maxDays} days after from` }]);
  const filter = { fromMs, toMs, ...(q.principal ? { principal: q.principal } : {}), ...(q.entity ? { entity: q.entity } : {}) };
  const filters = [q.principal ? `principal=${q.principal}` : '', q.entity ? `entity=${q.entity}` : ''].filter(Boolean).join(' ');
  await recordRead(
    ctx,
    caller,
    requestId,
    { action: 'audit.read', from: iso(fromMs), to: iso(toMs), ...(filters ? { query: filters } : {}) },
    log,
  );
  const limit = q.limit ?? AUDIT_QUERY_LIMITS.default;
  const records: AuditRecord[] = [];
  const unreadable: string[] = [];
  let truncated = false;
  for await (const item of readAuditTrail(ctx.deps.container, filter, signal)) {
    if ('unreadable' in item) {
      unreadable.push(item.unreadable);
      continue;
    }
    if (records.length === limit) {
      truncated = true;
      break;
    }
    records.push(item.record);
  }
  return { from: iso(fromMs), to: iso(toMs), records, truncated, unreadable };
}
