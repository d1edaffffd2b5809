// The state of an unfinished window read (docs/design.md §4): how a wide window is split into parts
// that are read at once, and how the state is stored (checkpoint row, job progress) so a stopped or
// killed read goes on from the pages it had committed instead of from the window's start.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { OpenRead, ReadPart, Window } from '../model/window';
import { MIN_SPLIT_MS, splitWindow } from './windows';

/** Stored state longer than this loses its links (the parts then restart): a table string holds 32K characters. */
export const MAX_STORED_READ_CHARS = 30_000;

const partSchema = z
  .object({ fromMs: z.number().int(), toMs: z.number().int(), nextLink: z.string().min(1).max(8192).optional() })
  .refine((p) => p.fromMs < p.toMs);

const openReadSchema = z.object({
  pass: z.enum(['fresh', 'settle', 'backfill']),
  fromMs: z.number().int(),
  toMs: z.number().int(),
  step: z.number().int().min(0),
  steps: z.string(),
  parts: z.array(partSchema).min(1).max(64),
});

/** The stored form; the links are dropped (their parts restart) when it would not fit a table property. */
export function storeOpenRead(read: OpenRead): string {
  const text = JSON.stringify(read);
  if (text.length <= MAX_STORED_READ_CHARS) return text;
  return JSON.stringify({ ...read, parts: read.parts.map((p) => ({ fromMs: p.fromMs, toMs: p.toMs })) });
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
  return {
    ...r,
    parts: r.parts.map((p) => ({ fromMs: p.fromMs, toMs: p.toMs, ...(p.nextLink !== undefined ? { nextLink: p.nextLink } : {}) })),
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
