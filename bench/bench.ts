// `npm run bench`: measures the export through the production code path against the Graph emulator
// (own process, 100 ms latency, 200 requests/s throttling) and Azurite, for every profile of issue 14:
// first-run cost, tenant (1× and 4×), heavy, the one-request-at-a-time baseline, a run above the limit,
// the storage share (10 ms storage latency, Azurite pinned to one core), storage operations per blob
// with the time-bounded lease fence and with the fence before issue 22 (blobs) and the daily 10,000-user /
// 1,000-team profile and the content-heavy first run with hosted contents on and off (content, issue 22
// item 1), and Copilot interactions and meeting artifacts per user (artifacts, issue 23: bench/artifacts-bench.ts);
// prints the figures and writes them to bench/RESULTS.md. Each export runs in a child process of
// its own (bench/scenario.ts) so its peak RSS and CPU are the product's alone.
// `npm run bench -- --quick` runs a small version of every profile (a few minutes, nothing written).
import { BlobServiceClient } from '@azure/storage-blob';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAzurite } from '../emulator/azurite-process';
import { resourceOf, startStorageProxy, type StorageOperation, type StorageProxy } from '../emulator/storage-proxy';
import { DAY, HOUR, iso } from '../src/time';
import {
  productEnvFor,
  startEmulatorProcess,
  type EmulatorCountersJson,
  type EmulatorProcess,
  type EmulatorStatsJson,
} from './emulator-process';
import { formatArtifacts, runArtifactsProfile, withArtifactsSection } from './artifacts-bench';
import { withMallocEnv } from '../src/cli/malloc-env';
import { childPidsMatching, machineCpu, machineInfo, processCpuMs } from './machine';
import {
  contentShape,
  dailyShape,
  describeShape,
  firstRunShape,
  heavyShape,
  PROFILE_NAMES,
  seedFlags,
  tenantShape,
  type DailyActivity,
  type ProfileName,
  type TenantShape,
} from './profiles';
import {
  CONTENT_OFF,
  CONTENT_ON,
  contentLine,
  formatReport,
  GENERATED_SECTIONS,
  perBlobLine,
  type ContentArchive,
  type EntityCost,
  type PhaseCpu,
  type ScenarioReport,
} from './report';
import { RESULT_PREFIX, type ScenarioInput, type ScenarioResult } from './scenario';

export interface BenchOptions {
  profiles: Set<ProfileName>;
  scale: number;
  quick: boolean;
  latencyMs: number;
  jitterMs: number;
  limitRps: number;
  maxRps: number;
  overRps: number;
  concurrency: number;
  /** Scale of the daily profile (1 = 10,000 users and 1,000 teams). */
  dailyScale: number;
  /** Latency the storage-share run adds in front of Azurite (real Blob Storage answers in a few ms). */
  storageLatencyMs: number;
  cpuProf: boolean;
  write: boolean;
  /** Run only the scenarios whose name starts with one of these (for profiling one of them). */
  only: string[];
  /** The content profile's Graph latency (issue 22 measured its content-heavy first run at 60 ms). */
  contentLatencyMs: number;
  /** The content profile's scale (1: 100 users and 10 teams, ~21,000 versions); --scale multiplies it. */
  contentScale: number;
  /**
   * The content-on run's product knobs, when given (bench only, to see what a product parameter is worth):
   * the pool's batches at once (RunDeps.contentBatches), EXPORT_CONTENT_CONCURRENCY and
   * EXPORT_CONTENT_PROCESS_CONCURRENCY.
   */
  contentBatches?: number;
  contentJobConcurrency?: number;
  contentProcessConcurrency?: number;
  /** Also write every scenario's full report (timelines included) to this JSON file. */
  saveJson?: string;
  /** The content profile's runs through the counting storage proxy (no latency): storage operations by class. */
  contentCountStorage: boolean;
  /** A what-if for the content-on run: its entities planned teams first (the product plans users first). */
  contentTeamsFirst: boolean;
  /** A what-if for the content-on run: the pool's batches and the process slots once the export has ended. */
  contentAfterExportBatches?: number;
  contentAfterExportSlots?: number;
}

const USAGE = `usage: npm run bench -- [--quick] [--profile first-run|tenant|heavy|storage|blobs|daily|content|artifacts|all]... [--scale N]
  [--latency-ms 100] [--jitter-ms 20] [--limit-rps 200] [--max-rps <limit>] [--over-rps 1.5×limit]
  [--concurrency 40] [--daily-scale 1] [--storage-latency-ms 10] [--cpu-prof] [--no-write] [--only <scenario name prefix>]...
  [--content-latency-ms 60] [--content-scale 1] [--content-batches N] [--content-job-concurrency N] [--content-process-concurrency N]
  [--content-count-storage] [--content-teams-first] [--content-after-export-batches N] [--content-after-export-slots N]
  [--save-json FILE]
  --save-json writes every scenario's full report (the content timelines included) to FILE, to analyse later.
  --quick runs a small version of every profile (a few minutes) and does not write bench/RESULTS.md.
  --profile artifacts (issue 23, < 1 minute; part of the default run): Copilot interactions and meeting
    transcripts/recordings beside the same users' chats, in a first run, a daily run with nothing new and a
    daily run with a few new items: Graph requests and storage operations per Copilot user (licensed,
    unlicensed), per organiser, per member who organised nothing, per interaction and per artifact
    (bench/artifacts-bench.ts; BENCH_ARTIFACTS_USERS=N for another size). Its section of bench/RESULTS.md is
    replaced on its own, the rest is left as it is.
  --profile content (issue 22 item 1, ~2-3 minutes; part of the default run, and alone with
    \`npm run bench -- --profile content --no-write\`): the tenant shape at 100 users and 10 teams with hosted
    contents in 5% of the messages, exported twice in one invocation, with EXPORT_HOSTED_CONTENTS=false and
    =true, at --content-latency-ms (60) and --limit-rps (200). It reports the export's wall time (until the
    last entity job finished) and the whole run's (until the content backlog drained), their ratio, the
    content requests, the content maps' statuses and the backlog's wall time against its floor.
    --content-scale multiplies its size; --content-batches (RunDeps.contentBatches, default 8 while the
    jobs export),
    --content-job-concurrency (EXPORT_CONTENT_CONCURRENCY, 4) and --content-process-concurrency
    (EXPORT_CONTENT_PROCESS_CONCURRENCY, 8) change the content-on run's product knobs (bench only);
    --content-teams-first reorders the content-on run's plan, teams before users, in the scenario process
    (kept for older comparisons: an in-process run now starts its team jobs first itself); --content-count-storage sends both
    runs through the counting storage proxy (no latency) for storage operations by what they touched;
    --content-after-export-batches (RunDeps.contentBatchesAfterExport, default 64) sets the pool's batches
    once the last entity job has finished; --content-after-export-slots raises the process slots then (a
    what-if: the product keeps EXPORT_CONTENT_PROCESS_CONCURRENCY for the run).`;

export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const o: BenchOptions = {
    profiles: new Set(PROFILE_NAMES),
    scale: 1,
    quick: false,
    latencyMs: 100,
    jitterMs: 20,
    limitRps: 200,
    maxRps: NaN,
    overRps: NaN,
    concurrency: 40,
    dailyScale: 1,
    storageLatencyMs: 10,
    cpuProf: false,
    write: true,
    only: [],
    contentLatencyMs: 60,
    contentScale: 1,
    contentCountStorage: false,
    contentTeamsFirst: false,
  };
  let profilesGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${flag} needs a positive number\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case '--profile': {
        const v = argv[++i] ?? '';
        if (!profilesGiven) o.profiles = new Set();
        profilesGiven = true;
        if (v === 'all') PROFILE_NAMES.forEach((p) => o.profiles.add(p));
        else if ((PROFILE_NAMES as readonly string[]).includes(v)) o.profiles.add(v as ProfileName);
        else throw new Error(`--profile must be one of ${PROFILE_NAMES.join(', ')} or all\n${USAGE}`);
        break;
      }
      case '--scale':
        o.scale = num();
        break;
      case '--quick':
        o.quick = true;
        break;
      case '--latency-ms':
        o.latencyMs = num();
        break;
      case '--jitter-ms':
        o.jitterMs = num();
        break;
      case '--limit-rps':
        o.limitRps = num();
        break;
      case '--max-rps':
        o.maxRps = num();
        break;
      case '--over-rps':
        o.overRps = num();
        break;
      case '--concurrency':
        o.concurrency = Math.round(num());
        break;
      case '--daily-scale':
        o.dailyScale = num();
        break;
      case '--storage-latency-ms':
        o.storageLatencyMs = num();
        break;
      case '--cpu-prof':
        o.cpuProf = true;
        break;
      case '--no-write':
        o.write = false;
        break;
      case '--only':
        o.only.push(argv[++i] ?? '');
        break;
      case '--content-latency-ms':
        o.contentLatencyMs = num();
        break;
      case '--content-scale':
        o.contentScale = num();
        break;
      case '--content-batches':
        o.contentBatches = Math.round(num());
        break;
      case '--content-job-concurrency':
        o.contentJobConcurrency = Math.round(num());
        break;
      case '--content-process-concurrency':
        o.contentProcessConcurrency = Math.round(num());
        break;
      case '--content-count-storage':
        o.contentCountStorage = true;
        break;
      case '--content-teams-first':
        o.contentTeamsFirst = true;
        break;
      case '--content-after-export-batches':
        o.contentAfterExportBatches = Math.round(num());
        break;
      case '--content-after-export-slots':
        o.contentAfterExportSlots = Math.round(num());
        break;
      case '--save-json':
        o.saveJson = argv[++i] ?? '';
        break;
      case '--help':
      case '-h':
        throw new Error(USAGE);
      default:
        throw new Error(`unknown flag ${flag}\n${USAGE}`);
    }
  }
  if (Number.isNaN(o.maxRps)) o.maxRps = o.limitRps;
  if (Number.isNaN(o.overRps)) o.overRps = Math.round(o.limitRps * 1.5);
  return o;
}

export type ScenarioKind = 'export' | 'first-run' | 'daily';

export interface ScenarioSpec {
  name: string;
  kind: ScenarioKind;
  shape: TenantShape;
  seed: number;
  concurrency: number;
  maxRps: number;
  /** EXPORT_READS_PER_ENTITY for this scenario (the product's default when absent). */
  readsPerEntity?: number;
  /** EXPORT_START (default: a day before the seeded history). */
  exportStart?: string;
  /** Storage behind the counting proxy, with this latency per request and Azurite pinned to one core. */
  storage?: { latencyMs: number; pinAzurite: boolean };
  /** daily: the day's new activity (the first run before it is set-up, not measured). */
  activity?: DailyActivity;
  /** The lease's write fence (RunDeps.leaseWriteFreshMs): 0 renews before every blob write (before issue 22). */
  leaseWriteFreshMs?: number;
  /** EXPORT_HOSTED_CONTENTS (false when absent: message throughput is what the other profiles measure). */
  hostedContents?: boolean;
  /** The emulator's latency for this scenario (BenchOptions.latencyMs when absent). */
  latencyMs?: number;
  /** RunDeps.contentBatches (the content pool's batches at once). */
  contentBatches?: number;
  /** More of the product's settings (EXPORT_CONTENT_CONCURRENCY, EXPORT_CONTENT_PROCESS_CONCURRENCY). */
  env?: Record<string, string>;
  /** ScenarioInput.teamsFirst: a what-if, the entities planned teams first. */
  teamsFirst?: boolean;
  /** ScenarioInput.afterExport: a what-if, more batches and slots once the export has ended. */
  afterExport?: { batches?: number; slots?: number };
}

/** The scenario names of the blobs profile's pair (report.ts compares them). */
export const BLOBS_NEW = 'blobs: tenant 1×, time-bounded fence';
export const BLOBS_OLD = 'blobs: tenant 1×, old fence (renewal before every write)';

/** The scenarios of one invocation, in the order they run. */
export function planScenarios(o: BenchOptions): ScenarioSpec[] {
  // The full run keeps the tenant and heavy profiles at half the size of issue 14's first figures so the
  // whole bench ends in ~20 minutes on 2 cores; --scale multiplies, --quick shrinks to a smoke run.
  const s = o.quick ? 0.01 * o.scale : 0.5 * o.scale;
  const heavyPerEntity = o.quick ? 2000 : 20_000;
  const list: ScenarioSpec[] = [];
  const base = { kind: 'export' as const, concurrency: o.concurrency, maxRps: o.maxRps };
  if (o.profiles.has('first-run'))
    list.push({
      ...base,
      name: 'first run (EXPORT_START 2016-01-01)',
      kind: 'first-run',
      shape: firstRunShape(o.quick),
      seed: 21,
      exportStart: '2016-01-01T00:00:00Z',
      // Through the counting proxy (no latency): storage operations per empty entity too.
      storage: { latencyMs: 0, pinAzurite: false },
    });
  if (o.profiles.has('tenant')) {
    list.push({ ...base, name: 'tenant 1×', shape: tenantShape(s), seed: 11 });
    list.push({ ...base, name: 'tenant 4×', shape: tenantShape(4 * s), seed: 11 });
  }
  // Few entities with long backlogs: the configuration for such tenants reads sub-windows in parallel.
  if (o.profiles.has('heavy')) list.push({ ...base, name: 'heavy', shape: heavyShape(s, heavyPerEntity), seed: 12, readsPerEntity: 8 });
  if (o.profiles.has('tenant')) {
    // Open-source exporters walk one entity, one page at a time: same code, one request in flight.
    list.push({ ...base, name: 'baseline (1 at a time)', shape: tenantShape(s / 50), seed: 11, concurrency: 1 });
    // Above the emulator's limit the run must still finish without loss, reporting its 429s.
    list.push({ ...base, name: `over limit (${o.overRps}/s)`, shape: tenantShape(s / 10), seed: 13, maxRps: o.overRps });
  }
  if (o.profiles.has('storage'))
    list.push({
      ...base,
      name: `tenant 1×, storage +${o.storageLatencyMs} ms`,
      shape: tenantShape(s),
      seed: 11,
      storage: { latencyMs: o.storageLatencyMs, pinAzurite: true },
    });
  if (o.profiles.has('blobs')) {
    // Storage operations per blob written, counted by a proxy without latency, with the lease fence of
    // issue 22 (a write needs no renewal while the last one is recent) and with the fence before it (a
    // renewal before every blob write): the same tenant, one after the other in the same run.
    const counted = { ...base, shape: tenantShape(s), seed: 11, storage: { latencyMs: 0, pinAzurite: false } };
    list.push({ ...counted, name: BLOBS_NEW });
    list.push({ ...counted, name: BLOBS_OLD, leaseWriteFreshMs: 0 });
  }
  if (o.profiles.has('daily')) {
    // --quick: 300 users and 30 teams, so the quick run stays within a few minutes.
    const d = dailyShape((o.quick ? 0.03 : 1) * o.dailyScale);
    list.push({
      ...base,
      name: `daily ${d.shape.users.toLocaleString('en-US')} users / ${d.shape.teams.toLocaleString('en-US')} teams`,
      kind: 'daily',
      shape: d.shape,
      seed: 31,
      activity: d.activity,
      storage: { latencyMs: 0, pinAzurite: false },
    });
  }
  if (o.profiles.has('content')) {
    // Issue 22 item 1's content-heavy first run: the same tenant exported without and with hosted
    // contents, one after the other, each with a fresh emulator and Azurite (the off run first).
    const shape = contentShape((o.quick ? 0.01 : 0.05) * o.contentScale * o.scale);
    const same = {
      ...base,
      shape,
      seed: 11,
      latencyMs: o.contentLatencyMs,
      ...(o.contentCountStorage ? { storage: { latencyMs: 0, pinAzurite: false } } : {}),
    };
    list.push({ ...same, name: CONTENT_OFF, hostedContents: false });
    list.push({
      ...same,
      name: CONTENT_ON,
      hostedContents: true,
      ...(o.contentBatches !== undefined ? { contentBatches: o.contentBatches } : {}),
      ...(o.contentTeamsFirst ? { teamsFirst: true } : {}),
      ...(o.contentAfterExportBatches !== undefined || o.contentAfterExportSlots !== undefined
        ? {
            afterExport: {
              ...(o.contentAfterExportBatches !== undefined ? { batches: o.contentAfterExportBatches } : {}),
              ...(o.contentAfterExportSlots !== undefined ? { slots: o.contentAfterExportSlots } : {}),
            },
          }
        : {}),
      env: {
        ...(o.contentJobConcurrency !== undefined ? { EXPORT_CONTENT_CONCURRENCY: String(o.contentJobConcurrency) } : {}),
        ...(o.contentProcessConcurrency !== undefined ? { EXPORT_CONTENT_PROCESS_CONCURRENCY: String(o.contentProcessConcurrency) } : {}),
      },
    });
  }
  return o.only.length === 0 ? list : list.filter((x) => o.only.some((p) => x.name.startsWith(p)));
}

/** The product's environment for one export against this emulator and storage. */
function productEnv(
  spec: ScenarioSpec,
  emulator: EmulatorProcess,
  connectionString: string,
  input: ScenarioInput,
  exportStart: string,
  overrides: { maxRps?: number; concurrency?: number } = {},
): Record<string, string> {
  if (spec.leaseWriteFreshMs !== undefined) input = { ...input, leaseWriteFreshMs: spec.leaseWriteFreshMs };
  if (spec.contentBatches !== undefined) input = { ...input, contentBatches: spec.contentBatches };
  if (spec.teamsFirst) input = { ...input, teamsFirst: true };
  if (spec.afterExport) input = { ...input, afterExport: spec.afterExport };
  return {
    ...(process.env as Record<string, string>),
    ...productEnvFor(emulator.info),
    GRAPH_MAX_RPS: String(overrides.maxRps ?? spec.maxRps),
    GRAPH_PAGE_SIZE: String(PAGE_SIZE),
    EXPORT_STORAGE: connectionString,
    EXPORT_CONTAINER: 'bench-export',
    EXPORT_TABLE_PREFIX: 'bench',
    EXPORT_START: exportStart,
    // EXPORT_CHUNK stays at its default (none): each pass is one window, as in production.
    EXPORT_CONCURRENCY: String(overrides.concurrency ?? spec.concurrency),
    ...(spec.readsPerEntity ? { EXPORT_READS_PER_ENTITY: String(spec.readsPerEntity) } : {}),
    EXPORT_USERS: spec.shape.exportUsers ? 'all' : 'none',
    EXPORT_TEAMS: 'all',
    // Message export throughput is what is measured; hosted-content downloads are bounded by Graph's
    // ~1 request/s per chat, not by the product, and would only measure that limit. The content
    // profile measures them (and that the export no longer waits for them).
    EXPORT_HOSTED_CONTENTS: spec.hostedContents === true ? 'true' : 'false',
    EXPORT_ATTACHMENTS: 'false',
    ...(spec.env ?? {}),
    LOG_LEVEL: 'warn',
    BENCH_SCENARIO: JSON.stringify(input),
  };
}

export const PAGE_SIZE = 50;

/** Entities Graph serves, split by whether the measured run has anything new for them. */
function entityCost(
  ids: readonly string[],
  versions: Record<string, number>,
  counters: EmulatorCountersJson,
  storage: StorageProxy | undefined,
): EntityCost {
  const byEntity = counters.exportRequestsByEntity ?? {};
  let requests = 0;
  let maxRequests = 0;
  let pages = 0;
  let storageOps = 0;
  let maxStorageOps = 0;
  for (const id of ids) {
    const r = byEntity[id] ?? 0;
    requests += r;
    maxRequests = Math.max(maxRequests, r);
    pages += Math.max(1, Math.ceil((versions[id] ?? 0) / PAGE_SIZE));
    const so = storage?.counts().byEntity[id.toLowerCase()] ?? 0;
    storageOps += so;
    maxStorageOps = Math.max(maxStorageOps, so);
  }
  return { entities: ids.length, requests, maxRequests, wholeReadPages: pages, storageOps, maxStorageOps };
}

async function runScenario(spec: ScenarioSpec, o: BenchOptions, log: (line: string) => void): Promise<ScenarioReport> {
  log(
    `\n▶ ${spec.name}: ${describeShape(spec.shape)}; concurrency ${spec.concurrency}, GRAPH_MAX_RPS ${spec.maxRps}${spec.readsPerEntity ? `, EXPORT_READS_PER_ENTITY ${spec.readsPerEntity}` : ''}${spec.storage?.latencyMs ? `, storage +${spec.storage.latencyMs} ms` : ''}${spec.leaseWriteFreshMs !== undefined ? `, lease writeFreshMs ${spec.leaseWriteFreshMs}` : ''}${spec.latencyMs !== undefined ? `, Graph latency ${spec.latencyMs} ms` : ''}${spec.hostedContents !== undefined ? `, EXPORT_HOSTED_CONTENTS=${spec.hostedContents}` : ''}${spec.contentBatches !== undefined ? `, content batches ${spec.contentBatches}` : ''}${spec.teamsFirst ? ', teams planned first (what-if)' : ''}${spec.afterExport ? `, after the export ${JSON.stringify(spec.afterExport)} (what-if)` : ''}${Object.entries(
      spec.env ?? {},
    )
      .map(([k, v]) => `, ${k}=${v}`)
      .join('')}`,
  );
  const seededAt = Date.now();
  const daily = spec.kind === 'daily' && spec.activity !== undefined;
  // The daily profile's "today": its first run ran a day earlier, over a history that ended before it.
  const nowMs = Date.now();
  const firstNowMs = daily ? nowMs - DAY : nowMs;
  const latencyMs = spec.latencyMs ?? o.latencyMs;
  const graphFlags = ['--latency-ms', String(latencyMs), '--jitter-ms', String(o.jitterMs), '--rate-limit-rps', String(o.limitRps)];
  const shape: TenantShape = daily ? { ...spec.shape, endsBeforeNowMs: 2 * DAY + 2 * HOUR } : spec.shape;
  const [azurite, emulator] = await Promise.all([
    // A machine shared with other work can take a while to start it.
    startAzurite({ timeoutMs: 120_000 }),
    // The daily profile's set-up runs without latency or limit; they are switched on before the measured run.
    startEmulatorProcess([...seedFlags(shape, spec.seed, nowMs), ...(daily ? [] : graphFlags)]),
  ]);
  const azuritePid = childPidsMatching('azurite')[0];
  let proxy: StorageProxy | undefined;
  /** Storage operations by what they touched (opClass), counted by the proxy's gate. */
  let byClass: Record<string, number> = {};
  try {
    if (spec.storage) {
      proxy = await startStorageProxy(azurite.connectionString, {
        latencyMs: spec.storage.latencyMs,
        keepLog: false,
        // Per-entity counts serve the first-run and daily costs only (a regex per operation otherwise).
        byEntity: spec.kind !== 'export',
        gate: (op) => {
          const k = opClass(op);
          byClass[k] = (byClass[k] ?? 0) + 1;
          return 'forward';
        },
      });
      if (spec.storage.pinAzurite && azuritePid !== undefined) {
        const pinned = spawnSync('taskset', ['-pc', '1', String(azuritePid)], { encoding: 'utf8' });
        log(
          pinned.status === 0
            ? '  Azurite pinned to core 1 (taskset)'
            : `  taskset not available: Azurite not pinned (${pinned.error?.message ?? pinned.stderr})`,
        );
      }
    }
    const connectionString = proxy?.connectionString ?? azurite.connectionString;
    let stats: EmulatorStatsJson = await emulator.stats();
    log(`  seeded in ${((Date.now() - seededAt) / 1000).toFixed(1)} s: ${stats.entityVersions} versions for the exported entities`);
    const exportStart = spec.exportStart ?? iso(firstNowMs - (spec.shape.historyDays + 2) * DAY);
    let setup: ScenarioReport['setup'];
    let busy = new Set<string>();
    if (daily && spec.activity) {
      // Set-up: the first run a day ago, fast (no latency, no limit), so the measured run is a steady-state day.
      const t0 = Date.now();
      const first = await runChild(
        productEnv(spec, emulator, azurite.connectionString, { nowMs: firstNowMs }, exportStart, { maxRps: 5000 }),
        undefined,
        log,
      );
      const before = stats;
      const act = await emulator.activity({ ...spec.activity, fromMs: firstNowMs + HOUR, toMs: nowMs - 2 * HOUR });
      stats = await emulator.stats();
      const all = { ...stats.versionsByEntity.users, ...stats.versionsByEntity.teams };
      const old = { ...before.versionsByEntity.users, ...before.versionsByEntity.teams };
      busy = new Set(Object.keys(all).filter((id) => all[id] !== old[id]));
      setup = {
        seconds: (Date.now() - t0) / 1000,
        firstRunVersions: first.messages,
        firstRunRequests: first.graph.requests,
        posted: act.posted,
      };
      log(
        `  set-up: first run a day earlier in ${setup.seconds.toFixed(1)} s (${first.messages} versions, ${first.graph.requests} requests); today ${act.posted} new messages in ${act.chats} chats and ${act.teams} teams (${busy.size} busy entities)`,
      );
      await emulator.setFaults({ latencyMs, jitterMs: o.jitterMs, rateLimitRps: o.limitRps });
    }
    await emulator.resetCounters();
    proxy?.reset();
    byClass = {};
    const env = productEnv(spec, emulator, connectionString, { nowMs }, exportStart);
    const machine0 = machineCpu();
    const emuCpu0 = processCpuMs(emulator.pid);
    const azCpu0 = azuritePid === undefined ? undefined : processCpuMs(azuritePid);
    // The content profile: the machine's, Azurite's and the emulator's CPU every 250 ms, to split the run
    // at the export's end.
    const samples: CpuSample[] = [];
    const sample = () => samples.push(cpuSample(azuritePid, emulator.pid));
    const sampler = spec.hostedContents === undefined ? undefined : setInterval(sample, 250);
    const result = await runChild(env, o.cpuProf ? spec.name : undefined, log);
    if (sampler) {
      clearInterval(sampler);
      sample();
    }
    const exportPhase = phaseCpu(samples, result);
    const machine1 = machineCpu();
    const emuCpu1 = processCpuMs(emulator.pid);
    const azCpu1 = azuritePid === undefined ? undefined : processCpuMs(azuritePid);
    const counters: EmulatorCountersJson = await emulator.counters(true);
    // The content profile: what the archive's content maps say, against what the tenant's messages name.
    let content: ContentArchive | undefined;
    if (spec.hostedContents) {
      // Straight from Azurite, not through the counting proxy: the bench's reads are not the product's.
      const { refBatches, ...maps } = await readContentMaps(azurite.connectionString);
      content = { ...maps, expected: await emulator.hostedContents() };
      const bound = handoverBound(refBatches, result.timeline.batchTimes, Number(spec.env?.GRAPH_HOSTED_CONTENT_RPS ?? 1));
      if (bound) content.handoverBound = bound;
    }
    // What one entity costs: empty vs with data (first run), idle vs busy (daily).
    const versions = { ...stats.versionsByEntity.users, ...stats.versionsByEntity.teams };
    const ids = Object.keys(versions);
    let costs: ScenarioReport['costs'];
    if (spec.kind === 'first-run') {
      const empty = ids.filter((id) => (versions[id] ?? 0) === 0);
      const withData = ids.filter((id) => (versions[id] ?? 0) > 0);
      costs = {
        a: { label: 'empty', ...entityCost(empty, versions, counters, proxy) },
        b: { label: 'with data', ...entityCost(withData, versions, counters, proxy) },
      };
    } else if (daily) {
      costs = {
        a: {
          label: 'idle',
          ...entityCost(
            ids.filter((id) => !busy.has(id)),
            {},
            counters,
            proxy,
          ),
        },
        b: {
          label: 'busy',
          ...entityCost(
            ids.filter((id) => busy.has(id)),
            {},
            counters,
            proxy,
          ),
        },
      };
    }
    const report: ScenarioReport = {
      name: spec.name,
      kind: spec.kind,
      shape: spec.shape,
      concurrency: spec.concurrency,
      maxRps: spec.maxRps,
      ...(spec.readsPerEntity ? { readsPerEntity: spec.readsPerEntity } : {}),
      ...(spec.storage ? { storage: spec.storage } : {}),
      limitRps: o.limitRps,
      expectedVersions: daily ? stats.entityVersions - (setup?.firstRunVersions ?? 0) : stats.entityVersions,
      result,
      emulator: { ...counters, exportRequestsByEntity: {} },
      emulatorCpuMs: emuCpu0 !== undefined && emuCpu1 !== undefined ? emuCpu1 - emuCpu0 : undefined,
      azuriteCpuMs: azCpu0 !== undefined && azCpu1 !== undefined ? azCpu1 - azCpu0 : undefined,
      machineBusy:
        machine0 && machine1 ? (machine1.busyMs - machine0.busyMs) / Math.max(1, machine1.totalMs - machine0.totalMs) : undefined,
      ...(proxy
        ? {
            storageOps: {
              total: proxy.counts().total,
              byKind: { ...proxy.counts().byKind },
              byService: { ...proxy.counts().byService },
              byComp: { ...proxy.counts().byComp },
              byClass: { ...byClass },
            },
          }
        : {}),
      ...(costs ? { costs } : {}),
      ...(setup ? { setup } : {}),
      ...(spec.latencyMs !== undefined ? { latencyMs: spec.latencyMs } : {}),
      ...(spec.hostedContents !== undefined ? { hostedContents: spec.hostedContents } : {}),
      ...(spec.contentBatches !== undefined ? { contentBatches: spec.contentBatches } : {}),
      ...(spec.teamsFirst ? { teamsFirst: true } : {}),
      ...(spec.afterExport ? { afterExport: spec.afterExport } : {}),
      ...(spec.env && Object.keys(spec.env).length > 0 ? { env: spec.env } : {}),
      ...(content ? { content } : {}),
      ...(exportPhase ? { exportPhase } : {}),
    };
    const r = result;
    log(
      `  ${r.status} in ${(r.wallMs / 1000).toFixed(1)} s: ${r.messages} versions (${Math.round(r.messages / (r.wallMs / 1000))}/s), ` +
        `${r.graph.requests} requests (${(r.graph.requests / (r.wallMs / 1000)).toFixed(0)}/s), 429s ${r.graph.throttled}, ` +
        `${r.blobs} blobs, peak RSS ${(r.peakRssBytes / 2 ** 20).toFixed(0)} MB (heap used ${(r.peakHeapUsedBytes / 2 ** 20).toFixed(0)}, heap total ${(r.peakHeapTotalBytes / 2 ** 20).toFixed(0)}, external ${(r.peakExternalBytes / 2 ** 20).toFixed(0)}), CPU ${((r.cpuUserMs + r.cpuSystemMs) / 1000).toFixed(1)} s` +
        ` (emulator ${((report.emulatorCpuMs ?? NaN) / 1000).toFixed(1)} s, Azurite ${((report.azuriteCpuMs ?? NaN) / 1000).toFixed(1)} s, machine ${((report.machineBusy ?? NaN) * 100).toFixed(0)}% busy)` +
        (report.storageOps ? `, ${report.storageOps.total} storage operations` : ''),
    );
    if (report.storageOps && r.blobs > 0) log(`  storage operations per blob: ${perBlobLine(report.storageOps, r.blobs)}`);
    if (spec.hostedContents !== undefined) log(`  ${contentLine(report)}`);
    if (costs)
      for (const c of [costs.a, costs.b])
        log(
          `  ${c.entities} ${c.label} entities: ${(c.requests / Math.max(1, c.entities)).toFixed(2)} Graph requests each (max ${c.maxRequests})` +
            (proxy ? `, ${(c.storageOps / Math.max(1, c.entities)).toFixed(2)} storage operations each (max ${c.maxStorageOps})` : ''),
        );
    return report;
  } finally {
    await Promise.all([emulator.stop(), azurite.stop(), proxy?.close()]);
  }
}

interface CpuSample {
  atMs: number;
  machine: ReturnType<typeof machineCpu>;
  azuriteMs: number | undefined;
  emulatorMs: number | undefined;
}

function cpuSample(azuritePid: number | undefined, emulatorPid: number): CpuSample {
  return {
    atMs: Date.now(),
    machine: machineCpu(),
    azuriteMs: azuritePid === undefined ? undefined : processCpuMs(azuritePid),
    emulatorMs: processCpuMs(emulatorPid),
  };
}

/**
 * CPU from the child's start of runExport to the end of its export (the last entity job), from the
 * samples nearest to each: the child's runExport started result.wallMs before the last sample (its exit
 * takes a few ms more, so this is a little early).
 */
function phaseCpu(samples: CpuSample[], result: ScenarioResult): PhaseCpu | undefined {
  const endMs = result.timeline.exportEndMs;
  const last = samples[samples.length - 1];
  if (endMs === undefined || result.timeline.cpuAtExportEndMs === undefined || !last) return undefined;
  const t0 = last.atMs - result.wallMs;
  const nearest = (at: number) => samples.reduce((best, s) => (Math.abs(s.atMs - at) < Math.abs(best.atMs - at) ? s : best));
  const a = nearest(t0);
  const b = nearest(t0 + endMs);
  const diff = (x: number | undefined, y: number | undefined) => (x === undefined || y === undefined ? NaN : (y - x) / 1000);
  return {
    seconds: endMs / 1000,
    productCpuS: result.timeline.cpuAtExportEndMs / 1000,
    azuriteCpuS: diff(a.azuriteMs, b.azuriteMs),
    emulatorCpuS: diff(a.emulatorMs, b.emulatorMs),
    machineBusy: a.machine && b.machine ? (b.machine.busyMs - a.machine.busyMs) / Math.max(1, b.machine.totalMs - a.machine.totalMs) : NaN,
  };
}

/**
 * The content maps (`*.content.json`) of the archive: their entries by status and kind, and the
 * distinct hosted-content references (conversation, message, id) by conversation and by status.
 */
async function readContentMaps(
  connectionString: string,
): Promise<Omit<ContentArchive, 'expected'> & { refBatches: Map<string, { conversation: string; batches: string[] }> }> {
  const container = BlobServiceClient.fromConnectionString(connectionString).getContainerClient('bench-export');
  const out: Omit<ContentArchive, 'expected'> = {
    maps: 0,
    entries: 0,
    byStatus: {},
    byKind: {},
    refs: 0,
    refsByStatus: {},
    refsByConversation: {},
  };
  const seen = new Map<string, string>();
  /** Every distinct reference's conversation and the batches that name it. */
  const refBatches = new Map<string, { conversation: string; batches: string[] }>();
  for await (const b of container.listBlobsFlat()) {
    if (!b.name.endsWith('.content.json')) continue;
    out.maps++;
    const batch = b.name.replace(/\.content\.json$/, '.jsonl.gz');
    const doc = JSON.parse((await container.getBlobClient(b.name).downloadToBuffer()).toString('utf8')) as {
      entries?: Array<{ conversationId: string; messageId: string; kind: string; ref: string; status: string }>;
    };
    for (const e of doc.entries ?? []) {
      out.entries++;
      out.byStatus[e.status] = (out.byStatus[e.status] ?? 0) + 1;
      out.byKind[e.kind] = (out.byKind[e.kind] ?? 0) + 1;
      if (e.kind !== 'hostedContent') continue;
      const k = `${e.conversationId}|${e.messageId}|${e.ref}`;
      const named = refBatches.get(k) ?? { conversation: e.conversationId, batches: [] };
      named.batches.push(batch);
      refBatches.set(k, named);
      const before = seen.get(k);
      // One reference in several maps (a chat's message in each member's batch): stored if stored anywhere.
      if (before === undefined) out.refsByConversation[e.conversationId] = (out.refsByConversation[e.conversationId] ?? 0) + 1;
      if (before === undefined || (before !== 'stored' && e.status === 'stored')) seen.set(k, e.status);
    }
  }
  for (const status of seen.values()) {
    out.refs++;
    out.refsByStatus[status] = (out.refsByStatus[status] ?? 0) + 1;
  }
  return { ...out, refBatches };
}

/**
 * When the last conversation could have finished its downloads at `rps` each, given when the export
 * handed over (recorded) the first batch naming each reference: per conversation, with its references'
 * hand-over times sorted t_0 ≤ … ≤ t_{n-1}, max over k of t_k + (n − k) / rps; then the max over
 * conversations. Undefined when no batch time is known.
 */
export function handoverBound(
  refBatches: Map<string, { conversation: string; batches: string[] }>,
  batchTimes: Record<string, [number, number]>,
  rps: number,
): ContentArchive['handoverBound'] {
  const byConv = new Map<string, number[]>();
  for (const { conversation, batches } of refBatches.values()) {
    const times = batches.map((b) => batchTimes[b]?.[0]).filter((t): t is number => t !== undefined);
    if (times.length === 0) continue;
    const list = byConv.get(conversation) ?? [];
    list.push(Math.min(...times) / 1000);
    byConv.set(conversation, list);
  }
  let best: ContentArchive['handoverBound'];
  for (const [conversation, times] of byConv) {
    times.sort((a, b) => a - b);
    let end = 0;
    times.forEach((t, k) => {
      end = Math.max(end, t + (times.length - k) / (rps > 0 ? rps : 1));
    });
    if (!best || end > best.endS) best = { endS: end, conversation, refs: times.length, firstS: times[0] ?? 0 };
  }
  return best;
}

/**
 * What one storage operation touched, for the per-blob breakdown: `METHOD service folder[ comp]`, the
 * folder being the blob name's kind (batch, content map, manifest, lock, …) or the table's name.
 */
export function opClass(op: StorageOperation): string {
  const comp = op.comp ? ` ${op.comp}` : '';
  if (op.service === 'table') return `${op.method} table ${resourceOf(op.url)}${comp}`;
  if (op.service === 'queue') return `${op.method} queue${comp}`;
  // op.resource: `container/blob name` (the container alone for a list or a container operation).
  const name = op.resource.split('/').slice(1).join('/');
  const kind =
    name === ''
      ? 'container'
      : name.endsWith('.content.json')
        ? 'content map'
        : name.startsWith('messages/') && name.endsWith('.jsonl.gz')
          ? 'batch'
          : name.startsWith('manifests/') && name.endsWith('/run.json')
            ? 'run manifest'
            : (name.split('/')[0] ?? '');
  return `${op.method} blob ${kind}${comp}`;
}

/** Runs bench/scenario.js in its own process and returns its result line. */
export function runChild(
  env: Record<string, string>,
  profileName: string | undefined,
  log: (line: string) => void,
): Promise<ScenarioResult> {
  const script = join(__dirname, 'scenario.js');
  const args: string[] = [];
  if (profileName !== undefined) {
    const dir = join(__dirname, '..', '..', 'bench', 'profiles');
    mkdirSync(dir, { recursive: true });
    args.push('--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-name', `${profileName.replace(/[^A-Za-z0-9]+/g, '-')}.cpuprofile`);
  }
  // BENCH_PRODUCT_NODE_FLAGS: extra node flags for the product process only (memory experiments).
  const extra = (process.env.BENCH_PRODUCT_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '');
  // The product starts as the CLI and the Function App start it: with glibc's malloc settings (malloc-env.ts).
  const child = spawn(process.execPath, [...extra, ...args, script], { env: withMallocEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let errTail = '';
  let warnings = 0;
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString('utf8');
  });
  child.stderr.on('data', (c: Buffer) => {
    const text = c.toString('utf8');
    errTail = (errTail + text).slice(-4000);
    // Product warnings are JSON lines; show the first few so a broken run explains itself.
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      if (warnings++ < 5) log(`  [product] ${line.slice(0, 300)}`);
    }
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      // BENCH_CHILD_STDOUT=file keeps the product's stdout (e.g. with --trace-gc in BENCH_PRODUCT_NODE_FLAGS).
      if (process.env.BENCH_CHILD_STDOUT) writeFileSync(process.env.BENCH_CHILD_STDOUT, out);
      const line = out.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      if (code !== 0 || !line) {
        reject(new Error(`scenario process exited with ${code}: ${errTail}`));
        return;
      }
      resolve(JSON.parse(line.slice(RESULT_PREFIX.length)) as ScenarioResult);
    });
  });
}

/** The hand-written sections of bench/RESULTS.md: every `## ` section but the generated ones. */
export function keptSections(existing: string): string {
  const parts = existing.split(/^(?=## )/m).slice(1);
  return parts.filter((p) => !GENERATED_SECTIONS.some((g) => p.startsWith(`## ${g}`))).join('');
}

async function main(): Promise<number> {
  let o: BenchOptions;
  try {
    o = parseBenchArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const machine = machineInfo();
  log(`teams-export benchmark on ${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, Node ${machine.node}`);
  log(
    `emulator: ${o.latencyMs} ms latency + up to ${o.jitterMs} ms jitter per request, throttling at ${o.limitRps} requests/s (429 + Retry-After beyond)`,
  );
  const started = Date.now();
  const reports: ScenarioReport[] = [];
  for (const spec of planScenarios(o)) {
    reports.push(await runScenario(spec, o, log));
    if (o.saveJson) writeFileSync(o.saveJson, JSON.stringify({ machine, options: { ...o, profiles: [...o.profiles] }, reports }));
  }
  const artifacts = o.profiles.has('artifacts') && o.only.length === 0 ? formatArtifacts(await runArtifactsProfile(o, log)) : '';
  if (artifacts) log(`\n${artifacts}`);
  const file = join(__dirname, '..', '..', 'bench', 'RESULTS.md');
  if (reports.length === 0) {
    // The artifacts profile alone: only its own section of bench/RESULTS.md changes.
    if (artifacts && o.write && !o.quick) {
      writeFileSync(file, withArtifactsSection(readFileSync(file, 'utf8'), artifacts));
      log(`written to bench/RESULTS.md`);
    }
    return 0;
  }
  const text = formatReport({ machine, options: o, reports, totalSeconds: (Date.now() - started) / 1000, at: new Date().toISOString() });
  log(`\n${text}`);
  if (o.write && !o.quick && o.only.length === 0) {
    // The generated part is replaced; hand-written `## ` sections after it (analyses, other sections) stay.
    let kept = '';
    try {
      kept = keptSections(readFileSync(file, 'utf8'));
    } catch {
      // no results yet
    }
    const out = kept ? `${text}\n${kept}` : text;
    writeFileSync(file, artifacts ? withArtifactsSection(out, artifacts) : out);
    log(`written to bench/RESULTS.md`);
  }
  return 0;
}

if (require.main === module) {
  // Exit through process.exit on Ctrl-C so the 'exit' hooks take Azurite and the emulator down too.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
