// One measured export, run as a child process of the benchmark so its peak RSS and CPU are the
// product's alone: the production path (loadSettings → buildDeps → runExport) with the settings it is
// given in its environment; prints one `BENCH_RESULT {json}` line on stdout.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { buildDeps } from '../src/deps';
import { runExport } from '../src/export/run-in-process';
import type { GraphStats } from '../src/graph/graph-http';
import { createLogger, jsonStderrSink } from '../src/log';
import { loadSettings } from '../src/settings';

export interface ScenarioInput {
  /** The daily run's "now" (the emulator's data ends an hour before it). */
  nowMs: number;
  /** The entity lease's write fence (RunDeps.leaseWriteFreshMs; 0: a renewal before every blob write, as before issue 22). */
  leaseWriteFreshMs?: number;
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
}

export const RESULT_PREFIX = 'BENCH_RESULT ';

async function main(): Promise<void> {
  const input = JSON.parse(process.env.BENCH_SCENARIO ?? '{}') as ScenarioInput;
  const settings = loadSettings(process.env);
  const log = createLogger(jsonStderrSink, 'warn');
  const deps = await buildDeps(settings, { log });

  const perSecond: number[] = [];
  let lastRequests = 0;
  const peaks = { heapUsed: 0, heapTotal: 0, external: 0 };
  const sampler = setInterval(() => {
    const r = deps.http.stats().requests;
    perSecond.push(r - lastRequests);
    lastRequests = r;
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
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const runDeps = input.leaseWriteFreshMs === undefined ? deps : { ...deps, leaseWriteFreshMs: input.leaseWriteFreshMs };
  const outcome = await runExport({ kind: 'daily', nowMs: input.nowMs }, runDeps);
  const wallMs = performance.now() - t0;
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
  };
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
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
