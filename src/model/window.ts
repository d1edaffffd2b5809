// The time ranges an export reads: windows over lastModifiedDateTime and the passes that read them.

/** Half-open window [fromMs, toMs) over lastModifiedDateTime, in epoch ms. */
export interface Window {
  fromMs: number;
  toMs: number;
}

/** fresh/settle are the daily passes (docs/design.md §4); backfill is an operator-chosen range. */
export type PassName = 'fresh' | 'settle' | 'backfill';

/**
 * A window part still to read: `[fromMs, toMs)`, and the `@odata.nextLink` to go on from when some of
 * its pages are already committed (absent: read it from its first page).
 */
export interface ReadPart {
  fromMs: number;
  toMs: number;
  nextLink?: string | undefined;
}

/**
 * Where an unfinished window read stands (docs/design.md §4): the window, which of its reads (`step`:
 * 0 the main read, then one per sender filter, named by `filters`) is under way, and that read's
 * unfinished parts. Everything read before the parts' links is durable in the archive.
 */
export interface OpenRead {
  pass: PassName;
  fromMs: number;
  toMs: number;
  step: number;
  /** A fingerprint of the read's steps (the sender filters); a read with other steps starts over. */
  steps: string;
  parts: ReadPart[];
}
