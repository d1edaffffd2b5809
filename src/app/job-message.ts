// The jobs-queue message: one entity job of one run, versioned and zod-validated, base64-encoded JSON
// on the wire (the encoding the Functions queue trigger expects by default).
import { z } from 'zod';
import { isValidRunId } from '../archive/blob-layout';
import type { ResumePoint } from '../export/job-budget';
import type { JobMode } from '../model/job';
import type { Window } from '../model/window';
import { ENTITY_KINDS, type Entity } from '../model/entity';
import { iso, parseInstant } from '../time';

export const JOB_MESSAGE_VERSION = 1;

const instant = z.string().refine((s) => parseInstant(s) !== undefined && s.includes('T'), 'must be an ISO-8601 instant with a zone');

const modeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('daily'), now: instant }),
  z.object({ kind: z.literal('backfill'), from: instant, to: instant }),
]);

export const jobMessageSchema = z
  .object({
    v: z.literal(JOB_MESSAGE_VERSION),
    runId: z.string().refine(isValidRunId, 'must be a run id (letters, digits, - and _)'),
    entity: z.object({
      kind: z.enum(ENTITY_KINDS),
      id: z.string().min(1).max(256),
      displayName: z.string().max(500).optional(),
    }),
    mode: modeSchema,
    /** 1 for the first delivery; each backoff re-enqueue sends attempt + 1. */
    attempt: z.number().int().min(1).max(1000),
    /**
     * A continuation (docs/functions.md §3): where a backfill resumes. `chunkMs` came from an earlier
     * version (chunks that shrank); it is still accepted from messages already queued, and ignored.
     */
    resume: z
      .object({
        from: instant.optional(),
        chunkMs: z.number().int().min(1000).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type JobMessageBody = z.infer<typeof jobMessageSchema>;

/**
 * The planning message of a run (docs/functions.md §3): list the entities and enqueue their jobs.
 * A backfill's named users and teams are kept in the run's request row, not in the message.
 */
export const planMessageSchema = z
  .object({
    v: z.literal(JOB_MESSAGE_VERSION),
    type: z.literal('plan'),
    runId: z.string().refine(isValidRunId, 'must be a run id (letters, digits, - and _)'),
    mode: modeSchema,
    attempt: z.number().int().min(1).max(1000),
  })
  .strict();

export interface PlanMessage {
  type: 'plan';
  runId: string;
  mode: JobMode;
  attempt: number;
}

/**
 * A production to build (docs/rsmf.md): the request is in `productions/{productionId}/status.json`,
 * written before this message is sent, so the message carries only the id.
 */
export const productionMessageSchema = z
  .object({
    v: z.literal(JOB_MESSAGE_VERSION),
    type: z.literal('production'),
    productionId: z.string().refine(isValidRunId, 'must be a production id (letters, digits, - and _)'),
  })
  .strict();

export interface ProductionMessage {
  type: 'production';
  productionId: string;
}

/** Most member ids one follow-up message carries (a queue message holds at most 64 KiB). */
export const MAX_COVER_SENDERS = 1000;

/**
 * Sender mode's follow-up of one user (docs/design.md §15): read the messages of `senderIds` (members
 * whose own job was skipped or failed) from this user's chats over `window`, the windows its job read.
 */
export const coverMessageSchema = z
  .object({
    v: z.literal(JOB_MESSAGE_VERSION),
    type: z.literal('cover'),
    runId: z.string().refine(isValidRunId, 'must be a run id (letters, digits, - and _)'),
    entity: z.object({ kind: z.literal('user'), id: z.string().min(1).max(256) }).strict(),
    window: z.object({ from: instant, to: instant }).strict(),
    senderIds: z.array(z.string().min(1).max(256)).min(1).max(MAX_COVER_SENDERS),
    attempt: z.number().int().min(1).max(1000),
  })
  .strict();

export interface CoverMessage {
  type: 'cover';
  runId: string;
  entity: Entity;
  window: Window;
  senderIds: string[];
  attempt: number;
}

/**
 * A message of the content queue (docs/design.md §17): settle the content of one archived batch. The
 * batch's row in the content backlog holds the rest; the message names it only.
 */
export const contentMessageSchema = z
  .object({
    v: z.literal(JOB_MESSAGE_VERSION),
    type: z.literal('content'),
    batch: z.string().min(1).max(1024),
  })
  .strict();

export interface ContentMessage {
  type: 'content';
  batch: string;
}

export type QueueMessage = JobMessage | PlanMessage | ProductionMessage | CoverMessage | ContentMessage;

export function isContentMessage(msg: QueueMessage): msg is ContentMessage {
  return 'type' in msg && msg.type === 'content';
}

/** Reads a message of the content queue. */
export function decodeContentMessage(item: unknown): ContentMessage {
  const body = contentMessageSchema.safeParse(toObject(item));
  if (!body.success) throw new InvalidJobMessageError(body.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`));
  return { type: 'content', batch: body.data.batch };
}

export function isPlanMessage(msg: QueueMessage): msg is PlanMessage {
  return 'type' in msg && msg.type === 'plan';
}

export function isProductionMessage(msg: QueueMessage): msg is ProductionMessage {
  return 'type' in msg && msg.type === 'production';
}

export function isCoverMessage(msg: QueueMessage): msg is CoverMessage {
  return 'type' in msg && msg.type === 'cover';
}

const modeToWire = (mode: JobMode) =>
  mode.kind === 'daily'
    ? { kind: 'daily' as const, now: iso(mode.nowMs) }
    : { kind: 'backfill' as const, from: iso(mode.window.fromMs), to: iso(mode.window.toMs) };

function modeFromWire(m: z.infer<typeof modeSchema>): JobMode {
  const mode: JobMode =
    m.kind === 'daily'
      ? { kind: 'daily', nowMs: parseInstant(m.now) as number }
      : { kind: 'backfill', window: { fromMs: parseInstant(m.from) as number, toMs: parseInstant(m.to) as number } };
  if (mode.kind === 'backfill' && !(mode.window.fromMs < mode.window.toMs))
    throw new InvalidJobMessageError(['mode: from must be before to']);
  return mode;
}

/** A job message in domain terms. */
export interface JobMessage {
  runId: string;
  entity: Entity;
  mode: JobMode;
  attempt: number;
  /** Set on a continuation: the job used its time budget and goes on from here. */
  resume?: ResumePoint;
}

export function toWire(msg: JobMessage): JobMessageBody {
  const { kind, id, displayName } = msg.entity;
  return {
    v: JOB_MESSAGE_VERSION,
    runId: msg.runId,
    entity: { kind, id, ...(displayName !== undefined ? { displayName: displayName.slice(0, 500) } : {}) },
    mode: modeToWire(msg.mode),
    attempt: msg.attempt,
    ...(msg.resume
      ? {
          resume: {
            ...(msg.resume.fromMs !== undefined ? { from: iso(msg.resume.fromMs) } : {}),
          },
        }
      : {}),
  };
}

/** The queue message text: base64 of the JSON body. */
export function encodeJobMessage(msg: QueueMessage): string {
  const body = isPlanMessage(msg)
    ? { v: JOB_MESSAGE_VERSION, type: 'plan', runId: msg.runId, mode: modeToWire(msg.mode), attempt: msg.attempt }
    : isProductionMessage(msg)
      ? { v: JOB_MESSAGE_VERSION, type: 'production', productionId: msg.productionId }
      : isContentMessage(msg)
        ? { v: JOB_MESSAGE_VERSION, type: 'content', batch: msg.batch }
        : isCoverMessage(msg)
          ? {
              v: JOB_MESSAGE_VERSION,
              type: 'cover',
              runId: msg.runId,
              entity: { kind: msg.entity.kind, id: msg.entity.id },
              window: { from: iso(msg.window.fromMs), to: iso(msg.window.toMs) },
              senderIds: msg.senderIds,
              attempt: msg.attempt,
            }
          : toWire(msg);
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64');
}

/** Reads any message of the jobs queue: a run's planning message, a production or an entity job. */
export function decodeQueueMessage(item: unknown): QueueMessage {
  const obj = toObject(item);
  if (obj !== null && typeof obj === 'object' && (obj as { type?: unknown }).type === 'production') {
    const body = productionMessageSchema.safeParse(obj);
    if (!body.success) throw new InvalidJobMessageError(body.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`));
    return { type: 'production', productionId: body.data.productionId };
  }
  if (obj !== null && typeof obj === 'object' && (obj as { type?: unknown }).type === 'plan') {
    const body = planMessageSchema.safeParse(obj);
    if (!body.success) throw new InvalidJobMessageError(body.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`));
    return { type: 'plan', runId: body.data.runId, mode: modeFromWire(body.data.mode), attempt: body.data.attempt };
  }
  if (obj !== null && typeof obj === 'object' && (obj as { type?: unknown }).type === 'cover') {
    const body = coverMessageSchema.safeParse(obj);
    if (!body.success) throw new InvalidJobMessageError(body.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`));
    const window = { fromMs: parseInstant(body.data.window.from) as number, toMs: parseInstant(body.data.window.to) as number };
    if (!(window.fromMs < window.toMs)) throw new InvalidJobMessageError(['window: from must be before to']);
    const { runId, entity, senderIds, attempt } = body.data;
    return { type: 'cover', runId, entity, window, senderIds, attempt };
  }
  return decodeJobMessage(obj);
}

/** Thrown for a message that can never be processed; it ends on the poison queue. */
export class InvalidJobMessageError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid job message: ${problems.join('; ')}`);
    this.name = 'InvalidJobMessageError';
  }
}

/**
 * Reads a job message as the trigger hands it over: the host has already base64-decoded it and
 * usually parsed the JSON, but a string (JSON or still base64) or bytes are accepted too.
 */
export function decodeJobMessage(item: unknown): JobMessage {
  const body = jobMessageSchema.safeParse(toObject(item));
  if (!body.success) {
    throw new InvalidJobMessageError(body.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`));
  }
  const b = body.data;
  const entity: Entity = {
    kind: b.entity.kind,
    id: b.entity.id,
    ...(b.entity.displayName !== undefined ? { displayName: b.entity.displayName } : {}),
  };
  const mode = modeFromWire(b.mode);
  const resume: ResumePoint | undefined = b.resume
    ? {
        ...(b.resume.from !== undefined ? { fromMs: parseInstant(b.resume.from) as number } : {}),
      }
    : undefined;
  return { runId: b.runId, entity, mode, attempt: b.attempt, ...(resume ? { resume } : {}) };
}

function toObject(item: unknown): unknown {
  if (item instanceof Uint8Array) return toObject(Buffer.from(item).toString('utf8'));
  if (typeof item !== 'string') return item;
  const text = item.trim();
  if (text.startsWith('{')) return parseJson(text);
  return parseJson(Buffer.from(text, 'base64').toString('utf8'));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
