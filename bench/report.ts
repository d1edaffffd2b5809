// Turns the scenario measurements into the figures table, the target checks and the Markdown that
// bench/RESULTS.md holds.
import type { BenchOptions } from './bench';
import type { EmulatorCountersJson } from './emulator-process';
import type { MachineInfo } from './machine';
import { describeShape, type TenantShape } from './profiles';
import type { ScenarioResult } from './scenario';

export interface ScenarioReport {
  name: string;
  shape: TenantShape;
  concurrency: number;
  maxRps: number;
  readsPerEntity?: number;
  limitRps: number;
  /** What the emulator serves for the exported entities (the archive must end up with exactly these). */
  expectedVersions: number;
  result: ScenarioResult;
  emulator: EmulatorCountersJson;
  emulatorCpuMs: number | undefined;
  azuriteCpuMs: number | undefined;
  /** Share of all cores busy during the run (product + emulator + Azurite + everything else). */
  machineBusy: number | undefined;
}

export interface Figures {
  wallS: number;
  versionsPerS: number;
  requestsPerS: number;
  /** Median of the per-second request rates over the run's full seconds. */
  medianRequestsPerS: number;
  throttledClient: number;
  throttledEmulator: number;
  avgFill: number;
  peakRssMb: number;
  cpuS: number;
  cpuUsPerVersion: number;
  /** No version lost or duplicated: the archive got exactly the versions Graph serves, nothing failed. */
  complete: boolean;
}

export function figuresOf(r: ScenarioReport): Figures {
  const x = r.result;
  const wallS = x.wallMs / 1000;
  const cpuMs = x.cpuUserMs + x.cpuSystemMs;
  const sorted = [...x.perSecond].sort((a, b) => a - b);
  return {
    wallS,
    versionsPerS: x.messages / wallS,
    requestsPerS: x.graph.requests / wallS,
    medianRequestsPerS: sorted.length > 0 ? (sorted[Math.floor(sorted.length / 2)] ?? 0) : 0,
    throttledClient: x.graph.throttled,
    throttledEmulator: r.emulator.throttled,
    avgFill: x.pages > 0 ? x.received / x.pages : 0,
    peakRssMb: x.peakRssBytes / 2 ** 20,
    cpuS: cpuMs / 1000,
    cpuUsPerVersion: x.messages > 0 ? (cpuMs * 1000) / x.messages : 0,
    complete: x.status === 'succeeded' && x.failed === 0 && x.messages === r.expectedVersions && x.duplicates === 0 && x.quarantined === 0,
  };
}

const f0 = (n: number) => Math.round(n).toLocaleString('en-US');
const f1 = (n: number) => n.toFixed(1);

export interface Target {
  text: string;
  measured: string;
  met: boolean | undefined;
}

export function checkTargets(reports: ScenarioReport[]): Target[] {
  const find = (prefix: string) => reports.find((r) => r.name.startsWith(prefix));
  const t1 = find('tenant 1×');
  const t4 = find('tenant 4×');
  const heavy = find('heavy');
  const base = find('baseline');
  const over = find('over limit');
  const out: Target[] = [];
  if (t1) {
    const f = figuresOf(t1);
    out.push({
      text: `tenant: ≥ 90% of the limit (≥ ${0.9 * t1.limitRps} requests/s)`,
      measured: `${f1(f.requestsPerS)}/s over the run (median second ${f0(f.medianRequestsPerS)}/s)`,
      met: f.requestsPerS >= 0.9 * t1.limitRps,
    });
  }
  if (heavy) {
    const f = figuresOf(heavy);
    out.push({ text: 'heavy: ≥ 8,000 versions/s', measured: `${f0(f.versionsPerS)}/s`, met: f.versionsPerS >= 8000 });
  }
  const atLimit = reports.filter((r) => r.maxRps <= r.limitRps);
  if (atLimit.length > 0) {
    const n = atLimit.reduce((s, r) => s + r.result.graph.throttled + r.emulator.throttled, 0);
    out.push({
      text: 'zero 429s with GRAPH_MAX_RPS ≤ the limit',
      measured: `${n} (client + emulator, ${atLimit.length} runs)`,
      met: n === 0,
    });
  }
  if (over) {
    const f = figuresOf(over);
    out.push({
      text: 'above the limit: completes, no loss, 429s reported',
      measured: `${f.complete ? 'complete' : 'INCOMPLETE'}, ${f.throttledClient} 429s (emulator ${f.throttledEmulator})`,
      met: f.complete,
    });
  }
  if (t1 && t4) {
    const a = figuresOf(t1).peakRssMb;
    const b = figuresOf(t4).peakRssMb;
    out.push({ text: 'peak RSS ≤ 300 MB at 1× and 4×', measured: `${f0(a)} MB / ${f0(b)} MB`, met: a <= 300 && b <= 300 });
    out.push({ text: 'peak RSS grows < 10% from 1× to 4×', measured: `${f1(((b - a) / a) * 100)}%`, met: b < a * 1.1 });
  }
  if (t1 && base) {
    const ratio = figuresOf(t1).versionsPerS / Math.max(1e-9, figuresOf(base).versionsPerS);
    out.push({ text: '≥ 15× the one-request-at-a-time baseline', measured: `${f1(ratio)}×`, met: ratio >= 15 });
  }
  for (const r of reports) {
    if (!figuresOf(r).complete)
      out.push({
        text: `${r.name}: every version archived exactly once`,
        measured: `archived ${r.result.messages}, served ${r.emulator.versionsServed}, expected ${r.expectedVersions}, duplicates ${r.result.duplicates}, failed ${r.result.failed}`,
        met: false,
      });
  }
  return out;
}

export function formatReport(input: {
  machine: MachineInfo;
  options: BenchOptions;
  reports: ScenarioReport[];
  totalSeconds: number;
  at: string;
}): string {
  const { machine, options: o, reports } = input;
  const lines: string[] = [];
  lines.push('# teams-export benchmark results', '');
  lines.push(
    `Measured ${input.at} by \`npm run bench\`${o.quick ? ' --quick' : ''}${o.scale !== 1 ? ` --scale ${o.scale}` : ''} (${f0(input.totalSeconds)} s in all).`,
    '',
  );
  lines.push(
    `- Machine: ${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.platform}`,
  );
  lines.push(
    `- Graph emulator (own process): ${o.latencyMs} ms latency + up to ${o.jitterMs} ms jitter per request; throttling at ${o.limitRps} requests/s per tenant (429 + Retry-After beyond)`,
  );
  lines.push(
    `- Product (own process per scenario, production path \`buildDeps\` + \`runExport\`, daily run over a ${reports[0]?.shape.historyDays ?? 30}-day backlog): GRAPH_PAGE_SIZE 50, EXPORT_CHUNK P30D, hosted contents and attachments off (their downloads are paced by Graph's ~1 request/s per chat); Azurite in memory`,
  );
  lines.push('');
  lines.push(
    '| scenario | entities | versions | wall s | versions/s | requests/s (limit) | 429s client / emulator | pages | avg fill | blobs | peak RSS MB | CPU s | µs CPU/version | machine busy (emulator / Azurite CPU s) | complete |',
  );
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of reports) {
    const f = figuresOf(r);
    const x = r.result;
    lines.push(
      `| ${r.name} (c=${r.concurrency}${r.readsPerEntity ? `, ${r.readsPerEntity} reads/entity` : ''}, max ${r.maxRps}/s) | ${f0(x.planned)} | ${f0(x.messages)} | ${f1(f.wallS)} | ${f0(f.versionsPerS)} | ${f1(f.requestsPerS)} (${r.limitRps}) | ${f.throttledClient} / ${f.throttledEmulator} | ${f0(x.pages)} | ${f1(f.avgFill)} of 50 | ${f0(x.blobs)} | ${f0(f.peakRssMb)} | ${f1(f.cpuS)} | ${f1(f.cpuUsPerVersion)} | ${r.machineBusy === undefined ? 'n/a' : `${f0(r.machineBusy * 100)}% of ${machine.cores} cores`} (${r.emulatorCpuMs === undefined ? '?' : f1(r.emulatorCpuMs / 1000)} / ${r.azuriteCpuMs === undefined ? '?' : f1(r.azuriteCpuMs / 1000)}) | ${f.complete ? 'yes' : 'NO'} |`,
    );
  }
  lines.push('');
  lines.push('Profiles:');
  for (const r of reports) lines.push(`- ${r.name}: ${describeShape(r.shape)}`);
  lines.push('');
  lines.push('Targets:');
  for (const t of checkTargets(reports))
    lines.push(`- [${t.met === true ? 'x' : ' '}] ${t.text}: ${t.measured}${t.met === false ? ' — NOT MET' : ''}`);
  lines.push('');
  lines.push('Notes: requests/s counts every Graph request the product sent (retries included) over the wall time of the run,');
  lines.push('enumeration and tail included; "complete" means the archive holds exactly the versions the emulator serves');
  lines.push('for the exported entities (none lost, none twice) and no entity failed. Peak RSS is getrusage maxRSS of the');
  lines.push('product process.');
  return `${lines.join('\n')}\n`;
}
