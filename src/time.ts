// Instants and ISO-8601 durations. The export contract is written in these terms (docs/design.md §3, docs/settings.md §1),
// so they are parsed in one place and everything else works in epoch milliseconds.

const DURATION = /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** Parses an ISO-8601 duration of weeks/days/hours/minutes/seconds (`PT5M`, `PT24H`, `P30D`) into ms. */
export function parseIsoDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim().toUpperCase());
  if (!m || text.trim().toUpperCase() === 'P' || text.trim().toUpperCase().endsWith('T')) return undefined;
  const [, w, d, h, min, s] = m;
  const n = (v: string | undefined) => (v === undefined ? 0 : Number(v));
  return Math.round((((n(w) * 7 + n(d)) * 24 + n(h)) * 60 + n(min)) * 60_000 + n(s) * 1000);
}

/** ISO-8601 UTC instant with an explicit zone (`Z` or an offset); rejects ambiguous local times. */
const INSTANT = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/i;

/** Parses an ISO-8601 instant (date-only means midnight UTC) into epoch ms, or undefined. */
export function parseInstant(text: string): number | undefined {
  const t = text.trim();
  if (!INSTANT.test(t)) return undefined;
  const ms = Date.parse(t.length === 10 ? `${t}T00:00:00Z` : t);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Formats epoch ms as the ISO instant Graph expects in filters (UTC, millisecond precision, `Z`). */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The UTC day (`yyyy-mm-dd`) of an instant: the folder a version's batch is written to. */
export function utcDay(ms: number): string {
  // Called for every version exported, and the versions of a read fall on a few days: the days' strings
  // are kept (every instant of one UTC day formats to the same day), a bounded number of them.
  // The day's first instant, exactly (`%` is exact on doubles, and so is the subtraction); truncated
  // first, as Date does.
  const t = Math.trunc(ms);
  // Outside Date's range (and NaN) toISOString throws: never answered from a kept day.
  if (!(Math.abs(t) <= 8.64e15)) return iso(ms).slice(0, 10);
  const rest = t % DAY;
  const n = rest < 0 ? t - rest - DAY : t - rest;
  const known = dayTexts.get(n);
  if (known !== undefined) return known;
  const text = iso(ms).slice(0, 10);
  if (dayTexts.size >= 4096) dayTexts.clear();
  dayTexts.set(n, text);
  return text;
}
const dayTexts = new Map<number, string>();

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** A clock is passed in only where time itself is the subject (`--now`, tests of windows). */
export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };
