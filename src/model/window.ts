// The time ranges an export reads: windows over lastModifiedDateTime and the passes that read them.

/** Half-open window [fromMs, toMs) over lastModifiedDateTime, in epoch ms. */
export interface Window {
  fromMs: number;
  toMs: number;
}

/** fresh/settle are the daily passes (docs/design.md §4); backfill is an operator-chosen range. */
export type PassName = 'fresh' | 'settle' | 'backfill';
