// The state of an unfinished window read (docs/design.md §4): how a wide window is split into parts
// that are read at once, and how the state is stored (checkpoint row, job progress) so a stopped or
// killed read goes on from the pages it had committed instead of from the window's start.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { OpenRead, ReadPart, Window } from '../model/window';
import { MIN_SPLIT_MS, splitWindow } from './windows';
import { SPLIT_PROPERTY_MAX } from '../state/table-values';

/**
 * Stored state longer than this loses links, the longest first, until it fits (those parts restart):
 * the checkpoint and progress rows keep it across several table properties (state/table-values.ts).
 */
export const MAX_STORED_READ_CHARS = SPLIT_PROPERTY_MAX;
/** A continuation link longer than this is not kept (its part restarts); Graph's are a few hundred characters. */
export const MAX_LINK_CHARS = 65_536;

const partSchema = z
  .object({ fromMs: z.number().int(), toMs: z.number().int(), nextLink: z.unknown().optional() })
  .refine((p) => p.fromMs < p.toMs);

const openReadSchema = z.object({
  pass: z.enum(['fresh', 'settle', 'backfill']),
  fromMs: z.number().int(),
  toMs: z.number().int(),
  step: z.number().int().min(0),
  steps: z.string(),
  parts: z.array(partSchema).min(1).max(64),
});

const usableLink = (link: unknown): link is string => typeof link === 'string' && link.length > 0 && link.length <= MAX_LINK_CHARS;

/**
 * The stored form. A state that would not fit loses the links of its longest ones first, one at a time
 * (docs/design.md §4): only those parts restart, never all of them, so a window that needs several
 * invocations still gets through.
 */
export function storeOpenRead(read: OpenRead): string {
  const parts = read.parts.map((p) => ({ ...p, ...(usableLink(p.nextLink) ? {} : { nextLink: undefined }) }));
  for (;;) {
    const text = JSON.stringify({ ...read, parts });
    if (text.length <= MAX_STORED_READ_CHARS) return text;
    let longest = -1;
    for (let i = 0; i < parts.length; i++) {
      if ((parts[i]!.nextLink?.length ?? 0) > (longest < 0 ? 0 : (parts[longest]!.nextLink?.length ?? 0))) longest = i;
    }
    if (longest < 0) return JSON.stringify({ ...read, parts: parts.map((p) => ({ fromMs: p.fromMs, toMs: p.toMs })) });
    parts[longest] = { fromMs: parts[longest]!.fromMs, toMs: parts[longest]!.toMs };
  }
}

/**
 * Reads a stored state back. Anything that does not parse, or parts that do not lie inside the window,
 * count as no state: the window is then simply read again from its start (harmless, only slower).
 */
export function loadOpenRead(text: string | undefined): OpenRead | undefined {
  if (text === undefined || text === '') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = openReadSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const r = parsed.data;
  if (!(r.fromMs < r.toMs) || r.parts.some((p) => p.fromMs < r.fromMs || p.toMs > r.toMs)) return undefined;
  // A link that is not usable costs its own part a restart, not the whole state.
  return {
    ...r,
    parts: r.parts.map((p) => ({ fromMs: p.fromMs, toMs: p.toMs, ...(usableLink(p.nextLink) ? { nextLink: p.nextLink } : {}) })),
  };
}

/** A fingerprint of a window's reads (the sender filters in order), so a resumed step means the same read. */
export function stepsFingerprint(filters: readonly (string | undefined)[]): string {
  return createHash('sha256')
    .update(filters.map((f) => f ?? '*').join('\n'))
    .digest('base64url')
    .slice(0, 16);
}

/**
 * Splits a window that turned out to hold many pages into up to `parts` parts with about as many
 * versions each, using the timestamps of its first page as a sample (Graph returns a window unsorted,
 * so the first page is a fair sample of where its versions lie). Without a usable sample the window is
 * cut into equal lengths. Parts are half-open, consecutive and cover the window exactly.
 */
export function splitAtSample(window: Window, sampleMs: readonly number[], parts: number): ReadPart[] {
  const n = Math.max(1, Math.floor(parts));
  const inside = sampleMs.filter((t) => t > window.fromMs && t < window.toMs).sort((a, b) => a - b);
  if (n === 1) return [{ ...window }];
  if (inside.length < n) return splitWindow(window, n).map((w) => ({ ...w }));
  const cuts: number[] = [];
  for (let i = 1; i < n; i++) {
    const t = inside[Math.floor((i * inside.length) / n)]!;
    const last = cuts.length > 0 ? cuts[cuts.length - 1]! : window.fromMs;
    // Parts shorter than MIN_SPLIT_MS are not worth a request of their own.
    if (t - last >= MIN_SPLIT_MS && window.toMs - t >= MIN_SPLIT_MS) cuts.push(t);
  }
  const bounds = [window.fromMs, ...cuts, window.toMs];
  const out: ReadPart[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) out.push({ fromMs: bounds[i]!, toMs: bounds[i + 1]! });
  return out;
}
