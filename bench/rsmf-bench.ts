// RSMF production figures (docs/rsmf.md): `node dist/bench/rsmf-bench.js demo` times a production of the
// demo-size archive (events/s); `node dist/bench/rsmf-bench.js day100k [events]` writes one chat-day of
// 100,000 messages (a tenth edited once) straight into Azurite and reports the peak RSS of producing it.
// Azurite runs as its own process, so the RSS is the production's.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
import { loadSettings } from '../src/settings';
import { CheckpointStore } from '../src/state/checkpoint-store';
import { DAY, HOUR, iso } from '../src/time';

async function produce(
  deps: ProductionDeps,
  fromMs: number,
  toMs: number,
): Promise<{ events: number; files: number; versions: number; seconds: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'rsmf-bench-'));
  try {
    const started = process.hrtime.bigint();
    const plan = await planProduction({ fromMs, toMs, users: [], teams: [], conversations: [] }, deps);
    const m = await runProduction('rsmf-bench', plan, deps, folderSink(join(dir, 'out')));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { events: m.totals.events, files: m.totals.files, versions: m.totals.versions, seconds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function demoSize(): Promise<void> {
  const azurite = await startAzurite({ timeoutMs: 180_000 });
  const nowMs = Date.now();
  const emulator = await startEmulator({
    tenant: { seed: 7, users: 24, teams: 4, historyDays: 90, endMs: nowMs - 2 * HOUR },
    faults: { hostedContentRps: null },
  });
  try {
    trustCertificateInProcess(emulator.caCertPem);
    const env = {
      ...emulatorEnv(emulator),
      GRAPH_MAX_RPS: '500',
      GRAPH_HOSTED_CONTENT_RPS: '1000',
      EXPORT_STORAGE: azurite.connectionString,
      EXPORT_START: iso(nowMs - 91 * DAY),
      EXPORT_CONCURRENCY: '8',
      LOG_LEVEL: 'error',
    };
    const deps = await buildDeps(loadSettings(env), { log: silentLogger });
    const run = await runExport({ kind: 'daily', nowMs }, deps);
    const toMs = Math.floor((nowMs - DAY) / DAY) * DAY;
    const r = await produce(
      { container: deps.container, checkpoints: deps.checkpoints, exportStartMs: deps.settings.startMs },
      nowMs - 91 * DAY,
      toMs,
    );
    console.log(
      JSON.stringify({
        bench: 'rsmf-demo-size',
        run: run.status,
        ...r,
        eventsPerSecond: Math.round(r.events / r.seconds),
        peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      }),
    );
  } finally {
    await emulator.close();
    await azurite.stop();
  }
}

async function oneBusyDay(events: number): Promise<void> {
  const azurite = await startAzurite({ timeoutMs: 180_000 });
  try {
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('bench');
    await container.create();
    const table = TableClient.fromConnectionString(azurite.connectionString, 'benchcheckpoints', { allowInsecureConnection: true });
    const checkpoints = new CheckpointStore(table);
    await checkpoints.ensure();
    const day = Math.floor((Date.now() - 10 * DAY) / DAY) * DAY;
    const users = ['00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-00000000000b'];
    const chatId = '19:bench@thread.v2';
    const message = (i: number, edited: boolean): string => {
      const created = day + Math.floor((i * DAY) / events);
      const modified = edited ? created + 60_000 : created;
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
        from: { user: { id: users[i % 2], displayName: i % 2 ? 'Bo' : 'Ada', userIdentityType: 'aadUser' } },
        body: {
          contentType: 'html',
          content: `<p>Message ${i}${edited ? ' (edited)' : ''}: the quarterly numbers are attached, please review before Friday 📊</p>`,
        },
        attachments: [],
        mentions: [],
        reactions:
          i % 7 === 0 ? [{ reactionType: 'like', createdDateTime: iso(created + 1000), user: { user: { id: users[(i + 1) % 2] } } }] : [],
      });
    };
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
    // The production runs in a process of its own, so its peak RSS is not the data generation's.
    const child = spawnSync(
      process.execPath,
      [
        ...(process.env.RSMF_BENCH_HEAP_MB ? [`--max-old-space-size=${process.env.RSMF_BENCH_HEAP_MB}`] : []),
        __filename,
        'produce',
        azurite.connectionString,
        String(day),
        String(events),
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    if (child.status !== 0) throw new Error(`production process exited with ${child.status}`);
  } finally {
    await azurite.stop();
  }
}

/** The production half of day100k: reads what the parent wrote into its Azurite. */
async function produceDay(connectionString: string, day: number, events: number): Promise<void> {
  const container = BlobServiceClient.fromConnectionString(connectionString).getContainerClient('bench');
  const checkpoints = new CheckpointStore(
    TableClient.fromConnectionString(connectionString, 'benchcheckpoints', { allowInsecureConnection: true }),
  );
  const r = await produce({ container, checkpoints, exportStartMs: day - DAY }, day, day + DAY);
  console.log(
    JSON.stringify({
      bench: 'rsmf-one-day',
      messages: events,
      ...r,
      eventsPerSecond: Math.round(r.events / r.seconds),
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    }),
  );
}

const [mode, a, b, c] = process.argv.slice(2);
(mode === 'demo'
  ? demoSize()
  : mode === 'produce'
    ? produceDay(a as string, Number(b), Number(c))
    : oneBusyDay(Number(a ?? 100_000))
).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
