// `npm run bench`: measures a full daily export through the production code path against the Graph
// emulator (own process, 100 ms latency, 200 requests/s throttling) and Azurite, for the tenant and
// heavy profiles, a one-request-at-a-time baseline and a run above the limit; prints the figures and
// writes them to bench/RESULTS.md. Each export runs in a child process of its own (bench/scenario.ts)
// so its peak RSS and CPU are the product's alone.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAzurite } from '../emulator/azurite-process';
import { DAY, iso } from '../src/time';
import { productEnvFor, startEmulatorProcess, type EmulatorCountersJson, type EmulatorStatsJson } from './emulator-process';
import { childPidsMatching, machineCpu, machineInfo, processCpuMs } from './machine';
import { describeShape, heavyShape, seedFlags, tenantShape, type TenantShape } from './profiles';
import { formatReport, type ScenarioReport } from './report';
import { RESULT_PREFIX, type ScenarioInput, type ScenarioResult } from './scenario';

export interface BenchOptions {
  profiles: Set<'tenant' | 'heavy'>;
  scale: number;
  quick: boolean;
  latencyMs: number;
  jitterMs: number;
  limitRps: number;
  maxRps: number;
  overRps: number;
  concurrency: number;
  cpuProf: boolean;
  write: boolean;
  /** Run only the scenarios whose name starts with one of these (for profiling one of them). */
  only: string[];
}

const USAGE = `usage: npm run bench -- [--profile tenant|heavy|all] [--scale N] [--quick]
  [--latency-ms 100] [--jitter-ms 20] [--limit-rps 200] [--max-rps <limit>] [--over-rps 1.5×limit]
  [--concurrency 40] [--cpu-prof] [--no-write] [--only <scenario name prefix>]...`;

export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const o: BenchOptions = {
    profiles: new Set(['tenant', 'heavy']),
    scale: 1,
    quick: false,
    latencyMs: 100,
    jitterMs: 20,
    limitRps: 200,
    maxRps: NaN,
    overRps: NaN,
    concurrency: 40,
    cpuProf: false,
    write: true,
    only: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${flag} needs a positive number\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case '--profile': {
        const v = argv[++i];
        if (v === 'all') o.profiles = new Set(['tenant', 'heavy']);
        else if (v === 'tenant' || v === 'heavy') o.profiles = new Set([v]);
        else throw new Error(`--profile must be tenant, heavy or all\n${USAGE}`);
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
      case '--cpu-prof':
        o.cpuProf = true;
        break;
      case '--no-write':
        o.write = false;
        break;
      case '--only':
        o.only.push(argv[++i] ?? '');
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

export interface ScenarioSpec {
  name: string;
  shape: TenantShape;
  seed: number;
  concurrency: number;
  maxRps: number;
  /** EXPORT_READS_PER_ENTITY for this scenario (the product's default when absent). */
  readsPerEntity?: number;
}

/** The scenarios of one invocation, in the order they run. */
export function planScenarios(o: BenchOptions): ScenarioSpec[] {
  // --quick shrinks everything to a smoke run of seconds; --scale scales both profiles.
  const s = o.quick ? 0.01 * o.scale : o.scale;
  const heavyPerEntity = o.quick ? 2000 : 20_000;
  const list: ScenarioSpec[] = [];
  const base = { concurrency: o.concurrency, maxRps: o.maxRps };
  if (o.profiles.has('tenant')) {
    list.push({ name: 'tenant 1×', shape: tenantShape(s), seed: 11, ...base });
    list.push({ name: 'tenant 4×', shape: tenantShape(4 * s), seed: 11, ...base });
  }
  // Few entities with long backlogs: the configuration for such tenants reads sub-windows in parallel.
  if (o.profiles.has('heavy')) list.push({ name: 'heavy', shape: heavyShape(s, heavyPerEntity), seed: 12, ...base, readsPerEntity: 8 });
  if (o.profiles.has('tenant')) {
    // Open-source exporters walk one entity, one page at a time: same code, one request in flight.
    list.push({ name: 'baseline (1 at a time)', shape: tenantShape(s / 50), seed: 11, concurrency: 1, maxRps: o.maxRps });
  }
  // Above the emulator's limit the run must still finish without loss, reporting its 429s.
  list.push({ name: `over limit (${o.overRps}/s)`, shape: tenantShape(s / 10), seed: 13, concurrency: o.concurrency, maxRps: o.overRps });
  return o.only.length === 0 ? list : list.filter((x) => o.only.some((p) => x.name.startsWith(p)));
}

async function runScenario(spec: ScenarioSpec, o: BenchOptions, log: (line: string) => void): Promise<ScenarioReport> {
  log(
    `\n▶ ${spec.name}: ${describeShape(spec.shape)}; concurrency ${spec.concurrency}, GRAPH_MAX_RPS ${spec.maxRps}${spec.readsPerEntity ? `, EXPORT_READS_PER_ENTITY ${spec.readsPerEntity}` : ''}`,
  );
  const seededAt = Date.now();
  const [azurite, emulator] = await Promise.all([
    startAzurite(),
    startEmulatorProcess([
      ...seedFlags(spec.shape, spec.seed),
      '--latency-ms',
      String(o.latencyMs),
      '--jitter-ms',
      String(o.jitterMs),
      '--rate-limit-rps',
      String(o.limitRps),
    ]),
  ]);
  try {
    const stats: EmulatorStatsJson = await emulator.stats();
    log(`  seeded in ${((Date.now() - seededAt) / 1000).toFixed(1)} s: ${stats.entityVersions} versions for the exported entities`);
    await emulator.resetCounters();
    const nowMs = Date.now();
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      ...productEnvFor(emulator.info),
      GRAPH_MAX_RPS: String(spec.maxRps),
      GRAPH_PAGE_SIZE: '50',
      EXPORT_STORAGE: azurite.connectionString,
      EXPORT_CONTAINER: 'bench-export',
      EXPORT_TABLE_PREFIX: 'bench',
      // The seeded history ends an hour before now; one day of margin before it starts.
      EXPORT_START: iso(nowMs - (spec.shape.historyDays + 1) * DAY),
      EXPORT_CHUNK: 'P30D',
      EXPORT_CONCURRENCY: String(spec.concurrency),
      ...(spec.readsPerEntity ? { EXPORT_READS_PER_ENTITY: String(spec.readsPerEntity) } : {}),
      EXPORT_USERS: spec.shape.exportUsers ? 'all' : 'none',
      EXPORT_TEAMS: 'all',
      // Message export throughput is what is measured; hosted-content downloads are bounded by Graph's
      // ~1 request/s per chat, not by the product, and would only measure that limit.
      EXPORT_HOSTED_CONTENTS: 'false',
      EXPORT_ATTACHMENTS: 'false',
      LOG_LEVEL: 'warn',
      BENCH_SCENARIO: JSON.stringify({ nowMs } satisfies ScenarioInput),
    };
    const azuritePid = childPidsMatching('azurite')[0];
    const machine0 = machineCpu();
    const emuCpu0 = processCpuMs(emulator.pid);
    const azCpu0 = azuritePid === undefined ? undefined : processCpuMs(azuritePid);
    const result = await runChild(env, o.cpuProf ? spec.name : undefined, log);
    const machine1 = machineCpu();
    const emuCpu1 = processCpuMs(emulator.pid);
    const azCpu1 = azuritePid === undefined ? undefined : processCpuMs(azuritePid);
    const counters: EmulatorCountersJson = await emulator.counters();
    const report: ScenarioReport = {
      name: spec.name,
      shape: spec.shape,
      concurrency: spec.concurrency,
      maxRps: spec.maxRps,
      ...(spec.readsPerEntity ? { readsPerEntity: spec.readsPerEntity } : {}),
      limitRps: o.limitRps,
      expectedVersions: stats.entityVersions,
      result,
      emulator: counters,
      emulatorCpuMs: emuCpu0 !== undefined && emuCpu1 !== undefined ? emuCpu1 - emuCpu0 : undefined,
      azuriteCpuMs: azCpu0 !== undefined && azCpu1 !== undefined ? azCpu1 - azCpu0 : undefined,
      machineBusy:
        machine0 && machine1 ? (machine1.busyMs - machine0.busyMs) / Math.max(1, machine1.totalMs - machine0.totalMs) : undefined,
    };
    const r = result;
    log(
      `  ${r.status} in ${(r.wallMs / 1000).toFixed(1)} s: ${r.messages} versions (${Math.round(r.messages / (r.wallMs / 1000))}/s), ` +
        `${r.graph.requests} requests (${(r.graph.requests / (r.wallMs / 1000)).toFixed(0)}/s), 429s ${r.graph.throttled}, ` +
        `${r.blobs} blobs, peak RSS ${(r.peakRssBytes / 2 ** 20).toFixed(0)} MB (heap used ${(r.peakHeapUsedBytes / 2 ** 20).toFixed(0)}, heap total ${(r.peakHeapTotalBytes / 2 ** 20).toFixed(0)}, external ${(r.peakExternalBytes / 2 ** 20).toFixed(0)}), CPU ${((r.cpuUserMs + r.cpuSystemMs) / 1000).toFixed(1)} s` +
        ` (emulator ${((report.emulatorCpuMs ?? NaN) / 1000).toFixed(1)} s, Azurite ${((report.azuriteCpuMs ?? NaN) / 1000).toFixed(1)} s, machine ${((report.machineBusy ?? NaN) * 100).toFixed(0)}% busy)`,
    );
    return report;
  } finally {
    await Promise.all([emulator.stop(), azurite.stop()]);
  }
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
  const child = spawn(process.execPath, [...args, script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
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
      const line = out.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      if (code !== 0 || !line) {
        reject(new Error(`scenario process exited with ${code}: ${errTail}`));
        return;
      }
      resolve(JSON.parse(line.slice(RESULT_PREFIX.length)) as ScenarioResult);
    });
  });
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
  for (const spec of planScenarios(o)) reports.push(await runScenario(spec, o, log));
  const text = formatReport({ machine, options: o, reports, totalSeconds: (Date.now() - started) / 1000, at: new Date().toISOString() });
  log(`\n${text}`);
  if (o.write && !o.quick) {
    const file = join(__dirname, '..', '..', 'bench', 'RESULTS.md');
    writeFileSync(file, text);
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
