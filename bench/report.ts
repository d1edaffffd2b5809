// Turns the scenario measurements into the figures table, the target checks and the Markdown that
// bench/RESULTS.md holds.
import type { BenchOptions, ScenarioKind } from './bench';
import type { EmulatorCountersJson } from './emulator-process';
import type { MachineInfo } from './machine';
import { describeShape, type TenantShape } from './profiles';
import type { ScenarioResult } from './scenario';

/** What a group of entities cost in one run (first run: empty / with data; daily: idle / busy). */
export interface EntityCost {
  entities: number;
  /** message export requests the emulator saw for them (pages included) */
  requests: number;
  maxRequests: number;
  /** Σ max(1, ⌈versions / page size⌉): the pages of one whole-history read of each (one pass) */
  wholeReadPages: number;
  /** storage operations whose path named them (counting proxy; 0 without it) */
  storageOps: number;
  maxStorageOps: number;
}

export interface ScenarioReport {
  name: string;
  kind: ScenarioKind;
  shape: TenantShape;
  concurrency: number;
  maxRps: number;
  readsPerEntity?: number;
  storage?: { latencyMs: number; pinAzurite: boolean };
  limitRps: number;
  /** What the emulator serves for the exported entities (the archive must end up with exactly these). */
  expectedVersions: number;
  result: ScenarioResult;
  emulator: EmulatorCountersJson;
  emulatorCpuMs: number | undefined;
  azuriteCpuMs: number | undefined;
  /** Share of all cores busy during the run (product + emulator + Azurite + everything else). */
  machineBusy: number | undefined;
  /** Storage operations (HTTP requests to Blob/Queue/Table) counted by the proxy, when there was one. */
  storageOps?: StorageOps;
  costs?: { a: EntityCost & { label: string }; b: EntityCost & { label: string } };
  /** daily: the unmeasured first run and the day's activity before the measured run */
  setup?: { seconds: number; firstRunVersions: number; firstRunRequests: number; posted: number };
}

export interface StorageOps {
  total: number;
  /** `METHOD service` → count */
  byKind: Record<string, number>;
  byService?: Record<'blob' | 'queue' | 'table', number>;
  /** `service comp` → count (`blob lease`: lease acquisitions, renewals and releases) */
  byComp?: Record<string, number>;
  /** What each operation touched (bench.ts opClass: `PUT blob batch`, `PUT blob locks lease`, `POST table bench…`) */
  byClass?: Record<string, number>;
}

/** Storage operations per blob written, in all and by service (lease operations apart from the other blob ones). */
export interface PerBlob {
  total: number;
  blob: number;
  lease: number;
  table: number;
  queue: number;
}

export function perBlob(ops: StorageOps, blobs: number): PerBlob {
  const lease = ops.byComp?.['blob lease'] ?? 0;
  const s = ops.byService ?? { blob: NaN, queue: NaN, table: NaN };
  return {
    total: per(ops.total, blobs),
    blob: per(s.blob - lease, blobs),
    lease: per(lease, blobs),
    table: per(s.table, blobs),
    queue: per(s.queue, blobs),
  };
}

export function perBlobLine(ops: StorageOps, blobs: number): string {
  const p = perBlob(ops, blobs);
  return `${f2(p.total)} (blob ${f2(p.blob)} + lease ${f2(p.lease)} + table ${f2(p.table)} + queue ${f2(p.queue)}) over ${f0(blobs)} blobs`;
}

/** The `## ` sections formatReport writes (bench.ts replaces them and keeps every other section). */
export const GENERATED_SECTIONS = ['Per-entity cost', 'Measured analysis'];

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
  /** the product's CPU per Graph request and per blob written (all of its CPU divided by each) */
  cpuMsPerRequest: number;
  cpuMsPerBlob: number;
  /** Median of the per-second request rates over the seconds with requests in flight. */
  inFlightRequestsPerS: number;
  /** No version lost or duplicated: the archive got exactly the versions Graph serves, nothing failed. */
  complete: boolean;
}

export function figuresOf(r: ScenarioReport): Figures {
  const x = r.result;
  const wallS = x.wallMs / 1000;
  const cpuMs = x.cpuUserMs + x.cpuSystemMs;
  const sorted = [...x.perSecond].sort((a, b) => a - b);
  const busy = sorted.filter((n) => n > 0);
  return {
    cpuMsPerRequest: x.graph.requests > 0 ? cpuMs / x.graph.requests : 0,
    cpuMsPerBlob: x.blobs > 0 ? cpuMs / x.blobs : 0,
    inFlightRequestsPerS: busy.length > 0 ? (busy[Math.floor(busy.length / 2)] ?? 0) : 0,
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
    // Archived exactly the versions served for the entities, none twice. Versions read again and skipped
    // (`duplicates`: a split window's probe page, docs/design.md §4) are not written twice, so they are allowed.
    complete: x.status === 'succeeded' && x.failed === 0 && x.messages === r.expectedVersions && x.quarantined === 0,
  };
}

const f0 = (n: number) => Math.round(n).toLocaleString('en-US');
const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const per = (n: number, d: number) => n / Math.max(1, d);
const RSS_LIMIT_MB = 300;

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
  const first = reports.find((r) => r.kind === 'first-run');
  const daily = reports.find((r) => r.kind === 'daily');
  const out: Target[] = [];
  if (first?.costs) {
    const { a: empty, b: data } = first.costs;
    const each = per(empty.requests, empty.entities);
    out.push({
      text: 'first run: ≤ 2 Graph requests per empty entity',
      measured: `${f2(each)} per empty entity (max ${empty.maxRequests}, ${empty.entities} empty entities)`,
      met: empty.entities > 0 && each <= 2 && empty.maxRequests <= 2,
    });
    // One whole-history read in the settle pass plus one empty read in the fresh pass (the seeded history
    // ends two days before the run).
    const reference = data.wholeReadPages + data.entities;
    out.push({
      text: 'first run: requests for entities with data ≤ 1.1 × the pages of one whole-history read per pass',
      measured: `${f0(data.requests)} requests vs ${f0(reference)} pages (${f2(per(data.requests, reference))}×, ${data.entities} entities)`,
      met: data.requests <= 1.1 * reference,
    });
  }
  if (daily) {
    const f = figuresOf(daily);
    out.push({ text: `${daily.name}: wall time < 5 minutes, planning included`, measured: `${f1(f.wallS)} s`, met: f.wallS < 300 });
    out.push({
      text: `daily: ≥ 90% of the limit while work is in flight (≥ ${0.9 * daily.limitRps} requests/s)`,
      measured: `median second with requests ${f0(f.inFlightRequestsPerS)}/s (whole run ${f1(f.requestsPerS)}/s)`,
      met: f.inFlightRequestsPerS >= 0.9 * daily.limitRps,
    });
    if (daily.costs) {
      const { a: idle, b: busy } = daily.costs;
      out.push({
        text: 'daily: ≤ 2 Graph requests per idle entity',
        measured: `${f2(per(idle.requests, idle.entities))} (max ${idle.maxRequests}, ${f0(idle.entities)} idle entities)`,
        met: per(idle.requests, idle.entities) <= 2 && idle.maxRequests <= 2,
      });
      if (daily.storageOps) {
        // Operations that name no entity (table batches, run records) are charged to the idle ones: an upper bound.
        const upper = per(daily.storageOps.total - busy.storageOps, idle.entities);
        out.push({
          text: 'daily: ≤ 2 storage operations per idle entity',
          measured: `${f2(per(idle.storageOps, idle.entities))} naming the entity (max ${idle.maxStorageOps}); ≤ ${f2(upper)} with every operation that names no entity charged to the idle ones`,
          met: upper <= 2,
        });
      }
    }
  }
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
  if (reports.length > 0) {
    const worst = reports.reduce((w, r) => (figuresOf(r).peakRssMb > figuresOf(w).peakRssMb ? r : w));
    out.push({
      text: `peak RSS ≤ ${RSS_LIMIT_MB} MB in every profile`,
      measured: `highest ${f0(figuresOf(worst).peakRssMb)} MB (${worst.name})`,
      met: figuresOf(worst).peakRssMb <= RSS_LIMIT_MB,
    });
  }
  if (t1 && t4) {
    const a = figuresOf(t1).peakRssMb;
    const b = figuresOf(t4).peakRssMb;
    out.push({
      text: 'peak RSS grows < 10% from 1× to 4×',
      measured: `${f0(a)} → ${f0(b)} MB (${f1(((b - a) / a) * 100)}%)`,
      met: b < a * 1.1,
    });
  }
  if (t1 && base) {
    const ratio = figuresOf(t1).versionsPerS / Math.max(1e-9, figuresOf(base).versionsPerS);
    out.push({ text: '≥ 15× the one-request-at-a-time baseline', measured: `${f1(ratio)}×`, met: ratio >= 15 });
  }
  const fenceNew = find('blobs: tenant 1×, time-bounded');
  const fenceOld = find('blobs: tenant 1×, old fence');
  if (fenceNew?.storageOps && fenceOld?.storageOps) {
    const a = perBlob(fenceOld.storageOps, fenceOld.result.blobs);
    const b = perBlob(fenceNew.storageOps, fenceNew.result.blobs);
    out.push({
      text: 'issue 22: ≥ 1.3 storage operations fewer per blob than with a renewal before every write (same run)',
      measured: `${f2(a.total)} → ${f2(b.total)} per blob (${f2(a.total - b.total)} fewer; lease ${f2(a.lease)} → ${f2(b.lease)})`,
      met: a.total - b.total >= 1.3,
    });
  }
  for (const r of reports) {
    if (!figuresOf(r).complete)
      out.push({
        text: `${r.name}: every version archived exactly once`,
        measured: `archived ${r.result.messages}, served ${r.emulator.versionsServed}, expected ${r.expectedVersions}, re-read and skipped ${r.result.duplicates}, failed ${r.result.failed}`,
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
    `Measured ${input.at} by \`npm run bench\`${o.quick ? ' -- --quick' : ''}${o.scale !== 1 ? ` --scale ${o.scale}` : ''} (${f0(input.totalSeconds)} s in all).`,
    '',
  );
  lines.push(
    `- Machine: ${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.platform}`,
  );
  lines.push(
    `- Graph emulator (own process): ${o.latencyMs} ms latency + up to ${o.jitterMs} ms jitter per request; throttling at ${o.limitRps} requests/s per tenant (429 + Retry-After beyond)`,
  );
  lines.push(
    "- Product (own process per scenario, production path `buildDeps` + `runExport`, daily run): GRAPH_PAGE_SIZE 50, EXPORT_CHUNK none (one window per pass), hosted contents and attachments off (their downloads are paced by Graph's ~1 request/s per chat); Azurite in memory, in its own process on the same cores",
  );
  lines.push('');
  lines.push(
    '| scenario | entities | versions | wall s | versions/s | requests/s (limit) | 429s client / emulator | pages | avg fill | blobs | peak RSS MB | CPU s | µs CPU/version | CPU ms/request | CPU ms/blob | machine busy (emulator / Azurite CPU s) | complete |',
  );
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of reports) {
    const f = figuresOf(r);
    const x = r.result;
    const extra = [`c=${r.concurrency}`, r.readsPerEntity ? `${r.readsPerEntity} reads/entity` : '', `max ${r.maxRps}/s`]
      .filter(Boolean)
      .join(', ');
    lines.push(
      `| ${r.name} (${extra}) | ${f0(x.planned)} | ${f0(x.messages)} | ${f1(f.wallS)} | ${f0(f.versionsPerS)} | ${f1(f.requestsPerS)} (${r.limitRps}) | ${f.throttledClient} / ${f.throttledEmulator} | ${f0(x.pages)} | ${f1(f.avgFill)} of 50 | ${f0(x.blobs)} | ${f0(f.peakRssMb)} | ${f1(f.cpuS)} | ${f1(f.cpuUsPerVersion)} | ${f2(f.cpuMsPerRequest)} | ${f2(f.cpuMsPerBlob)} | ${r.machineBusy === undefined ? 'n/a' : `${f0(r.machineBusy * 100)}% of ${machine.cores} cores`} (${r.emulatorCpuMs === undefined ? '?' : f1(r.emulatorCpuMs / 1000)} / ${r.azuriteCpuMs === undefined ? '?' : f1(r.azuriteCpuMs / 1000)}) | ${f.complete ? 'yes' : 'NO'} |`,
    );
  }
  lines.push('');
  lines.push('Profiles:');
  for (const r of reports) {
    const notes: string[] = [];
    if (r.kind === 'first-run') notes.push('first run, the seeded history ends 2 days before it');
    if (r.storage?.latencyMs) notes.push(`storage behind a proxy adding ${r.storage.latencyMs} ms per request`);
    if (r.storage?.pinAzurite) notes.push('Azurite pinned to one core');
    if (r.setup)
      notes.push(
        `the day after a first run (set-up, not measured: ${f0(r.setup.firstRunVersions)} versions, ${f0(r.setup.firstRunRequests)} requests, ${f1(r.setup.seconds)} s), with ${f0(r.setup.posted)} new messages today`,
      );
    lines.push(`- ${r.name}: ${describeShape(r.shape)}${notes.length > 0 ? `; ${notes.join('; ')}` : ''}`);
  }
  lines.push('');
  lines.push('Targets (issue 14):');
  for (const t of checkTargets(reports))
    lines.push(`- [${t.met === true ? 'x' : ' '}] ${t.text}: ${t.measured}${t.met === false ? ' — NOT MET' : ''}`);
  lines.push('');
  lines.push('Notes: requests/s counts every Graph request the product sent (retries included) over the wall time of the run,');
  lines.push('enumeration and tail included; "complete" means the archive holds exactly the versions the emulator serves');
  lines.push('for the exported entities (none lost, none twice) and no entity failed. Peak RSS is getrusage maxRSS of the');
  lines.push("product process. CPU ms/request and CPU ms/blob divide all of the product's CPU by each (not a split).");
  lines.push('');
  const counted = reports.filter((r) => r.storageOps?.byService && r.result.blobs > 0);
  if (counted.length > 0) {
    lines.push('Storage operations per blob written (counting proxy; lease operations apart from the other blob ones):', '');
    lines.push('| scenario | blobs | storage ops/blob | blob | lease | table | queue | requests/s | CPU ms/blob |');
    lines.push('|---|---|---|---|---|---|---|---|---|');
    for (const r of counted) {
      const p = perBlob(r.storageOps!, r.result.blobs);
      const f = figuresOf(r);
      lines.push(
        `| ${r.name} | ${f0(r.result.blobs)} | ${f2(p.total)} | ${f2(p.blob)} | ${f2(p.lease)} | ${f2(p.table)} | ${f2(p.queue)} | ${f1(f.requestsPerS)} | ${f2(f.cpuMsPerBlob)} |`,
      );
    }
    lines.push('');
    const classes = [...new Set(counted.flatMap((r) => Object.keys(r.storageOps!.byClass ?? {})))].sort();
    if (classes.length > 0) {
      lines.push('The same per blob by what the operation touched (in brackets: the count in the run):', '');
      lines.push(`| operation | ${counted.map((r) => r.name).join(' | ')} |`);
      lines.push(`|---|${counted.map(() => '---|').join('')}`);
      for (const k of classes)
        lines.push(
          `| ${k} | ${counted
            .map((r) => {
              const n = r.storageOps!.byClass?.[k] ?? 0;
              return `${f2(per(n, r.result.blobs))} (${f0(n)})`;
            })
            .join(' | ')} |`,
        );
      lines.push('');
    }
  }
  const costed = reports.filter((r) => r.costs);
  if (costed.length > 0) {
    lines.push('## Per-entity cost', '');
    lines.push(
      'Graph requests are the message export requests the emulator saw per entity id; storage operations are the HTTP',
      'requests to Azurite (through a counting proxy) whose path names the entity. "Whole-history pages" is',
      'Σ max(1, ⌈versions / 50⌉): one whole-history read per entity in one pass.',
      '',
    );
    lines.push('| scenario | entities | count | Graph requests each (max) | whole-history pages each | storage ops each (max) |');
    lines.push('|---|---|---|---|---|---|');
    for (const r of costed) {
      for (const c of [r.costs?.a, r.costs?.b]) {
        if (!c) continue;
        lines.push(
          `| ${r.name} | ${c.label} | ${f0(c.entities)} | ${f2(per(c.requests, c.entities))} (${c.maxRequests}) | ${f2(per(c.wholeReadPages, c.entities))} | ${r.storageOps ? `${f2(per(c.storageOps, c.entities))} (${c.maxStorageOps})` : 'not counted'} |`,
        );
      }
      if (r.storageOps) {
        const kinds = Object.entries(r.storageOps.byKind)
          .sort((a, b) => b[1] - a[1])
          .map(([k, n]) => `${k} ${f0(n)}`)
          .join(', ');
        lines.push(`| ${r.name} | all storage operations | ${f0(r.storageOps.total)} | | | ${kinds} |`);
      }
    }
    lines.push('');
  }
  lines.push('## Measured analysis', '');
  for (const line of analysis(reports)) lines.push(`- ${line}`);
  lines.push('');
  return `${lines.join('\n')}`;
}

/** What the figures say about where each run's time went, from the run's own measurements. */
export function analysis(reports: ScenarioReport[]): string[] {
  const out: string[] = [];
  for (const r of reports) {
    const f = figuresOf(r);
    const product = f.cpuS;
    const azurite = (r.azuriteCpuMs ?? 0) / 1000;
    const emulator = (r.emulatorCpuMs ?? 0) / 1000;
    const busy = r.machineBusy ?? 0;
    const bound =
      f.requestsPerS >= 0.9 * r.limitRps
        ? 'Graph-bound (at the request limit)'
        : busy >= 0.8
          ? `CPU-bound: the machine was ${f0(busy * 100)}% busy; product ${f1(product)} s, Azurite ${f1(azurite)} s, emulator ${f1(emulator)} s of CPU`
          : `neither at the request limit nor CPU-saturated (machine ${f0(busy * 100)}% busy): latency-bound by the requests in flight`;
    out.push(
      `**${r.name}**: ${f1(f.requestsPerS)} requests/s, ${bound}; the product used ${f2(f.cpuMsPerRequest)} ms CPU per Graph request and ${f2(f.cpuMsPerBlob)} ms per blob.`,
    );
  }
  return out;
}
