// One measured export, run as a child process of the benchmark so its peak RSS and CPU are the
// product's alone: the production path (loadSettings → buildDeps → runExport) with the settings it is
// given in its environment; prints one `BENCH_RESULT {json}` line on stdout.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { buildDeps } from '../src/deps';
import type { ContentFetcher, ContentFetcherStats } from '../src/export/content-fetcher';
import type { ContentPoolStats } from '../src/export/content-pool';
import { runExport, type RunDeps, type RunProgress } from '../src/export/run-in-process';
import type { GraphStats } from '../src/graph/graph-http';
import type { planRun } from '../src/export/run-lifecycle';
import { createLogger, jsonStderrSink } from '../src/log';
import { loadSettings } from '../src/settings';

export interface ScenarioInput {
  /** The daily run's "now" (the emulator's data ends an hour before it). */
  nowMs: number;
  /** The entity lease's write fence (RunDeps.leaseWriteFreshMs; 0: a renewal before every blob write, as before issue 22). */
  leaseWriteFreshMs?: number;
  /** Batches the content pool settles at once (RunDeps.contentBatches; the product's CONTENT_POOL_BATCHES when absent). */
  contentBatches?: number;
  /**
   * A what-if, not the product: the run's planned entities reordered teams first (the product plans users,
   * then teams), by replacing run-lifecycle's planRun export in this process only.
   */
  teamsFirst?: boolean;
  /**
   * Once the last entity job has finished: the content pool's batches at once (RunDeps.contentBatchesAfterExport;
   * the product's CONTENT_POOL_BATCHES_AFTER_EXPORT when absent) and, a what-if (the product keeps
   * EXPORT_CONTENT_PROCESS_CONCURRENCY for the whole run), the fetcher's process slots, raised in this process only.
   */
  afterExport?: { batches?: number; slots?: number };
}

/** One hosted-content download as the bench saw it: its chat or channel, when it was asked for and answered. */
export type ContentDownload = [conversation: string, startMs: number, endMs: number, ok: 0 | 1];

/**
 * The run's phases and its content stage, in ms from the start of runExport: the export ends when the
 * last entity job has finished (progress.finished === planned), the backlog when the content pool has
 * nothing pending any more.
 */
export interface ContentTimeline {
  /** The last entity job finished. */
  exportEndMs?: number;
  /** Graph requests sent (GraphStats.requests, retries included) when the export ended. */
  requestsAtExportEnd?: number;
  /** The product's CPU (user + system) from the start of runExport until the export ended. */
  cpuAtExportEndMs?: number;
  /** The first batch was handed to the content pool. */
  firstHandoverMs?: number;
  /** The pool's pending count last went to zero. */
  drainedMs?: number;
  /** Batches handed over (the most `pending + settled + deferred` reached). */
  batches: number;
  pool?: ContentPoolStats;
  fetcher?: ContentFetcherStats;
  /** Most content downloads in the process's slots at once (EXPORT_CONTENT_PROCESS_CONCURRENCY bounds it). */
  peakSlots?: number;
  /** Rows of the content backlog still pending after the run (ContentBacklog.pending: to retry, or never taken). */
  backlogPendingAfter?: number;
  /** Per batch recorded in the content backlog: when it was recorded (just before its write and handover) and settled. */
  batchTimes: Record<string, [recordedMs: number, settledMs: number]>;
  /** Every hosted-content download (GraphHttp.getToSink call): conversation, start, end. */
  downloads: ContentDownload[];
  /** Per whole second of the run: batches pending in the pool, and downloads in the process's slots. */
  pendingPerSecond: number[];
  slotsPerSecond: number[];
}
export interface ScenarioResult {
  status: string;
  error?: string;
  wallMs: number;
  planned: number;
  done: number;
  skipped: number;
  failed: number;
  received: number;
  messages: number;
  duplicates: number;
  quarantined: number;
  pages: number;
  blobs: number;
  bytes: number;
  graph: GraphStats;
  /** Graph requests per second, one figure per whole second of the run. */
  perSecond: number[];
  cpuUserMs: number;
  cpuSystemMs: number;
  /** getrusage's maximum resident set size over the process's life, in bytes. */
  peakRssBytes: number;
  /** Peaks of process.memoryUsage() sampled every second (where RSS goes: JS heap or native buffers). */
  peakHeapUsedBytes: number;
  peakHeapTotalBytes: number;
  peakExternalBytes: number;
  heapUsedAtEndBytes: number;
  timeline: ContentTimeline;
}

export const RESULT_PREFIX = 'BENCH_RESULT ';

async function main(): Promise<void> {
  const input = JSON.parse(process.env.BENCH_SCENARIO ?? '{}') as ScenarioInput;
  if (input.teamsFirst) planTeamsFirst();
  const settings = loadSettings(process.env);
  const log = createLogger(jsonStderrSink, 'warn');
  const deps = await buildDeps(settings, { log });

  const perSecond: number[] = [];
  let lastRequests = 0;
  const peaks = { heapUsed: 0, heapTotal: 0, external: 0 };
  let t0 = performance.now();
  let cpu0 = process.cpuUsage();
  const timeline: ContentTimeline = { batches: 0, batchTimes: {}, downloads: [], pendingPerSecond: [], slotsPerSecond: [] };
  let latest: Readonly<RunProgress> | undefined;
  let lastPending = 0;
  // Content downloads are the ones that go through getToSink (hosted contents; attachments are off):
  // wrapped on the shared GraphHttp instance, which the content fetcher holds too, to time each one.
  const http = deps.http;
  const getToSink = http.getToSink.bind(http);
  http.getToSink = (async (url: string, opts: Parameters<typeof getToSink>[1]) => {
    const start = performance.now() - t0;
    let ok: 0 | 1 = 0;
    try {
      const res = await getToSink(url, opts);
      ok = 1;
      return res;
    } finally {
      timeline.downloads.push([conversationOf(url), Math.round(start), Math.round(performance.now() - t0), ok]);
    }
  }) as typeof http.getToSink;
  // The backlog instance the jobs record into and the pool settles from: when each batch came and went.
  const backlog = deps.contentBacklog;
  if (backlog) {
    const record = backlog.record.bind(backlog);
    backlog.record = (o, signal) => {
      timeline.batchTimes[o.batch] = [Math.round(performance.now() - t0), -1];
      return record(o, signal);
    };
    const settle = backlog.settle.bind(backlog);
    backlog.settle = async (o, statuses, signal) => {
      await settle(o, statuses, signal);
      const times = timeline.batchTimes[o.batch];
      if (times) times[1] = Math.round(performance.now() - t0);
    };
  }
  const onProgress = (p: Readonly<RunProgress>) => {
    latest = p;
    const at = performance.now() - t0;
    if (timeline.exportEndMs === undefined && p.planned > 0 && p.finished === p.planned) {
      timeline.exportEndMs = at;
      if (input.afterExport?.slots !== undefined && deps.content) raiseSlots(deps.content, input.afterExport.slots);
      timeline.requestsAtExportEnd = deps.http.stats().requests;
      const cpu = process.cpuUsage(cpu0);
      timeline.cpuAtExportEndMs = (cpu.user + cpu.system) / 1000;
    }
    const c = p.content;
    if (!c) return;
    timeline.batches = Math.max(timeline.batches, c.pending + c.settled + c.deferred);
    if (c.pending > 0 && timeline.firstHandoverMs === undefined) timeline.firstHandoverMs = at;
    if (c.pending === 0 && lastPending > 0) timeline.drainedMs = at;
    lastPending = c.pending;
  };
  const sampler = setInterval(() => {
    const r = deps.http.stats().requests;
    perSecond.push(r - lastRequests);
    lastRequests = r;
    timeline.pendingPerSecond.push(latest?.content?.pending ?? 0);
    timeline.slotsPerSecond.push(deps.content?.streamStats().active ?? 0);
    const m = process.memoryUsage();
    peaks.heapUsed = Math.max(peaks.heapUsed, m.heapUsed);
    peaks.heapTotal = Math.max(peaks.heapTotal, m.heapTotal);
    peaks.external = Math.max(peaks.external, m.external);
  }, 1000);

  // BENCH_MEM_TRACE=file writes process.memoryUsage() every 100 ms as CSV (where the peak comes from).
  const tracePath = process.env.BENCH_MEM_TRACE;
  const spaces = getHeapSpaceStatistics().map((x) => x.space_name);
  const trace: string[] = [['ms,rss,heapTotal,heapUsed,external,arrayBuffers', ...spaces.map((n) => `${n}:size,${n}:used`)].join(',')];
  let loSnapshotAt = Number(process.env.BENCH_SNAPSHOT_LO_MB ?? 0);
  const tracer = tracePath
    ? setInterval(() => {
        const m = process.memoryUsage();
        const stats = getHeapSpaceStatistics();
        const sp = stats.flatMap((x) => [x.space_size, x.space_used_size]);
        // BENCH_SNAPSHOT_LO_MB=n: one heap snapshot once the large-object space passes n MB.
        const lo = stats.find((x) => x.space_name === 'large_object_space')?.space_used_size ?? 0;
        if (loSnapshotAt > 0 && lo > loSnapshotAt * 2 ** 20) {
          loSnapshotAt = 0;
          process.stderr.write(`heap snapshot (large objects ${Math.round(lo / 2 ** 20)} MB): ${writeHeapSnapshot()}\n`);
        }
        trace.push([Math.round(performance.now()), m.rss, m.heapTotal, m.heapUsed, m.external, m.arrayBuffers, ...sp].join(','));
      }, 100)
    : undefined;
  // BENCH_HEAP_SNAPSHOT_AFTER_S=n writes a heap snapshot n seconds into the run (to see what holds memory).
  const snapshotAfter = Number(process.env.BENCH_HEAP_SNAPSHOT_AFTER_S ?? NaN);
  if (snapshotAfter > 0) setTimeout(() => process.stderr.write(`heap snapshot: ${writeHeapSnapshot()}\n`), snapshotAfter * 1000).unref();
  // BENCH_HEAP_SAMPLING=file: V8's sampling heap profiler over the run, collected objects included
  // (which allocation sites make the garbage), written as a .heapprofile.
  const samplingPath = process.env.BENCH_HEAP_SAMPLING;
  const session = samplingPath ? new Session() : undefined;
  if (session) {
    session.connect();
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 64 * 1024,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: process.env.BENCH_HEAP_SAMPLING_MINOR !== 'false',
    });
  }
  cpu0 = process.cpuUsage();
  t0 = performance.now();
  const runDeps: RunDeps = {
    ...deps,
    ...(input.leaseWriteFreshMs === undefined ? {} : { leaseWriteFreshMs: input.leaseWriteFreshMs }),
    ...(input.contentBatches === undefined ? {} : { contentBatches: input.contentBatches }),
    ...(input.afterExport?.batches === undefined ? {} : { contentBatchesAfterExport: input.afterExport.batches }),
  };
  const outcome = await runExport({ kind: 'daily', nowMs: input.nowMs }, runDeps, { onProgress });
  const wallMs = performance.now() - t0;
  if (outcome.progress.content) timeline.pool = { ...outcome.progress.content };
  if (deps.content) {
    timeline.fetcher = deps.content.stats();
    timeline.peakSlots = deps.content.streamStats().peak;
  }
  if (deps.contentBacklog) {
    let n = 0;
    for await (const row of deps.contentBacklog.pending()) if (row) n++;
    timeline.backlogPendingAfter = n;
  }
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  if (session) {
    const { profile } = await session.post('HeapProfiler.stopSampling');
    writeFileSync(samplingPath!, JSON.stringify(profile));
    session.disconnect();
  }
  if (tracer) {
    clearInterval(tracer);
    writeFileSync(tracePath!, `${trace.join('\n')}\n`);
  }

  const p = outcome.progress;
  const result: ScenarioResult = {
    status: outcome.status,
    ...(outcome.error ? { error: outcome.error } : {}),
    wallMs,
    planned: p.planned,
    done: p.done,
    skipped: p.skipped,
    failed: p.failed,
    received: p.received,
    messages: p.messages,
    duplicates: p.duplicates,
    quarantined: p.quarantined,
    pages: p.pages,
    blobs: p.blobs,
    bytes: p.bytes,
    graph: deps.http.stats(),
    perSecond,
    cpuUserMs: cpu.user / 1000,
    cpuSystemMs: cpu.system / 1000,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    peakHeapUsedBytes: peaks.heapUsed,
    peakHeapTotalBytes: peaks.heapTotal,
    peakExternalBytes: peaks.external,
    heapUsedAtEndBytes: process.memoryUsage().heapUsed,
    timeline,
  };
  // Written to a pipe, a long line is flushed asynchronously: wait for it before the process exits.
  await new Promise<void>((resolve, reject) =>
    process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`, (err) => (err ? reject(err) : resolve())),
  );
}

/**
 * Wraps run-lifecycle's planRun (run-in-process.js calls it through the module's exports object) so the
 * planned entities come teams first, users after, each kind in its own order.
 */
function planTeamsFirst(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const lifecycle = require('../src/export/run-lifecycle') as { planRun: typeof planRun };
  const plan = lifecycle.planRun;
  lifecycle.planRun = async (...args) => {
    const planned = await plan(...args);
    if ('entities' in planned) planned.entities.sort((a, b) => Number(a.kind !== 'team') - Number(b.kind !== 'team'));
    return planned;
  };
}

/** Raises the fetcher's process slots (ContentSlots.limit, private) and lets waiting downloads in at once. */
function raiseSlots(content: ContentFetcher, limit: number): void {
  const slots = (content as unknown as { slots: { limit: number; active: number; waiting: Array<{ grant: () => void }> } }).slots;
  slots.limit = limit;
  while (slots.active < slots.limit && slots.waiting.length > 0) slots.waiting.shift()?.grant();
}

/** The chat or channel id a hosted-content path names (`…/chats/{id}/messages/…`, `…/channels/{id}/messages/…`). */
export function conversationOf(url: string): string {
  const m = /\/(?:chats|channels)\/([^/?]+)\/messages\//.exec(url);
  return m ? decodeURIComponent(m[1] as string) : '?';
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`scenario failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
