// A deterministic scheduler over the storage operations of several workers (docs/design.md §16): each
// worker talks to Azurite through its own storage proxy, whose gate hands every operation to the
// scheduler. The scheduler lets one operation through at a time, waits for its answer, and only then
// picks the next, so the interleaving of the workers' storage operations is exactly the one asked for.
//
// Which interleavings are run (exploreSchedules): dynamic partial-order reduction. Two operations that
// touch different rows, blobs or tables give the same results in either order, so only the order of
// CONFLICTING operations (the same row or blob, or a query over a table the other writes; one of them
// a write) matters. After each run, every pair of conflicting operations of different workers that
// nothing forced into their order (no chain of conflicts and program order between them, tracked with
// vector clocks) is a race, and a new schedule is queued that runs the later worker first at the
// earlier operation. Bounded by the number of preemptions (switching away from a worker that could go
// on), this runs every order of the racing operations within that bound.
import type { StorageGate, StorageOperation, StorageProxy } from '../../emulator/storage-proxy';

interface Pending {
  worker: number;
  op: StorageOperation;
  grant: () => void;
}

/** One operation let through: by whom, what, and which workers could have gone instead. */
export interface Step {
  worker: number;
  op: StorageOperation;
  /** Workers with an operation waiting at this step (the chosen one included). */
  enabled: number[];
  /** The worker that ran the step before, if it could have gone on (choosing another preempts it). */
  previous?: number;
}

export interface SchedulerRun {
  steps: Step[];
}

const WRITES = new Set(['PUT', 'POST', 'MERGE', 'PATCH', 'DELETE']);

/**
 * What an operation touches: `table:T:pk:rk` (a row), `table:T` (a query of the table), `blob:c/name`
 * (a blob), `blob:c/prefix` (a listing); undefined: nothing another worker reads back.
 */
function footprint(op: StorageOperation): { key: string; write: boolean; scan: boolean } | undefined {
  const write = WRITES.has(op.method);
  if (op.service === 'table') {
    // A table batch (planning's job rows): as far as conflicts go, every table.
    if (op.resource.startsWith('$batch')) return { key: 'table:', write: true, scan: true };
    const m = /^([^(/]+)(?:\(PartitionKey='([^']*)',RowKey='([^']*)'\))?/.exec(op.resource);
    if (!m) return undefined;
    const table = m[1]!;
    if (m[2] !== undefined) return { key: `table:${table}:${m[2]}:${m[3]}`, write, scan: false };
    if (write) {
      // An insert: its row is named in the body.
      try {
        const row = JSON.parse(op.body.toString('utf8')) as { PartitionKey?: unknown; RowKey?: unknown };
        if (typeof row.PartitionKey === 'string' && typeof row.RowKey === 'string')
          return { key: `table:${table}:${row.PartitionKey}:${row.RowKey}`, write, scan: false };
      } catch {
        // not JSON: the whole table
      }
      return { key: `table:${table}:`, write, scan: true };
    }
    return { key: `table:${table}:`, write: false, scan: true };
  }
  if (op.service === 'blob') {
    if (op.comp === 'list') {
      const prefix = new URL(op.url, 'http://x').searchParams.get('prefix') ?? '';
      return { key: `blob:${op.resource.split('/')[0]}/${prefix}`, write: false, scan: true };
    }
    // A lease call changes the lease: a write as far as another lease call is concerned.
    return { key: `blob:${op.resource}`, write: write || op.comp === 'lease', scan: false };
  }
  return undefined; // queues: no worker reads back what another sent, here
}

/** Whether the order of two operations can change what either sees. */
export function conflicts(a: StorageOperation, b: StorageOperation): boolean {
  const fa = footprint(a);
  const fb = footprint(b);
  if (!fa || !fb || (!fa.write && !fb.write)) return false;
  if (fa.key === fb.key) return true;
  // A query or listing covers every row or blob whose key it prefixes.
  return (fa.scan && fb.key.startsWith(fa.key)) || (fb.scan && fa.key.startsWith(fb.key));
}

/**
 * Runs the workers' bodies (each started once its proxy's gate is installed) under one schedule:
 * `prefix[i]` is the worker that takes step i; after the prefix, the worker that ran last goes on while
 * it can, else the lowest-numbered one waiting. Returns every step taken.
 */
export async function runScheduled(
  proxies: StorageProxy[],
  bodies: Array<() => Promise<unknown>>,
  prefix: readonly number[],
): Promise<SchedulerRun> {
  const pending: Pending[] = [];
  const done = new Array<boolean>(bodies.length).fill(false);
  const steps: Step[] = [];
  let wake: () => void = () => undefined;
  let answered = true;
  let last = -1;
  proxies.forEach((proxy, worker) => {
    const gate: StorageGate = (op) =>
      new Promise((resolve) => {
        pending.push({ worker, op, grant: () => resolve('forward') });
        wake();
      });
    proxy.setGate(gate);
    proxy.onAnswer(() => {
      answered = true;
      wake();
    });
  });
  const finished = bodies.map((body, i) =>
    body()
      .catch(() => undefined)
      .then(() => {
        done[i] = true;
        wake();
      }),
  );
  const settled = () => answered && bodies.every((_, i) => done[i] || pending.some((p) => p.worker === i));
  /** Every worker that has not finished has an operation waiting (a moment's grace lets concurrent ones arrive). */
  const quiet = async () => {
    for (;;) {
      if (settled()) {
        for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
        if (settled()) return;
      }
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 20);
      });
    }
  };
  for (;;) {
    await quiet();
    if (pending.length === 0) break;
    const heads = new Map<number, Pending>();
    for (const p of pending) if (!heads.has(p.worker)) heads.set(p.worker, p);
    const enabled = [...heads.keys()].sort((a, b) => a - b);
    const want = prefix[steps.length];
    const chosen = want !== undefined && heads.has(want) ? want : heads.has(last) ? last : enabled[0]!;
    const next = heads.get(chosen)!;
    steps.push({ worker: chosen, op: next.op, enabled, ...(heads.has(last) ? { previous: last } : {}) });
    pending.splice(pending.indexOf(next), 1);
    last = chosen;
    answered = false;
    next.grant();
  }
  await Promise.all(finished);
  for (const proxy of proxies) {
    proxy.setGate(undefined);
    proxy.onAnswer(undefined);
  }
  return { steps };
}

/** Preemptions among the first `n` steps: a step that switched away from a worker that could go on. */
function preemptions(steps: readonly Step[], n: number): number {
  let count = 0;
  for (let i = 0; i < n && i < steps.length; i++) {
    const s = steps[i]!;
    if (s.previous !== undefined && s.previous !== s.worker) count++;
  }
  return count;
}

/**
 * The races of a run: for each operation, the latest earlier conflicting operation of another worker
 * that it is not already ordered after (vector clocks over program order and conflicts). Each race is
 * a prefix to run next: the steps before the earlier operation, then the later operation's worker.
 */
function racePrefixes(steps: readonly Step[]): number[][] {
  const workers = Math.max(0, ...steps.map((s) => s.worker)) + 1;
  const clocks: number[][] = [];
  const lastOf = new Map<number, number>();
  const out: number[][] = [];
  for (let j = 0; j < steps.length; j++) {
    const s = steps[j]!;
    const clock = new Array<number>(workers).fill(0);
    const prev = lastOf.get(s.worker);
    if (prev !== undefined) for (let w = 0; w < workers; w++) clock[w] = Math.max(clock[w]!, clocks[prev]![w]!);
    let race: number | undefined;
    for (let i = j - 1; i >= 0; i--) {
      const e = steps[i]!;
      if (e.worker === s.worker || !conflicts(e.op, s.op)) continue;
      // Ordered already if this worker's history (so far, without this conflict) has seen step i.
      const seen = clock[e.worker]! >= i + 1;
      if (!seen && race === undefined && e.enabled.includes(s.worker)) race = i;
      for (let w = 0; w < workers; w++) clock[w] = Math.max(clock[w]!, clocks[i]![w]!);
    }
    clock[s.worker] = j + 1;
    clocks.push(clock);
    lastOf.set(s.worker, j);
    if (race !== undefined) out.push([...steps.slice(0, race).map((x) => x.worker), s.worker]);
  }
  return out;
}

/**
 * Every schedule dynamic partial-order reduction reaches with at most `maxPreemptions` preemptions,
 * depth first from the default schedule; `scenario` runs one prefix and returns the steps it took.
 */
export async function exploreSchedules(
  scenario: (prefix: readonly number[]) => Promise<SchedulerRun>,
  opts: { maxPreemptions: number; maxSchedules: number },
): Promise<{ schedules: number; steps: number; races: number; exhausted: boolean }> {
  const seen = new Set<string>(['']);
  const stack: number[][] = [[]];
  let schedules = 0;
  let steps = 0;
  let races = 0;
  while (stack.length > 0) {
    if (schedules >= opts.maxSchedules) return { schedules, steps, races, exhausted: false };
    const prefix = stack.pop()!;
    const run = await scenario(prefix);
    schedules++;
    steps += run.steps.length;
    for (const p of racePrefixes(run.steps)) {
      races++;
      const key = p.join(',');
      if (seen.has(key)) continue;
      // The new choice is the last one: it preempts when the worker that ran before could have gone on.
      const at = p.length - 1;
      const step = run.steps[at];
      const preempts = step?.previous !== undefined && step.previous !== p[at];
      if (preemptions(run.steps, at) + (preempts ? 1 : 0) > opts.maxPreemptions) continue;
      seen.add(key);
      stack.push(p);
    }
  }
  return { schedules, steps, races, exhausted: true };
}
