// Small helpers shared by the Table Storage stores: bounded strings, ISO instants.
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
