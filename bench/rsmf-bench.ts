// RSMF production figures (docs/rsmf.md). Build with `npm run build:dev`, then:
//   node dist-dev/bench/rsmf-bench.js all [--write]      the three figures below (npm run bench:rsmf is `all --write`:
//                                                        it replaces the ## RSMF productions section of bench/RESULTS.md)
//   node dist-dev/bench/rsmf-bench.js demo               a production of the demo-size archive (events/s)
//   node dist-dev/bench/rsmf-bench.js synthetic [chats]  a tenant-size archive written through the product's batch
//       writer: 2,000 group chats among 600 users, 2 days, ~110k versions, each chat under its 3 members (events/s, RSS)
//   node dist-dev/bench/rsmf-bench.js day100k [events]   one chat-day of 100,000 messages (a tenth edited once):
//       peak RSS of producing it (streamed, bounded memory)
//   node dist-dev/bench/rsmf-bench.js tenant [--scale 0.25]   the export bench's tenant profile (bench/profiles.ts)
//       exported from the emulator by the real engine, then produced (slow: ~30k small conversation-days at 0.25)
// Every production runs in a process of its own, Azurite in another, so the peak RSS is the production's alone.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { batchBlobName } from '../src/archive/blob-layout';
import { writeBatch } from '../src/archive/batch-writer';
import { startAzurite } from '../emulator/azurite-process';
import { folderSink } from '../src/cli/rsmf-command';
import { buildDeps } from '../src/deps';
import { startEmulator, trustCertificateInProcess } from '../emulator';
import { emulatorEnv } from '../emulator/emulator-env';
import { runExport } from '../src/export/run-in-process';
import { silentLogger } from '../src/log';
import { planProduction, runProduction, type ProductionDeps } from '../src/rsmf/production';
import { loadSettings, type Env } from '../src/settings';
import { CheckpointStore } from '../src/state/checkpoint-store';
import { DAY, HOUR, iso } from '../src/time';
import { tenantShape } from './profiles';

/** What one production measured (printed as one JSON line by the process that ran it). */
interface ProductionFigures {
  events: number;
  files: number;
  versions: number;
  conversations: number;
  /** Conversation-days archived under more than one custodian (produced once). */
  sharedSlices: number;
  seconds: number;
  eventsPerSecond: number;
  peakRssMiB: number;
}

const RESULT = 'RSMF-BENCH-RESULT ';

async function produce(deps: ProductionDeps, fromMs: number, toMs: number): Promise<ProductionFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'rsmf-bench-'));
  try {
    const started = process.hrtime.bigint();
    const plan = await planProduction({ fromMs, toMs, users: [], teams: [], conversations: [] }, deps);
    const m = await runProduction('rsmf-bench', plan, deps, folderSink(join(dir, 'out')));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return {
      events: m.totals.events,
      files: m.totals.files,
      versions: m.totals.versions,
      conversations: new Set(m.files.map((f) => f.conversationId)).size,
      sharedSlices: new Set(m.files.filter((f) => f.custodians.length > 1).map((f) => `${f.conversationId} ${f.day}`)).size,
      seconds: Math.round(seconds * 10) / 10,
      eventsPerSecond: Math.round(m.totals.events / seconds),
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs `produce` for the archive behind `env` in a child process and returns its figures. */
function produceInChild(env: Env, fromMs: number, toMs: number): ProductionFigures {
  const child = spawnSync(
    process.execPath,
    [
      ...(process.env.RSMF_BENCH_HEAP_MB ? [`--max-old-space-size=${process.env.RSMF_BENCH_HEAP_MB}`] : []),
      __filename,
      'produce',
      String(fromMs),
      String(toMs),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, RSMF_BENCH_ENV: JSON.stringify(env) }, maxBuffer: 64 * 1024 * 1024 },
  );
  const out = child.stdout.toString('utf8');
  const line = out.split('\n').find((l) => l.startsWith(RESULT));
  if (child.status !== 0 || !line) throw new Error(`production process exited with ${child.status}: ${out}`);
  return JSON.parse(line.slice(RESULT.length)) as ProductionFigures;
}

/** The child's half: builds the product's deps from the parent's env, produces, prints the figures. */
async function produceFromEnv(fromMs: number, toMs: number): Promise<void> {
  const env = JSON.parse(process.env.RSMF_BENCH_ENV ?? '{}') as Env;
  const deps = await buildDeps(loadSettings(env), { log: silentLogger });
  const r = await produce({ container: deps.container, checkpoints: deps.checkpoints, exportStartMs: deps.settings.startMs }, fromMs, toMs);
  console.log(`${RESULT}${JSON.stringify(r)}`);
}

/** Exports an emulated tenant through the real engine into a fresh Azurite, then produces all of it. */
async function exportedTenant(
  name: string,
  tenant: Record<string, number>,
): Promise<{ bench: string; versionsArchived: number; exportSeconds: number } & ProductionFigures> {
  const azurite = await startAzurite({ timeoutMs: 180_000 });
  const nowMs = Date.now();
  const historyDays = tenant.historyDays ?? 30;
  const emulator = await startEmulator({ tenant: { ...tenant, endMs: nowMs - 2 * HOUR }, faults: { hostedContentRps: null } });
  try {
    trustCertificateInProcess(emulator.caCertPem);
    const startMs = nowMs - (historyDays + 1) * DAY;
    const env: Env = {
      ...emulatorEnv(emulator),
      GRAPH_MAX_RPS: '500',
      GRAPH_HOSTED_CONTENT_RPS: '1000',
      EXPORT_STORAGE: azurite.connectionString,
      EXPORT_START: iso(startMs),
      EXPORT_CONCURRENCY: '8',
      LOG_LEVEL: 'error',
    };
    const deps = await buildDeps(loadSettings(env), { log: silentLogger });
    const started = process.hrtime.bigint();
    const run = await runExport({ kind: 'daily', nowMs }, deps);
    const exportSeconds = Math.round(Number(process.hrtime.bigint() - started) / 1e8) / 10;
    if (run.status !== 'succeeded') throw new Error(`the ${name} export ended ${run.status}`);
    // Everything settled: from EXPORT_START to the start of yesterday.
    const toMs = Math.floor((nowMs - DAY) / DAY) * DAY;
    const r = produceInChild(env, startMs, toMs);
    return { bench: name, versionsArchived: run.progress.messages, exportSeconds, ...r };
  } finally {
    await emulator.close();
    await azurite.stop();
  }
}

function demoSize() {
  return exportedTenant('rsmf-demo-size', { seed: 7, users: 24, teams: 4, historyDays: 90 });
}

function tenantSize(scale: number) {
  const s = tenantShape(scale);
  return exportedTenant(`rsmf-tenant-size (${scale}×)`, {
    seed: 11,
    users: s.users,
    teams: s.teams,
    channelsPerTeam: s.channelsPerTeam,
    oneOnOneChats: s.oneOnOneChats,
    groupChats: s.groupChats,
    meetingChats: s.meetingChats,
    messagesPerChat: s.messagesPerChat,
    postsPerChannel: s.postsPerChannel,
    repliesPerPost: s.repliesPerPost,
    historyDays: s.historyDays,
    // As in the export bench's tenant profile: no hosted contents or files (the demo-size archive has them).
    hostedContentFraction: 0,
    fileFraction: 0,
  });
}

/** One archived version of a synthetic chat message, shaped like Graph's (a seventh of them reacted to). */
function syntheticMessage(o: { chatId: string; senders: readonly string[]; created: number; edited: boolean; i: number }): string {
  const { chatId, senders, created, edited, i } = o;
  const modified = edited ? created + 60_000 : created;
  const sender = senders[i % senders.length] as string;
  return JSON.stringify({
    id: String(created * 1000 + (i % 1000)),
    etag: String(modified),
    messageType: 'message',
    createdDateTime: iso(created),
    lastModifiedDateTime: iso(modified),
    lastEditedDateTime: edited ? iso(modified) : null,
    deletedDateTime: null,
    chatId,
    importance: 'normal',
    from: { user: { id: sender, displayName: `User ${sender.slice(-4)}`, userIdentityType: 'aadUser' } },
    body: {
      contentType: 'html',
      content: `<p>Message ${i}${edited ? ' (edited)' : ''}: the quarterly numbers are attached, please review before Friday 📊</p>`,
    },
    attachments: [],
    mentions: [],
    reactions:
      i % 7 === 0
        ? [{ reactionType: 'like', createdDateTime: iso(created + 1000), user: { user: { id: senders[(i + 1) % senders.length] } } }]
        : [],
  });
}

/** A fresh Azurite with the archive container and checkpoints table, and the product settings that reach them. */
async function benchArchive(azuriteConnection: string, startMs: number) {
  const containerName = 'bench';
  const container = BlobServiceClient.fromConnectionString(azuriteConnection).getContainerClient(containerName);
  await container.create();
  const table = TableClient.fromConnectionString(azuriteConnection, 'benchCheckpoints', { allowInsecureConnection: true });
  const checkpoints = new CheckpointStore(table);
  await checkpoints.ensure();
  // The product's own settings over that container and table (a production reads no Graph).
  const env: Env = {
    AZURE_TENANT_ID: '00000000-0000-0000-0000-000000000001',
    AZURE_CLIENT_ID: '00000000-0000-0000-0000-000000000002',
    AZURE_CLIENT_SECRET: 'unused',
    EXPORT_STORAGE: azuriteConnection,
    EXPORT_CONTAINER: containerName,
    EXPORT_TABLE_PREFIX: 'bench',
    EXPORT_START: iso(startMs),
    LOG_LEVEL: 'error',
  };
  return { container, checkpoints, env };
}

/**
 * A tenant-size archive written straight through the product's batch writer (no Graph export, so it
 * builds in seconds): `chats` group chats of three members among `users` users, `perChatDay` messages a
 * day for `days` days (a tenth edited once), every chat archived under all three members, so each
 * conversation-day is read three times and produced once.
 */
async function syntheticTenant(o: { users: number; chats: number; days: number; perChatDay: number }) {
  const azurite = await startAzurite({ timeoutMs: 180_000 });
  try {
    const firstDay = Math.floor((Date.now() - (o.days + 5) * DAY) / DAY) * DAY;
    const { container, checkpoints, env } = await benchArchive(azurite.connectionString, firstDay - DAY);
    const users = Array.from({ length: o.users }, (_, i) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`);
    const membersOf = (c: number) => [0, 1, 2].map((k) => users[(c + k * Math.max(1, Math.floor(o.users / 3))) % o.users] as string);
    let archivedLines = 0;
    for (let d = 0; d < o.days; d++) {
      const day = firstDay + d * DAY;
      const byUser = new Map<string, string[]>();
      for (let c = 0; c < o.chats; c++) {
        const members = membersOf(c);
        const chatId = `19:bench-${c}@thread.v2`;
        for (let i = 0; i < o.perChatDay; i++) {
          const created = day + Math.floor(((i + 0.5) * DAY) / o.perChatDay) + c;
          const lines = [syntheticMessage({ chatId, senders: members, created, edited: false, i })];
          if (i % 10 === 0) lines.push(syntheticMessage({ chatId, senders: members, created, edited: true, i }));
          for (const m of new Set(members)) {
            let list = byUser.get(m);
            if (!list) byUser.set(m, (list = []));
            list.push(...lines);
          }
        }
      }
      const writes = [...byUser].map(([user, lines]) => async () => {
        const entity = { kind: 'user' as const, id: user };
        for (let seq = 0; seq * 5000 < lines.length; seq++) {
          const name = batchBlobName(entity, iso(day).slice(0, 10), {
            pass: 'fresh',
            window: { fromMs: day, toMs: day + DAY },
            runId: 'bench',
            seq,
          });
          await writeBatch(container, name, lines.slice(seq * 5000, (seq + 1) * 5000), {});
        }
        archivedLines += lines.length;
      });
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < writes.length) await (writes[next++] as () => Promise<void>)();
        }),
      );
    }
    const settled = firstDay + (o.days + 1) * DAY;
    for (const user of users)
      await checkpoints.advance({ kind: 'user', id: user }, { freshWatermarkMs: settled, settledWatermarkMs: settled });
    const r = produceInChild(env, firstDay, firstDay + o.days * DAY);
    return { bench: 'rsmf-tenant-size', ...o, versionsArchived: archivedLines, ...r };
  } finally {
    await azurite.stop();
  }
}

async function oneBusyDay(events: number): Promise<{ bench: string; messages: number } & ProductionFigures> {
  const azurite = await startAzurite({ timeoutMs: 180_000 });
  try {
    const day = Math.floor((Date.now() - 10 * DAY) / DAY) * DAY;
    const { container, checkpoints, env } = await benchArchive(azurite.connectionString, day - DAY);
    const users = ['00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-00000000000b'];
    const chatId = '19:bench@thread.v2';
    const message = (i: number, edited: boolean): string =>
      syntheticMessage({ chatId, senders: users, created: day + Math.floor((i * DAY) / events), edited, i });
    // Both members archive the chat (the production de-duplicates them), in batches of 5,000 lines.
    let seq = 0;
    for (const user of users) {
      const entity = { kind: 'user' as const, id: user };
      for (let start = 0; start < events; start += 5000) {
        const lines: string[] = [];
        for (let i = start; i < Math.min(events, start + 5000); i++) {
          lines.push(message(i, false));
          if (i % 10 === 0) lines.push(message(i, true));
        }
        await writeBatch(
          container,
          batchBlobName(entity, iso(day).slice(0, 10), {
            pass: 'fresh',
            window: { fromMs: day, toMs: day + DAY },
            runId: 'bench',
            seq: seq++,
          }),
          lines,
          {},
        );
      }
      await checkpoints.advance(entity, { freshWatermarkMs: day + 2 * DAY, settledWatermarkMs: day + 2 * DAY });
    }
    const r = produceInChild(env, day, day + DAY);
    return { bench: 'rsmf-one-day', messages: events, ...r };
  } finally {
    await azurite.stop();
  }
}

const SECTION = '## RSMF productions';

/** Replaces (or appends) the `## RSMF productions` section of bench/RESULTS.md, nothing else. */
function writeSection(text: string): void {
  const file = join(__dirname, '..', '..', 'bench', 'RESULTS.md');
  const old = readFileSync(file, 'utf8');
  const start = old.indexOf(`\n${SECTION}\n`);
  let next = start < 0 ? -1 : old.indexOf('\n## ', start + 1);
  if (start >= 0 && next < 0) next = old.length;
  const updated =
    start < 0 ? `${old.trimEnd()}\n\n${text}` : `${old.slice(0, start + 1)}${text}${next < old.length ? `\n${old.slice(next + 1)}` : ''}`;
  writeFileSync(file, updated);
}

const SYNTHETIC = { users: 600, chats: 2000, days: 2, perChatDay: 25 };

function section(
  demo: Awaited<ReturnType<typeof demoSize>>,
  tenant: Awaited<ReturnType<typeof syntheticTenant>>,
  day: Awaited<ReturnType<typeof oneBusyDay>>,
): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const row = (what: string, f: ProductionFigures) =>
    `| ${what} | ${n(f.conversations)} | ${n(f.files)} | ${n(f.events)} | ${n(f.versions)} | ${n(f.sharedSlices)} | ${f.seconds} | ${n(f.eventsPerSecond)} | ${f.peakRssMiB} |`;
  return `${SECTION}

Measured ${new Date().toISOString()} by \`npm run bench:rsmf\` (\`node dist-dev/bench/rsmf-bench.js all --write\`) on
${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, load average ${loadavg()[0]?.toFixed(1)} at the end. Each
production runs in a process of its own over an archive in Azurite (own process); the time is the whole
production (planning, one read of every batch, building and writing the files to a local folder).

| production | conversations | files | events | versions | conversation-days under ≥ 2 custodians | s | events/s | peak RSS MiB |
|---|---|---|---|---|---|---|---|---|
${row(`demo-size archive (emulated tenant of 24 users, 4 teams, 90 days, exported by a daily run: ${n(demo.versionsArchived)} versions archived)`, demo)}
${row(`tenant-size archive (${n(tenant.chats)} group chats of 3 among ${n(tenant.users)} users, ${tenant.perChatDay} messages a day for ${tenant.days} days, a tenth edited; each chat under all 3 members: ${n(tenant.versionsArchived)} versions archived)`, tenant)}
${row(`one chat-day of ${n(day.messages)} messages (a tenth edited once, archived under both members)`, day)}

Events are messages at their latest version (earlier versions are their \`edits[]\`); versions counts the
distinct archived versions produced, after de-duplication across custodians. The tenant-size archive is
written through the product's batch writer (\`writeBatch\`, the export's own layout and checkpoints) so it
builds in seconds; \`node dist-dev/bench/rsmf-bench.js tenant --scale 0.25\` instead exports the export
bench's tenant profile from the emulator first (~100k versions, ~30k conversation-days of one or two
messages each, so it measures the per-file cost; it takes much longer). The one-day figure is the
bounded-memory check: 100,000 events in one conversation-day stream through spool files
(\`RSMF_BENCH_HEAP_MB=96\` caps the heap to show it).
`;
}

function scaleArg(args: readonly string[]): number {
  const i = args.indexOf('--scale');
  const v = i >= 0 ? Number(args[i + 1]) : 0.25;
  if (!Number.isFinite(v) || v <= 0) throw new Error('--scale needs a positive number');
  return v;
}

async function main(argv: readonly string[]): Promise<void> {
  const [mode, ...rest] = argv;
  const print = (r: unknown) => console.log(JSON.stringify(r));
  switch (mode) {
    case 'produce':
      return produceFromEnv(Number(rest[0]), Number(rest[1]));
    case 'demo':
      return print(await demoSize());
    case 'tenant':
      return print(await tenantSize(scaleArg(rest)));
    case 'synthetic':
      return print(await syntheticTenant({ ...SYNTHETIC, ...(rest[0] ? { chats: Number(rest[0]) } : {}) }));
    case 'day100k':
      return print(await oneBusyDay(Number(rest[0] ?? 100_000)));
    case 'all': {
      const demo = await demoSize();
      print(demo);
      const tenant = await syntheticTenant(SYNTHETIC);
      print(tenant);
      const day = await oneBusyDay(100_000);
      print(day);
      const text = section(demo, tenant, day);
      if (rest.includes('--write')) writeSection(text);
      else console.log(text);
      return;
    }
    default:
      throw new Error('usage: node dist-dev/bench/rsmf-bench.js all|demo|synthetic|tenant|day100k [--scale N] [--write] (see the header)');
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
