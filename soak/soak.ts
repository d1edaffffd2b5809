// The long fault scenarios of issue 7 (too slow for CI), run against the compiled product in dist/:
// 20 SIGKILLs of the CLI in a row over a changing tenant then a clean run; a 429 storm of a minute at a
// tenth of the limit; 30-second tokens over a run of several minutes. Each ends by auditing the archive
// against the emulator's ledger of served versions (test/support/archive-audit.ts, the audit the
// reliability tests use) and prints a table.
//
//   npm run soak -- [--only sigkill|storm|tokens] [--kills N] [--storm-sec N]
//
// Exit code 0 when every scenario lost, duplicated and invented nothing and every blob was valid, 1 otherwise.
import { parseArgs } from 'node:util';
import type { ContainerClient } from '@azure/storage-blob';
import { startAzurite, type AzuriteProcess } from '../emulator/azurite-process';
import { buildDeps } from '../src/deps';
import { startEmulator, trustCertificateInProcess, type Emulator, type EmulatorOptions } from '../emulator';
import { runExport } from '../src/export/run-in-process';
import type { Entity } from '../src/model/entity';
import { silentLogger } from '../src/log';
import { loadSettings, type Env } from '../src/settings';
import { DAY, HOUR, MINUTE } from '../src/time';
import { auditArchive, type ArchiveAudit } from '../test/support/archive-audit';
import { cliEnv, emulatorCaFile, runCli } from '../test/support/cli-process';

const LAG = 5 * MINUTE;

interface Row {
  scenario: string;
  faults: string;
  runs: number;
  audit: ArchiveAudit;
  /** The scenario's own condition (the final run succeeded, the storm happened, ...). */
  ok: boolean;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const log = (...a: unknown[]) => process.stderr.write(`[soak] ${a.join(' ')}\n`);

let counter = 0;
/** Settings for one scenario: the emulator, the shared Azurite, fresh container and table names. */
function envFor(emulator: Emulator, connectionString: string, label: string, extra: Record<string, string> = {}): Record<string, string> {
  const unique = `${Date.now().toString(36)}${(counter++).toString(36)}`;
  const storage = {
    connectionString,
    container: `soak-${label}-${unique}`,
    tablePrefix: `soak${label.replace(/[^a-z0-9]/gi, '')}${unique}`,
  };
  return cliEnv(emulator, storage, { EXPORT_START: new Date(Date.now() - 120 * DAY).toISOString(), EXPORT_CHUNK: 'P10D', ...extra });
}

async function trustedEmulator(opts: EmulatorOptions): Promise<Emulator> {
  const emulator = await startEmulator(opts);
  trustCertificateInProcess(emulator.caCertPem);
  return emulator;
}

/** Users with Teams data and teams: every entity whose current versions must all be archived. */
function entitiesOf(emulator: Emulator): Entity[] {
  const t = emulator.tenant;
  return [
    ...t.users.filter((u) => u.hasTeamsData).map((u) => ({ kind: 'user' as const, id: u.id })),
    ...t.teams.map((x) => ({ kind: 'team' as const, id: x.id })),
  ];
}

function audit(container: ContainerClient, emulator: Emulator, currentBefore: number): Promise<ArchiveAudit> {
  return auditArchive(container, emulator, { entities: entitiesOf(emulator), currentBefore });
}

/** 20 SIGKILLs at random points, the tenant changing between runs, then one clean run. */
async function sigkillScenario(azurite: AzuriteProcess, kills: number): Promise<Row> {
  const emulator = await trustedEmulator({ tenant: { seed: 901, users: 12, teams: 3, historyDays: 100, endMs: Date.now() - 2 * HOUR } });
  // A lag of 1 s: the changes made just before each run are inside its fresh window (with the default
  // 5 min, changes stamped behind an earlier run's watermark would wait for the settle pass a day later).
  const env = {
    ...envFor(emulator, azurite.connectionString, 'kill', { GRAPH_PAGE_SIZE: '5', EXPORT_LAG: 'PT1S' }),
    NODE_EXTRA_CA_CERTS: await emulatorCaFile(emulator),
  };
  emulator.setFaults({ latencyMs: 5 });
  const tenant = emulator.tenant;
  let rng = 12345;
  const rand = (n: number) => {
    rng = (rng * 1103515245 + 12345) % 2 ** 31;
    return rng % n;
  };
  let killed = 0;
  let mutations = 0;
  for (let i = 0; i < kills; i++) {
    // The tenant changes between runs: new posts, edits, reactions, deletions, all stamped before
    // this run's window end (now − 1 s): posts at `at + k`, changes at `at + 10 + k`.
    const at = Date.now() - 1500;
    for (let k = 0; k < 5; k++) {
      const chat = tenant.chats[rand(tenant.chats.length)]!;
      tenant.postMessage({ chatId: chat.id }, { fromUserId: chat.memberIds[0]!, text: `soak ${i}.${k}`, atMs: at + k });
      const live = chat.conversation.messages.filter((m) => !m.v.deletedMs);
      const m = live[rand(live.length)];
      if (m) {
        const op = rand(3);
        if (op === 0) tenant.editMessage(chat.id, m.id, `edited in soak ${i}`, at + 10 + k);
        else if (op === 1) tenant.addReaction(chat.id, m.id, chat.memberIds[0]!, '💯', at + 10 + k);
        else tenant.deleteMessage(chat.id, m.id, at + 10 + k);
      }
      mutations += 2;
    }
    const pagesBefore = emulator.counters.messagePages;
    const killAfterPages = 1 + rand(60);
    const r = await runCli(['run', '--now', new Date().toISOString()], env, {
      killWhen: () => emulator.counters.messagePages - pagesBefore >= killAfterPages,
    });
    if (r.signal === 'SIGKILL') killed++;
    log(`sigkill ${i + 1}/${kills}: ${r.signal ?? `exit ${r.code}`}`);
  }
  await sleep(1500);
  const nowMs = Date.now();
  const clean = await runCli(['run', '--now', new Date(nowMs).toISOString()], env);
  if (clean.code !== 0) log(`clean run exit ${clean.code}: ${(clean.stdout + clean.stderr).slice(-500)}`);
  const deps = await buildDeps(loadSettings(env), { log: silentLogger });
  const a = await audit(deps.container, emulator, nowMs - 1000);
  await emulator.close();
  return {
    scenario: `SIGKILL x${kills} over a changing tenant, then a clean run`,
    faults: `${killed} SIGKILLs, ${mutations} mutations; clean run exit ${clean.code}`,
    runs: kills + 1,
    audit: a,
    ok: clean.code === 0,
  };
}

/** A minute at a tenth of the rate limit in the middle of a long run. */
async function stormScenario(azurite: AzuriteProcess, stormMs: number): Promise<Row> {
  const now = Date.now();
  const emulator = await trustedEmulator({
    tenant: { seed: 902, users: 30, teams: 6, historyDays: 100, endMs: now - 2 * HOUR },
    faults: { rateLimitRps: 100, retryAfterSec: 1 },
  });
  const env: Env = envFor(emulator, azurite.connectionString, 'storm', {
    GRAPH_PAGE_SIZE: '3',
    GRAPH_MAX_RPS: '150',
    GRAPH_MAX_RETRIES: '12',
    EXPORT_CONCURRENCY: '16',
  });
  const deps = await buildDeps(loadSettings(env), { log: silentLogger });
  let storm: Promise<{ sent: number; throttled: number }> | undefined;
  const outcome = await runExport({ kind: 'daily', nowMs: now }, deps, {
    onProgress: (p) => {
      if (storm !== undefined || p.pages < 50) return;
      storm = (async () => {
        const c = emulator.counters;
        const [r0, t0] = [c.graphRequests, c.throttled];
        emulator.setFaults({ rateLimitRps: 10 });
        await sleep(stormMs);
        emulator.setFaults({ rateLimitRps: 100 });
        return { sent: c.graphRequests - r0, throttled: c.throttled - t0 };
      })();
    },
  });
  const during = storm ? await storm : { sent: 0, throttled: 0 };
  const a = await audit(deps.container, emulator, now - LAG);
  await emulator.close();
  return {
    scenario: `429 storm: ${stormMs / 1000} s at a tenth of the limit`,
    faults: `limit 100→10 rps; ${during.sent} requests in the storm (${(during.sent / (stormMs / 1000)).toFixed(1)}/s), ${during.throttled} answered 429; run ${outcome.status}`,
    runs: 1,
    audit: a,
    ok: outcome.status === 'succeeded' && storm !== undefined,
  };
}

/** 30-second tokens over a run of several minutes. */
async function tokenScenario(azurite: AzuriteProcess): Promise<Row> {
  const now = Date.now();
  const emulator = await trustedEmulator({
    tokenLifetimeSec: 30,
    tenant: { seed: 903, users: 20, teams: 4, historyDays: 100, endMs: now - 2 * HOUR },
    faults: { latencyMs: 500 },
  });
  const env = envFor(emulator, azurite.connectionString, 'tokens', { GRAPH_PAGE_SIZE: '3', EXPORT_CONCURRENCY: '2' });
  const deps = await buildDeps(loadSettings(env), { log: silentLogger });
  const t0 = Date.now();
  const outcome = await runExport({ kind: 'daily', nowMs: now }, deps);
  const secs = Math.round((Date.now() - t0) / 1000);
  const a = await audit(deps.container, emulator, now - LAG);
  const issued = emulator.counters.tokensIssued;
  const unauthorized = emulator.counters.byStatus['401'] ?? 0;
  await emulator.close();
  return {
    scenario: '30 s tokens over a long run',
    faults: `${secs} s run, ${issued} tokens issued, ${unauthorized} answers 401; run ${outcome.status}`,
    runs: 1,
    audit: a,
    ok: outcome.status === 'succeeded',
  };
}

function problems(r: Row): number {
  const a = r.audit;
  return a.lost.length + a.missingPerEntity.length + a.duplicated.length + a.invalidBlobs.length + a.extra.length;
}

function printTable(rows: Row[]): void {
  const header = [
    'scenario',
    'faults injected',
    'runs',
    'versions expected',
    'lost',
    'duplicated',
    'superseded before commit',
    'never served',
    'invalid blobs',
  ];
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map(() => ' --- ').join('|')}|`);
  for (const r of rows) {
    const a = r.audit;
    const cells = [
      r.scenario,
      r.faults,
      r.runs,
      a.expected,
      a.lost.length + a.missingPerEntity.length,
      a.duplicated.length,
      a.supersededBeforeCommit.length,
      a.extra.length,
      a.invalidBlobs.length,
    ];
    console.log(`| ${cells.map(String).join(' | ')} |`);
  }
}

async function main(): Promise<number> {
  const { values: args } = parseArgs({
    options: { only: { type: 'string' }, kills: { type: 'string', default: '20' }, 'storm-sec': { type: 'string', default: '60' } },
  });
  const scenarios: Record<string, (azurite: AzuriteProcess) => Promise<Row>> = {
    sigkill: (az) => sigkillScenario(az, Number(args.kills)),
    storm: (az) => stormScenario(az, Number(args['storm-sec']) * 1000),
    tokens: tokenScenario,
  };
  if (args.only !== undefined && !(args.only in scenarios)) {
    process.stderr.write(`soak: --only must be one of ${Object.keys(scenarios).join(', ')}\n`);
    return 2;
  }
  const azurite = await startAzurite();
  const rows: Row[] = [];
  try {
    for (const [name, run] of Object.entries(scenarios)) {
      if (args.only !== undefined && args.only !== name) continue;
      log(`scenario ${name}…`);
      const t = Date.now();
      rows.push(await run(azurite));
      log(`scenario ${name} done in ${Math.round((Date.now() - t) / 1000)} s`);
    }
  } finally {
    await azurite.stop();
  }
  printTable(rows);
  return rows.some((r) => !r.ok || problems(r) > 0) ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`soak: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
