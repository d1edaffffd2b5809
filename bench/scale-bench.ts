// The Functions app at scale (issue 13; docs/functions.md §3): a backfill of N planned entities through
// the real handlers (POST /api/backfills, then exportWorker for the planning message and every job),
// against Azurite in memory and the Graph emulator with a tenant of N users and no messages. Every
// Table, Queue and Blob Storage request goes through the storage proxy (emulator/storage-proxy.ts), so
// the figures are the storage operations actually made. Measures, per N: the HTTP answer (time and
// operations), planning and enqueueing N entities, and storage operations per finished job at the
// start and at the end of the run (they must not grow with N), with the run row's ETag conflicts.
//
//   npm run bench:scale -- [--entities 1000,10000,100000]
//     [--full-max 10000] [--sample 2000] [--concurrency 12]
//
// Runs of up to --full-max entities run every job to the run's close; larger ones plan and enqueue all
// N, then run the first --sample jobs (every job of such a run would take hours on a small machine).
import { HttpRequest, InvocationContext } from '@azure/functions';
import type { QueueClient } from '@azure/storage-queue';
import { QueueServiceClient } from '@azure/storage-queue';
import { startEmulator, trustCertificateInProcess } from '../emulator';
import { startAzurite } from '../emulator/azurite-process';
import { emulatorEnv } from '../emulator/emulator-env';
import {
  addStorageCounts,
  copyStorageCounts,
  diffStorageCounts,
  emptyStorageCounts,
  startStorageProxy,
  type StorageCounts,
  type StorageProxy,
  type StorageService,
} from '../emulator/storage-proxy';
import { createExportWorkerHandler } from '../functions/export-worker';
import { createStartBackfillHandler } from '../functions/start-backfill';
import { buildAppContext, type AppContext } from '../src/app/app-context';
import { silentLogger } from '../src/log';
import { DAY, HOUR, iso } from '../src/time';

export interface ScaleOptions {
  entities: number[];
  fullMax: number;
  sample: number;
  concurrency: number;
}

const USAGE =
  'usage: node dist-dev/bench/scale-bench.js [--entities 1000,10000,100000] [--full-max 10000] [--sample 2000] [--concurrency 12]';

export function parseScaleArgs(argv: readonly string[]): ScaleOptions {
  const o: ScaleOptions = { entities: [1000, 10_000, 100_000], fullMax: 10_000, sample: 2000, concurrency: 12 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    const value = argv[++i];
    const num = (v: string | undefined) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} needs a positive integer\n${USAGE}`);
      return n;
    };
    if (flag === '--entities') o.entities = (value ?? '').split(',').map(num);
    else if (flag === '--full-max') o.fullMax = num(value);
    else if (flag === '--sample') o.sample = num(value);
    else if (flag === '--concurrency') o.concurrency = num(value);
    else throw new Error(`unknown option ${flag}\n${USAGE}`);
  }
  return o;
}

/** Storage operations of one stretch of the run, by service. */
export type Ops = Record<StorageService, StorageCounts>;

export interface Stretch {
  jobs: number;
  ms: number;
  ops: Ops;
}

export interface ScaleResult {
  entities: number;
  http: { ms: number; status: number; ops: Ops };
  plan: { ms: number; planned: number; ops: Ops };
  /** Jobs run, and whether the run closed (every job ran). */
  jobsRun: number;
  closed: boolean;
  runStatus: string;
  /** The first and the last tenth of the jobs run (the last without the closing round). */
  start: Stretch;
  end: Stretch;
  /** The round in which the run closed (its last jobs, and the close's reading of every job row). */
  closing?: Stretch;
  jobsMs: number;
}

const opsOf = (f: (service: StorageService) => StorageCounts): Ops => ({ table: f('table'), queue: f('queue'), blob: f('blob') });
const snapshot = (p: StorageProxy): Ops => opsOf((s) => copyStorageCounts(p.counts(s)));
const since = (p: StorageProxy, before: Ops): Ops => opsOf((s) => diffStorageCounts(p.counts(s), before[s]));
const addOps = (a: Ops, b: Ops): Ops => opsOf((s) => addStorageCounts(a[s], b[s]));
const noOps = (): Ops => opsOf(() => emptyStorageCounts());
const sumStretch = (rounds: Stretch[]): Stretch =>
  rounds.reduce((acc, r) => ({ jobs: acc.jobs + r.jobs, ms: acc.ms + r.ms, ops: addOps(acc.ops, r.ops) }), {
    jobs: 0,
    ms: 0,
    ops: noOps(),
  });

let invocations = 0;
function invocation(functionName: string, triggerMetadata?: Record<string, unknown>): InvocationContext {
  return new InvocationContext({
    invocationId: `${functionName}-${++invocations}`,
    functionName,
    ...(triggerMetadata ? { triggerMetadata } : {}),
    logHandler: () => undefined,
  });
}

const decode = (text: string): unknown => JSON.parse(Buffer.from(text, 'base64').toString('utf8')) as unknown;

/** One backfill of `n` entities, from POST /api/backfills to the run's close (or `maxJobs` jobs). */
export async function measureScale(
  n: number,
  maxJobs: number,
  concurrency: number,
  progress: (line: string) => void,
): Promise<ScaleResult> {
  // A loaded machine can take a while to start Azurite.
  const azurite = await startAzurite({ timeoutMs: 180_000 });
  // Counts only: no log of the operations, no counts by entity (copied every round, they would grow with N).
  const proxy = await startStorageProxy(azurite.connectionString, { keepLog: false, byEntity: false });
  const now = Date.now();
  // N users and nothing else: every job asks Graph once and finds no data (every eighth user has no
  // mailbox and is skipped), so the storage work per job is the bookkeeping under measurement.
  const emulator = await startEmulator({
    tenant: { seed: 13, users: n, teams: 0, oneOnOneChats: 0, groupChats: 0, meetingChats: 0, deletedTeams: 0, endMs: now - 3 * DAY },
    faults: { hostedContentRps: null },
  });
  trustCertificateInProcess(emulator.caCertPem);
  const connectionString = proxy.connectionString;
  const queueName = 'scale-jobs';
  try {
    const ctx: AppContext = await buildAppContext(
      {
        ...emulatorEnv(emulator),
        EXPORT_STORAGE: connectionString,
        EXPORT_CONTAINER: 'scale',
        EXPORT_TABLE_PREFIX: 'scale',
        EXPORT_QUEUE: queueName,
        EXPORT_START: iso(now - 30 * DAY),
        GRAPH_MAX_RPS: '5000',
        // The handler is called directly, as the Functions host would after checking a key: no sign-in to emulate.
        HTTP_AUTH: 'function-keys',
      },
      { log: silentLogger },
    );
    const getCtx = () => Promise.resolve(ctx);
    const startBackfill = createStartBackfillHandler(getCtx);
    const worker = createExportWorkerHandler(getCtx);
    const queue: QueueClient = QueueServiceClient.fromConnectionString(connectionString).getQueueClient(queueName);

    // (c) POST /api/backfills for the whole tenant.
    let before = snapshot(proxy);
    let t0 = performance.now();
    const res = await startBackfill(
      new HttpRequest({
        method: 'POST',
        url: 'http://localhost:7071/api/backfills',
        body: { string: JSON.stringify({ from: iso(now - 2 * DAY), to: iso(now - HOUR) }) },
        headers: { 'content-type': 'application/json' },
      }),
      invocation('startBackfill'),
    );
    const http = { ms: performance.now() - t0, status: res.status ?? 200, ops: since(proxy, before) };
    const runId = (res.jsonBody as { runId: string }).runId;
    progress(`N=${n}: POST /api/backfills answered ${http.status} in ${http.ms.toFixed(0)} ms`);

    // (b) The planning message, run by the worker as the host would: list N users, write N job rows, send N messages.
    const {
      receivedMessageItems: [planMsg],
    } = await queue.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 3600 });
    if (!planMsg) throw new Error('no planning message on the queue');
    before = snapshot(proxy);
    t0 = performance.now();
    await worker(decode(planMsg.messageText), invocation('exportWorker', { dequeueCount: 1, id: planMsg.messageId }));
    await queue.deleteMessage(planMsg.messageId, planMsg.popReceipt);
    const planned = (await ctx.deps.runs.getRun(runId))?.planned ?? 0;
    const plan = { ms: performance.now() - t0, planned, ops: since(proxy, before) };
    progress(`N=${n}: planned and enqueued ${planned} entities in ${(plan.ms / 1000).toFixed(1)} s`);

    // (a) The jobs: the host's loop (receive, run up to `concurrency` at once, delete), in rounds.
    const rounds: Stretch[] = [];
    let closingRound: number | undefined;
    let jobsRun = 0;
    const jobsStart = performance.now();
    let lastReport = jobsStart;
    for (;;) {
      if (jobsRun >= maxJobs) break;
      const want = Math.min(32, concurrency, maxJobs - jobsRun);
      before = snapshot(proxy);
      t0 = performance.now();
      const { receivedMessageItems: items } = await queue.receiveMessages({ numberOfMessages: want, visibilityTimeout: 600 });
      if (items.length === 0) break;
      await Promise.all(
        items.map(async (m) => {
          await worker(decode(m.messageText), invocation('exportWorker', { dequeueCount: m.dequeueCount, id: m.messageId }));
          await queue.deleteMessage(m.messageId, m.popReceipt);
        }),
      );
      jobsRun += items.length;
      rounds.push({ jobs: items.length, ms: performance.now() - t0, ops: since(proxy, before) });
      if (closingRound === undefined && (await ctx.deps.runs.getRun(runId))?.finishedAtMs !== undefined) closingRound = rounds.length - 1;
      if (performance.now() - lastReport > 30_000) {
        lastReport = performance.now();
        progress(`N=${n}: ${jobsRun} jobs run (${((lastReport - jobsStart) / 1000).toFixed(0)} s)`);
      }
    }
    const jobsMs = performance.now() - jobsStart;
    const run = await ctx.deps.runs.getRun(runId);
    const regular = closingRound === undefined ? rounds : rounds.filter((_, i) => i !== closingRound);
    const tenth = Math.max(1, Math.floor(regular.length / 10));
    return {
      entities: n,
      http,
      plan,
      jobsRun,
      closed: run?.finishedAtMs !== undefined,
      runStatus: run?.status ?? 'missing',
      start: sumStretch(regular.slice(0, tenth)),
      end: sumStretch(regular.slice(-tenth)),
      ...(closingRound !== undefined ? { closing: rounds[closingRound] as Stretch } : {}),
      jobsMs,
    };
  } finally {
    await emulator.close();
    await proxy.close();
    await azurite.stop();
  }
}

const perJob = (count: number, jobs: number) => (jobs > 0 ? (count / jobs).toFixed(2) : '-');
const sumMatching = (c: StorageCounts, re: RegExp) => Object.entries(c.failures).reduce((s, [k, v]) => (re.test(k) ? s + v : s), 0);

/** The Markdown lines of one N's figures (what bench/RESULTS.md quotes). */
export function formatScale(r: ScaleResult): string[] {
  const line = (label: string, s: Stretch) =>
    `| ${label} | ${s.jobs} | ${perJob(s.ops.table.total, s.jobs)} | ${perJob(s.ops.queue.total, s.jobs)} | ${perJob(s.ops.blob.total, s.jobs)} | ${sumMatching(s.ops.table, /^412 /)} | ${s.jobs > 0 ? (s.ms / s.jobs).toFixed(1) : '-'} |`;
  const out = [
    `### N = ${r.entities.toLocaleString('en-US')}`,
    '',
    `- POST /api/backfills: ${r.http.status} in ${r.http.ms.toFixed(0)} ms; ${r.http.ops.table.total} table, ${r.http.ops.queue.total} queue, ${r.http.ops.blob.total} blob operations`,
    `- planning message (list ${r.plan.planned.toLocaleString('en-US')} users, write the job rows, send the job messages): ${(r.plan.ms / 1000).toFixed(1)} s; ${r.plan.ops.table.total.toLocaleString('en-US')} table (${perJob(r.plan.ops.table.total, r.plan.planned)}/entity), ${r.plan.ops.queue.total.toLocaleString('en-US')} queue (${perJob(r.plan.ops.queue.total, r.plan.planned)}/entity) operations`,
    `- jobs run: ${r.jobsRun.toLocaleString('en-US')} in ${(r.jobsMs / 1000).toFixed(0)} s; run ${r.closed ? `closed (${r.runStatus})` : `not run to the end (${r.runStatus})`}`,
    '',
    '| stretch | jobs | table ops/job | queue ops/job | blob ops/job | run-row 412s | ms/job (12 at once) |',
    '|---|---|---|---|---|---|---|',
    line('first tenth', r.start),
    line('last tenth', r.end),
    ...(r.closing ? [line('closing round', r.closing)] : []),
    '',
    `Table operations per job by kind, first tenth → last tenth: ${Object.keys({ ...r.start.ops.table.byOp, ...r.end.ops.table.byOp })
      .sort()
      .map((k) => `${k} ${perJob(r.start.ops.table.byOp[k] ?? 0, r.start.jobs)} → ${perJob(r.end.ops.table.byOp[k] ?? 0, r.end.jobs)}`)
      .join('; ')}`,
  ];
  if (r.closing)
    out.push(
      '',
      `Closing round, table operations by kind: ${Object.entries(r.closing.ops.table.byOp)
        .sort()
        .map(([k, v]) => `${k} ${v}`)
        .join('; ')}`,
    );
  return out;
}

async function main(): Promise<void> {
  const opts = parseScaleArgs(process.argv.slice(2));
  // Stopped by Ctrl-C or a kill: exit through 'exit', whose handler stops Azurite (emulator/azurite-process.ts).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  for (const n of opts.entities) {
    const maxJobs = n <= opts.fullMax ? Number.POSITIVE_INFINITY : opts.sample;
    const r = await measureScale(n, maxJobs, opts.concurrency, (l) => console.error(l));
    console.log(formatScale(r).join('\n'));
    console.log();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  });
}
