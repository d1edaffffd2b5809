// Small helpers shared by the Table Storage stores: bounded strings, ISO instants.
import type { TableClient } from '@azure/data-tables';
import { statusOf } from '../model/errors';
import { iso } from '../time';

/** Table strings are limited to 64 KiB (32K UTF-16 units); messages are cut well below that. */
export function bounded(text: string, max = 4000): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Instants are stored as ISO strings so rows read well in Storage Explorer. */
export function instantOut(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : iso(ms);
}

export function instantIn(value: unknown): number | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

export function stringIn(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export function numberIn(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  // Int64 values come back as strings.
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value);
  return undefined;
}

/** Drops undefined fields: the table SDK would otherwise send them as nulls. */
export function defined<T extends Record<string, unknown>>(row: T): T {
  return Object.fromEntries(Object.entries(row).filter(([, v]) => v !== undefined)) as T;
}

/** A short randomized pause between optimistic-concurrency retries. */
export function backoff(attempt: number): Promise<void> {
  const ms = Math.min(200, 5 * 2 ** attempt) * (0.5 + Math.random());
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A table string property holds at most 32K UTF-16 characters, an entity 1 MiB. Long text (a window
 * read's state with many parts and long continuation links, docs/design.md §4) is stored across up to
 * this many properties (`name`, `name_1`, … `name_15`), every one of them written each time so a shorter
 * text leaves no tail of a longer one behind: at most 15 × 30,000 = 450,000 characters.
 */
export const SPLIT_PROPERTY_PARTS = 15;
export const SPLIT_PROPERTY_CHARS = 30_000;
export const SPLIT_PROPERTY_MAX = SPLIT_PROPERTY_PARTS * SPLIT_PROPERTY_CHARS;

/** The properties holding `text` ('' clears them all); throws RangeError when it does not fit. */
export function splitProperty(name: string, text: string): Record<string, string> {
  if (text.length > SPLIT_PROPERTY_MAX) throw new RangeError(`${name}: ${text.length} characters do not fit in ${SPLIT_PROPERTY_MAX}`);
  const out: Record<string, string> = {};
  for (let i = 0; i < SPLIT_PROPERTY_PARTS; i++)
    out[i === 0 ? name : `${name}_${i}`] = text.slice(i * SPLIT_PROPERTY_CHARS, (i + 1) * SPLIT_PROPERTY_CHARS);
  return out;
}

/** The text splitProperty stored (undefined when empty or absent). */
export function joinProperty(row: Record<string, unknown>, name: string): string | undefined {
  let text = '';
  for (let i = 0; i < SPLIT_PROPERTY_PARTS; i++) {
    const part = row[i === 0 ? name : `${name}_${i}`];
    if (typeof part !== 'string' || part === '') break;
    text += part;
  }
  return text === '' ? undefined : text;
}

/**
 * Creates a table unless it exists. A 403 is an identity allowed to read the table but not to create
 * it (the read-only operator role of infra/, docs/security.md): it is left to the first read, which
 * says plainly if the table is not there.
 */
export async function ensureTable(table: TableClient): Promise<void> {
  try {
    await table.createTable();
  } catch (err) {
    const status = statusOf(err);
    if (status !== 409 && status !== 403) throw err;
  }
}

/** A JSON object of counts (status → number) as stored in a string property; undefined for anything else. */
export function countsIn(value: unknown): Record<string, number> | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    const out: Record<string, number> = {};
    for (const [k, n] of Object.entries(parsed)) if (typeof n === 'number' && Number.isFinite(n)) out[k] = n;
    return out;
  } catch {
    return undefined;
  }
}
