// Helpers for tests about waiting, written so a busy machine cannot fail them: they check what
// happened and in which order, and lower bounds that only a wrong implementation breaks. Elapsed-time
// upper bounds are left out or kept far from the expected value (speed belongs in the bench).

/**
 * True when `p` settles without waiting for any timer: promise callbacks all run before the next
 * setImmediate, however loaded the machine is, so "at once" needs no millisecond threshold.
 */
export async function settlesWithoutWaiting(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((r) => setImmediate(r));
  return settled;
}

/**
 * Timers may fire a millisecond or two early (and clocks round): lower bounds on a wait measured from
 * outside the code under test allow this much.
 */
export const TIMER_SLACK_MS = 5;

/**
 * A bound on a wait that only a hang or a missed wake-up exceeds, not a slow machine: used where a
 * test must show that something did not wait for a long pause (seconds to minutes).
 */
export const HANG_MS = 10_000;
