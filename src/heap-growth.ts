// How far V8 lets the JavaScript heap grow between full garbage collections (docs/design.md §14). By
// default the old generation may grow to several times what survived the last full collection when
// collecting is cheap next to the program's own work, and for the export it always is: pages arrive all
// the time and little of each is kept. In the heavy bench profile (bench/RESULTS.md, "Peak RSS (issue
// 22)") the heap then reached 150-200 MB around 60-90 MB of live objects, the largest part of the
// process's peak RSS. Growing by at most half of what survived keeps it nearer 1.5 times that, for more
// (short, mostly concurrent) full collections: little CPU at 50%, ~10% more product CPU at 25%.
// Set once per process, by buildDeps, before the export starts.
import { setFlagsFromString } from 'node:v8';

/** The old generation grows by at most this share of what survived the last full collection. */
export const HEAP_GROWING_PERCENT = 50;

let applied = false;

export function limitHeapGrowth(): void {
  if (applied) return;
  applied = true;
  // A V8 flag read at every full collection, so it applies from the next one on.
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
