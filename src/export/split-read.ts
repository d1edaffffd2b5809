// Reads one step of a window (docs/design.md §4). Without a recorded state the whole window is read
// as one: an entity with nothing in it costs one request. With EXPORT_READS_PER_ENTITY > 1 a window
// whose first page (the probe) links to more is split at the first page's timestamps into parts read
// at once. Each part's position (its next link) is kept as its pages are handed on; `checkpoint`
// commits and records a snapshot of the unfinished parts now and then, with the read's own signal.
// The first failure stops the sibling parts before the error propagates, so nothing of this job is
// still writing once the read returns. Every page is reserved in the process's memory budget before it
// is requested and given back once its versions are buffered (memory-budget.ts), so the pages in flight
// are bounded by bytes, not by EXPORT_CONCURRENCY × EXPORT_READS_PER_ENTITY.
import type { GraphPage } from '../graph/paging';
import { messagePages } from '../graph/message-export';
import { parseItem } from '../graph/artifact-schema';
import type { MessageVersion } from '../graph/message-schema';
import type { ReadPart, Window } from '../model/window';
import type { EntityJob } from './job-context';
import type { PageVersion } from './day-batcher';
import { unboundedBudget, type MemoryBudget, type PageTicket } from './memory-budget';
import { splitAtSample } from './open-read';
import type { ReadStep } from './read-steps';
import { splitWindow } from './windows';

/** The unfinished parts when the budget stopped the read; undefined when the step is complete. */
export async function readStep(
  job: EntityJob,
  window: Window,
  step: ReadStep,
  recorded: readonly ReadPart[] | undefined,
  quarantined: (line: string) => Promise<void>,
  checkpoint: (snapshot: ReadPart[], readSignal: AbortSignal) => Promise<void>,
): Promise<ReadPart[] | undefined> {
  const { deps, signal, pacer } = job;
  const entity = job.req.entity;
  let parts: ReadPart[] = recorded ? recorded.map((p) => ({ ...p })) : [{ ...window }];
  const n = deps.readsPerEntity ?? 1;
  const memory = deps.memory ?? UNBOUNDED;
  if (!recorded && n > 1 && splitWindow(window, n).length > 1) {
    // Probe: the first page says whether the window is worth splitting, and where.
    const sample: number[] = [];
    let next: string | undefined;
    const ticket = await memory.reservePage(memory.pageGuess(undefined), signal);
    try {
      for await (const page of messagePages(deps.http, entity, window, pageOptions(job, step, undefined, signal))) {
        ticket.resize(page.bytes);
        await handlePage(job, page, step, quarantined, sample);
        next = page.nextLink;
        break;
      }
    } finally {
      ticket.release();
    }
    if (next === undefined) return undefined;
    parts = splitAtSample(window, sample, n);
    // Not worth splitting after all: the one read goes on from the probe's link.
    if (parts.length === 1) parts = [{ ...window, nextLink: next }];
  }
  const open = parts.map((p) => ({ ...p, done: false }));
  let stopping = false;
  const stop = new AbortController();
  const partSignal = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  const snapshot = () =>
    open.filter((p) => !p.done).map(({ fromMs, toMs, nextLink }) => ({ fromMs, toMs, ...(nextLink ? { nextLink } : {}) }));
  const readPart = async (part: (typeof open)[number]) => {
    const w = { fromMs: part.fromMs, toMs: part.toMs };
    // The next page's reservation, taken before the page is asked for (the generator asks when the loop
    // comes round again), given back once its versions are buffered.
    let ticket: PageTicket | undefined = await memory.reservePage(memory.pageGuess(undefined), partSignal);
    try {
      for await (const page of messagePages(deps.http, entity, w, pageOptions(job, step, part.nextLink, partSignal))) {
        ticket?.resize(page.bytes);
        await handlePage(job, page, step, quarantined);
        ticket?.release();
        ticket = undefined;
        // Everything up to this page has been handed on: a resumed read goes on from its link.
        if (page.nextLink === undefined) part.done = true;
        else part.nextLink = page.nextLink;
        if (!part.done && pacer.progressDue()) {
          pacer.progressSaved(); // claimed here, so sibling parts do not record the same progress
          await checkpoint(snapshot(), partSignal);
        }
        if (stopping || pacer.stopDue()) {
          stopping = true;
          return;
        }
        if (!part.done) ticket = await memory.reservePage(memory.pageGuess(page.bytes), partSignal);
      }
    } finally {
      ticket?.release();
    }
    part.done = true;
  };
  const settled = await Promise.allSettled(
    open.map((p) =>
      readPart(p).catch((err: unknown) => {
        stop.abort(err);
        throw err;
      }),
    ),
  );
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw signal?.aborted ? signal.reason : failed.reason;
  const left = snapshot();
  return left.length > 0 ? left : undefined;
}

function pageOptions(job: EntityJob, step: ReadStep, resumeAt: string | undefined, readSignal: AbortSignal | undefined) {
  return {
    top: job.deps.pageSize,
    ...(readSignal ? { signal: readSignal } : {}),
    ...(step.filter !== undefined ? { senderFilter: step.filter } : {}),
    ...(resumeAt !== undefined ? { resumeAt } : {}),
    ...(step.source !== undefined ? { source: step.source } : {}),
    limiter: job.deps.apiLimiters?.[job.req.entity.kind],
  };
}

const NEWLINE = 0x0a;

/** A read without the process's budget (a job built without one) reserves against this one. */
const UNBOUNDED: MemoryBudget = unboundedBudget();

/**
 * Hands the valid versions of a page to `sink`, in one call; invalid ones go to quarantine. The page is
 * turned into its lines at once, as UTF-8 in one buffer, before anything waits: a page waiting for its
 * batcher (busy writing a batch for a sibling read) then holds a compact buffer outside the JavaScript
 * heap instead of its parsed objects, which would outlive the young generation and be collected only by
 * a full collection (docs/design.md §14). The buffer is freed as soon as the sink has taken the lines.
 */
async function handlePage(
  job: EntityJob,
  page: GraphPage,
  step: ReadStep,
  quarantined: (line: string) => Promise<void>,
  sample?: number[],
): Promise<void> {
  job.tally.pageRead(page.items.length);
  const memory = job.deps.memory ?? UNBOUNDED;
  const { text, versions, invalid } = pageLines(job, page, step, memory, sample);
  try {
    for (const line of invalid) await quarantined(line);
    if (versions.length > 0) await step.sink(versions);
  } finally {
    // The sink copied or wrote what it needed.
    memory.givePageBufferBack(text);
  }
}

/** The page as lines (and its invalid items as quarantine lines); the page's items are let go. */
function pageLines(job: EntityJob, page: GraphPage, step: ReadStep, memory: MemoryBudget, sample: number[] | undefined) {
  const kind = job.req.entity.kind;
  const parsed: Array<{ version: MessageVersion; refersToContent: boolean }> = [];
  const invalid: string[] = [];
  let bytes = 0;
  for (const raw of page.items) {
    const p = parseItem(kind, raw);
    if (!p.ok) {
      // Never dropped silently: kept with the reason in quarantine/ and counted.
      invalid.push(JSON.stringify({ reason: p.reason, requestId: page.requestId ?? null, item: raw }));
      continue;
    }
    // One line per version: a raw newline would split a version in two when read back.
    if (p.version.line.includes('\n')) throw new RangeError('a batch line must not contain a newline');
    sample?.push(p.version.bucketMs);
    parsed.push({ version: p.version, refersToContent: step.refers(raw) });
    bytes += Buffer.byteLength(p.version.line, 'utf8') + 1;
  }
  page.items = [];
  const text = memory.takePageBuffer(bytes);
  let at = 0;
  const versions: PageVersion[] = parsed.map(({ version: { line, ...version }, refersToContent }) => {
    const start = at;
    at += text.write(line, at, 'utf8');
    text[at++] = NEWLINE;
    return { version, line: text.subarray(start, at), refersToContent };
  });
  return { text, versions, invalid };
}
