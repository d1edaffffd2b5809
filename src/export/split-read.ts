// Reads one step of a window (docs/design.md §4). Without a recorded state the whole window is read
// as one: an entity with nothing in it costs one request. With EXPORT_READS_PER_ENTITY > 1 a window
// whose first page (the probe) links to more is split at the first page's timestamps into parts read
// at once. Each part's position (its next link) is kept as its pages are handed on; `checkpoint`
// commits and records a snapshot of the unfinished parts now and then, with the read's own signal.
// The first failure stops the sibling parts before the error propagates, so nothing of this job is
// still writing once the read returns.
import type { GraphPage } from '../graph/paging';
import { messagePages } from '../graph/message-export';
import { parseItem } from '../graph/artifact-schema';
import type { ReadPart, Window } from '../model/window';
import type { EntityJob } from './job-context';
import { splitAtSample } from './open-read';
import type { ReadStep, VersionSink } from './read-steps';
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
  if (!recorded && n > 1 && splitWindow(window, n).length > 1) {
    // Probe: the first page says whether the window is worth splitting, and where.
    const sample: number[] = [];
    let next: string | undefined;
    for await (const page of messagePages(deps.http, entity, window, pageOptions(job, step, undefined, signal))) {
      await handlePage(job, page, step.sink, quarantined, sample);
      next = page.nextLink;
      break;
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
    for await (const page of messagePages(deps.http, entity, w, pageOptions(job, step, part.nextLink, partSignal))) {
      await handlePage(job, page, step.sink, quarantined);
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

/** Hands each valid version of a page to `sink`; invalid ones go to quarantine. */
async function handlePage(
  job: EntityJob,
  page: GraphPage,
  sink: VersionSink,
  quarantined: (line: string) => Promise<void>,
  sample?: number[],
): Promise<void> {
  job.tally.pageRead(page.items.length);
  for (const raw of page.items) {
    const parsed = parseItem(job.req.entity.kind, raw);
    if (!parsed.ok) {
      // Never dropped silently: kept with the reason in quarantine/ and counted.
      await quarantined(JSON.stringify({ reason: parsed.reason, requestId: page.requestId ?? null, item: raw }));
      continue;
    }
    sample?.push(parsed.version.bucketMs);
    await sink(parsed.version, raw);
  }
}
