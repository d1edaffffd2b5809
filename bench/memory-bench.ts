// `npm run bench:memory`: peak RSS of one export job through the product's real path (bench/scenario.ts
// in a process of its own, against the Graph emulator and Azurite in theirs), for the two cases of
// issue 13: one team channel with a month of dense history served unsorted (default 1,000,000 versions),
// and one flush whose versions refer to 500 SharePoint files of 20 MB each. Prints the figures; they go
// into bench/RESULTS.md by hand (section "Bounded memory (issue 13)").
//   npm run bench:memory -- [--versions 1000000] [--files 500] [--file-mb 20] [--only month|content]
import { startAzurite } from '../emulator/azurite-process';
import { DAY, iso } from '../src/time';
import { runChild } from './bench';
import { productEnvFor, startEmulatorProcess } from './emulator-process';
import { machineInfo } from './machine';
import type { ScenarioInput, ScenarioResult } from './scenario';

interface MemoryBenchOptions {
  versions: number;
  files: number;
  fileMb: number;
  only: 'month' | 'content' | undefined;
}

const USAGE = 'usage: npm run bench:memory -- [--versions 1000000] [--files 500] [--file-mb 20] [--only month|content]';

function parseArgs(argv: readonly string[]): MemoryBenchOptions {
  const o: MemoryBenchOptions = { versions: 1_000_000, files: 500, fileMb: 20, only: undefined };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${flag} needs a positive number\n${USAGE}`);
      return v;
    };
    if (flag === '--versions') o.versions = Math.round(num());
    else if (flag === '--files') o.files = Math.round(num());
    else if (flag === '--file-mb') o.fileMb = num();
    else if (flag === '--only') {
      const v = argv[++i];
      if (v !== 'month' && v !== 'content') throw new Error(`--only must be month or content\n${USAGE}`);
      o.only = v;
    } else throw new Error(`unknown flag ${flag}\n${USAGE}`);
  }
  return o;
}

const MB = 2 ** 20;

/** Seed flags for one team with one channel and no edits, deletions or reactions: posts × 5 versions exactly. */
function oneChannel(posts: number, historyDays: number, fileFraction: number): string[] {
  const flags: Record<string, number> = {
    seed: 17,
    users: 4,
    teams: 1,
    'channels-per-team': 1,
    'one-on-one-chats': 0,
    'group-chats': 0,
    'meeting-chats': 0,
    'messages-per-chat': 0,
    'posts-per-channel': posts,
    'replies-per-post': 4,
    'history-days': historyDays,
    'edit-fraction': 0,
    'delete-fraction': 0,
    'reaction-fraction': 0,
    'hosted-content-fraction': 0,
    'custom-reaction-fraction': 0,
    'external-sender-fraction': 0,
    'file-fraction': fileFraction,
  };
  return Object.entries(flags).flatMap(([k, v]) => [`--${k}`, String(v)]);
}

interface Measured {
  result: ScenarioResult;
  counters: Record<string, unknown>;
  versions: number;
}

async function measure(
  name: string,
  seed: string[],
  historyDays: number,
  faults: Record<string, unknown>,
  env: Record<string, string>,
  log: (l: string) => void,
): Promise<Measured> {
  log(`\n▶ ${name}`);
  const t0 = Date.now();
  // On disk: the content case stores gigabytes, more than an in-memory Azurite should hold.
  const [azurite, emulator] = await Promise.all([startAzurite({ onDisk: true, timeoutMs: 120_000 }), startEmulatorProcess(seed)]);
  try {
    await emulator.setFaults(faults);
    const stats = await emulator.stats();
    log(`  seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${stats.entityVersions} versions`);
    await emulator.resetCounters();
    const nowMs = Date.now();
    const result = await runChild(
      {
        ...(process.env as Record<string, string>),
        ...productEnvFor(emulator.info),
        GRAPH_MAX_RPS: '1000',
        EXPORT_STORAGE: azurite.connectionString,
        EXPORT_CONTAINER: 'bench-memory',
        EXPORT_TABLE_PREFIX: 'benchmem',
        EXPORT_START: iso(nowMs - (historyDays + 1) * DAY),
        // The whole history in one chunk: the job's day buffers and version keys span all of it.
        EXPORT_CHUNK: `P${historyDays + 2}D`,
        EXPORT_CONCURRENCY: '1',
        EXPORT_USERS: 'none',
        EXPORT_TEAMS: 'all',
        EXPORT_HOSTED_CONTENTS: 'false',
        LOG_LEVEL: 'warn',
        BENCH_SCENARIO: JSON.stringify({ nowMs } satisfies ScenarioInput),
        ...env,
      },
      undefined,
      log,
    );
    const counters = (await emulator.counters()) as unknown as Record<string, unknown>;
    log(
      `  ${result.status} in ${(result.wallMs / 1000).toFixed(1)} s: ${result.messages} versions, ${result.blobs} blobs; ` +
        `peak RSS ${(result.peakRssBytes / MB).toFixed(0)} MB (heap used ${(result.peakHeapUsedBytes / MB).toFixed(0)} MB, external ${(result.peakExternalBytes / MB).toFixed(0)} MB)`,
    );
    return { result, counters, versions: stats.entityVersions };
  } finally {
    await Promise.all([emulator.stop(), azurite.stop()]);
  }
}

async function main(): Promise<number> {
  let o: MemoryBenchOptions;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const m = machineInfo();
  log(`teams-export memory bench on ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}`);
  const rows: string[] = [];
  if (o.only !== 'content') {
    const r = await measure(
      `one team channel, 30 days, ${o.versions} versions served unsorted, one job`,
      oneChannel(Math.ceil(o.versions / 5), 30, 0),
      30,
      {},
      { EXPORT_ATTACHMENTS: 'false' },
      log,
    );
    rows.push(
      `| Entity-month: 1 team channel, ${r.versions.toLocaleString('en-US')} versions over 30 days, unsorted pages | ${r.result.status}, ${r.result.messages.toLocaleString('en-US')} versions in ${(r.result.wallMs / 1000).toFixed(0)} s, ${r.result.blobs} blobs | **${(r.result.peakRssBytes / MB).toFixed(0)} MB** | ${(r.result.peakHeapUsedBytes / MB).toFixed(0)} MB |`,
    );
  }
  if (o.only !== 'month') {
    // Every message carries a file; 60% of the emulator's files are present (the rest missing or
    // forbidden), so this many messages give about `files` downloads, all in one day's flush.
    const posts = Math.ceil(o.files / 0.6 / 5);
    const bytes = Math.round(o.fileMb * MB);
    const r = await measure(
      `one flush with about ${o.files} file references of ${o.fileMb} MB each`,
      oneChannel(posts, 1, 1),
      1,
      { fileBytes: bytes },
      { EXPORT_ATTACHMENTS: 'true', GRAPH_FILE_DOWNLOAD_RPS: '1000', GRAPH_REQUEST_TIMEOUT: 'PT300S' },
      log,
    );
    const downloaded = Number(r.counters.filesDownloaded ?? 0);
    const inFlight = Number(r.counters.filesMaxInFlight ?? 0);
    log(`  ${downloaded} files of ${o.fileMb} MB downloaded, at most ${inFlight} at once`);
    rows.push(
      `| Content flush: ${downloaded} file references × ${o.fileMb} MB (${((downloaded * bytes) / 2 ** 30).toFixed(1)} GiB) in ${r.result.messages} versions | ${r.result.status} in ${(r.result.wallMs / 1000).toFixed(0)} s, at most ${inFlight} downloads at once | **${(r.result.peakRssBytes / MB).toFixed(0)} MB** | ${(r.result.peakHeapUsedBytes / MB).toFixed(0)} MB |`,
    );
  }
  log('\n| Case | Run | Peak RSS | Peak heap used |\n| --- | --- | --- | --- |');
  for (const row of rows) log(row);
  return 0;
}

if (require.main === module) {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`memory bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
