// The long fault scenarios of issue 7 (too slow for CI), run against the compiled product in dist/:
// 20 SIGKILLs of the CLI in a row over a changing tenant then a clean run; a 429 storm of a minute at a
// tenth of the limit; 30-second tokens over a run of several minutes. Each ends by comparing the archive
// with the emulator's ledger of served versions and prints a table.
//
//   npm run build && npm run build:dev && node soak/soak.mjs [--only sigkill|storm|tokens] [--kills N] [--storm-sec N]
//
// Exit code 0 when every scenario lost and duplicated nothing and every blob was valid, 1 otherwise.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const dist = resolve(import.meta.dirname, '../dist/src');
const devTools = resolve(import.meta.dirname, '../dist-dev/emulator');
const { startAzurite } = require(`${devTools}/azurite-process.js`);
const { startEmulator, trustCertificateInProcess, versionKeyOf } = require(`${devTools}/index.js`);
const { parseBatchBlobName } = require(`${dist}/archive/blob-layout.js`);
const { buildDeps } = require(`${dist}/deps.js`);
const { runExport } = require(`${dist}/export/run-in-process.js`);
const { loadSettings } = require(`${dist}/settings.js`);
const { silentLogger } = require(`${dist}/log.js`);
const { emulatorEnv } = require(`${devTools}/emulator-env.js`);
const CLI = `${dist}/cli/main.js`;

const { values: args } = parseArgs({ options: { only: { type: 'string' }, kills: { type: 'string', default: '20' }, 'storm-sec': { type: 'string', default: '60' } } });
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const LAG = 5 * MINUTE;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => process.stderr.write(`[soak] ${a.join(' ')}\n`);

let counter = 0;
function names(label) {
  const u = `${Date.now().toString(36)}${(counter++).toString(36)}`;
  return { container: `soak-${label}-${u}`, tablePrefix: `soak${label.replace(/[^a-z0-9]/gi, '')}${u}` };
}

function envFor(emulator, connectionString, label, extra = {}) {
  const n = names(label);
  return {
    ...emulatorEnv(emulator),
    GRAPH_MAX_RPS: '300',
    EXPORT_STORAGE: connectionString,
    EXPORT_CONTAINER: n.container,
    EXPORT_TABLE_PREFIX: n.tablePrefix,
    EXPORT_START: new Date(Date.now() - 120 * DAY).toISOString(),
    EXPORT_CHUNK: 'P10D',
    ...extra,
  };
}

/** Archive vs ledger: lost, duplicated, invalid blobs (the same rules as test/support/archive-audit.ts). */
async function audit(container, emulator, currentBefore) {
  const perEntity = new Map();
  let invalid = 0;
  for await (const item of container.listBlobsFlat({ includeMetadata: true })) {
    if (item.name.startsWith('locks/')) continue;
    const buf = await container.getBlobClient(item.name).downloadToBuffer();
    if (item.name.startsWith('manifests/')) {
      try { JSON.parse(buf.toString('utf8')); } catch { invalid++; }
      continue;
    }
    let lines;
    try {
      lines = gunzipSync(buf).toString('utf8').split('\n');
      if (lines.pop() !== '') invalid++;
      lines = lines.map((l) => JSON.parse(l));
    } catch { invalid++; continue; }
    if (item.name.startsWith('quarantine/')) continue;
    const batch = parseBatchBlobName(item.name);
    if (!batch) { invalid++; continue; }
    const key = `${batch.entity.kind}:${batch.entity.id}`;
    const keys = perEntity.get(key) ?? [];
    for (const m of lines) keys.push(versionKeyOf(m));
    perEntity.set(key, keys);
  }
  const union = new Set();
  let duplicated = 0;
  for (const keys of perEntity.values()) {
    const seen = new Set();
    for (const k of keys) { if (seen.has(k)) duplicated++; seen.add(k); union.add(k); }
  }
  const tenant = emulator.tenant;
  const entities = [...tenant.users.filter((u) => u.hasTeamsData).map((u) => ({ kind: 'user', id: u.id })), ...tenant.teams.map((t) => ({ kind: 'team', id: t.id }))];
  const current = new Set();
  const expected = new Set(emulator.counters.ledger);
  let missingPerEntity = 0;
  for (const e of entities) {
    const have = new Set(perEntity.get(`${e.kind}:${e.id}`) ?? []);
    for (const v of tenant.currentVersions(e)) current.add(v.key);
    for (const v of tenant.currentVersions(e, { fromMs: 0, toMs: currentBefore })) {
      expected.add(v.key);
      if (!have.has(v.key)) missingPerEntity++;
    }
  }
  let lost = 0;
  let superseded = 0;
  for (const k of expected) if (!union.has(k)) (current.has(k) ? lost++ : superseded++);
  return { expected: expected.size, lost: lost + missingPerEntity, superseded, duplicated, invalid };
}

function cli(argv, env, killAfterPages, emulator) {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [CLI, ...argv], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    let poll;
    if (killAfterPages !== undefined) {
      const start = emulator.counters.messagePages;
      poll = setInterval(() => {
        if (emulator.counters.messagePages - start >= killAfterPages) { clearInterval(poll); child.kill('SIGKILL'); }
      }, 5);
    }
    child.on('error', rej);
    child.on('close', (code, signal) => { clearInterval(poll); res({ code, signal, out }); });
  });
}

/** 20 SIGKILLs at random points, the tenant changing between runs, then one clean run. */
async function sigkillScenario(azurite) {
  const kills = Number(args.kills);
  const emulator = await startEmulator({ tenant: { seed: 901, users: 12, teams: 3, historyDays: 100, endMs: Date.now() - 2 * HOUR } });
  trustCertificateInProcess(emulator.caCertPem);
  const caFile = join(mkdtempSync(join(tmpdir(), 'soak-')), 'ca.pem');
  await emulator.writeCaCert(caFile);
  // A lag of 1 s: the changes made just before each run are inside its fresh window (with the default
  // 5 min, changes stamped behind an earlier run's watermark would wait for the settle pass a day later).
  const env = { ...envFor(emulator, azurite.connectionString, 'kill', { GRAPH_PAGE_SIZE: '5', EXPORT_LAG: 'PT1S' }), NODE_EXTRA_CA_CERTS: caFile };
  emulator.setFaults({ latencyMs: 5 });
  const tenant = emulator.tenant;
  let rng = 12345;
  const rand = (n) => { rng = (rng * 1103515245 + 12345) % 2 ** 31; return rng % n; };
  let killed = 0;
  let mutations = 0;
  for (let i = 0; i < kills; i++) {
    // The tenant changes between runs: new posts, edits, reactions, deletions.
    const at = Date.now() - 1500;
    for (let k = 0; k < 5; k++) {
      // (posts at at + k, changes at at + 10 + k: all before this run's window end, now − 1 s)
      const chat = tenant.chats[rand(tenant.chats.length)];
      tenant.postMessage({ chatId: chat.id }, { fromUserId: chat.memberIds[0], text: `soak ${i}.${k}`, atMs: at + k });
      const live = chat.conversation.messages.filter((m) => !m.v.deletedMs);
      const m = live[rand(live.length)];
      if (m) {
        const op = rand(3);
        if (op === 0) tenant.editMessage(chat.id, m.id, `edited in soak ${i}`, at + 10 + k);
        else if (op === 1) tenant.addReaction(chat.id, m.id, chat.memberIds[0], '💯', at + 10 + k);
        else tenant.deleteMessage(chat.id, m.id, at + 10 + k);
      }
      mutations += 2;
    }
    const r = await cli(['run', '--now', new Date().toISOString()], env, 1 + rand(60), emulator);
    if (r.signal === 'SIGKILL') killed++;
    log(`sigkill ${i + 1}/${kills}: ${r.signal ?? `exit ${r.code}`}`);
  }
  await sleep(1500);
  const nowMs = Date.now();
  const clean = await cli(['run', '--now', new Date(nowMs).toISOString()], env, undefined, emulator);
  if (clean.code !== 0) log(`clean run exit ${clean.code}: ${clean.out.slice(-500)}`);
  const deps = await buildDeps(loadSettings(env), { log: silentLogger });
  const a = await audit(deps.container, emulator, nowMs - 1000);
  await emulator.close();
  return { scenario: `SIGKILL x${kills} over a changing tenant, then a clean run`, faults: `${killed} SIGKILLs, ${mutations} mutations; clean run exit ${clean.code}`, runs: kills + 1, ...a, ok: clean.code === 0 };
}

/** A minute at a tenth of the rate limit in the middle of a long run. */
async function stormScenario(azurite) {
  const stormMs = Number(args['storm-sec']) * 1000;
  const now = Date.now();
  const emulator = await startEmulator({ tenant: { seed: 902, users: 30, teams: 6, historyDays: 100, endMs: now - 2 * HOUR }, faults: { rateLimitRps: 100, retryAfterSec: 1 } });
  trustCertificateInProcess(emulator.caCertPem);
  const env = envFor(emulator, azurite.connectionString, 'storm', { GRAPH_PAGE_SIZE: '3', GRAPH_MAX_RPS: '150', GRAPH_MAX_RETRIES: '12', EXPORT_CONCURRENCY: '16' });
  const deps = await buildDeps(loadSettings(env), { log: silentLogger });
  let storm;
  const outcome = await runExport({ kind: 'daily', nowMs: now }, deps, {
    onProgress: (p) => {
      storm ??= p.pages >= 50 ? (async () => {
        const c = emulator.counters;
        const [r0, t0] = [c.graphRequests, c.throttled];
        emulator.setFaults({ rateLimitRps: 10 });
        await sleep(stormMs);
        emulator.setFaults({ rateLimitRps: 100 });
        return { sent: c.graphRequests - r0, throttled: c.throttled - t0 };
      })() : undefined;
    },
  });
  const during = storm ? await storm : { sent: 0, throttled: 0 };
  const a = await audit(deps.container, emulator, now - LAG);
  await emulator.close();
  return {
    scenario: `429 storm: ${stormMs / 1000} s at a tenth of the limit`,
    faults: `limit 100→10 rps; ${during.sent} requests in the storm (${(during.sent / (stormMs / 1000)).toFixed(1)}/s), ${during.throttled} answered 429; run ${outcome.status}`,
    runs: 1, ...a, ok: outcome.status === 'succeeded' && storm !== undefined,
  };
}

/** 30-second tokens over a run of several minutes. */
async function tokenScenario(azurite) {
  const now = Date.now();
  const emulator = await startEmulator({ tokenLifetimeSec: 30, tenant: { seed: 903, users: 20, teams: 4, historyDays: 100, endMs: now - 2 * HOUR }, faults: { latencyMs: 500 } });
  trustCertificateInProcess(emulator.caCertPem);
  const env = envFor(emulator, azurite.connectionString, 'tokens', { GRAPH_PAGE_SIZE: '3', EXPORT_CONCURRENCY: '2' });
  const deps = await buildDeps(loadSettings(env), { log: silentLogger });
  const t0 = Date.now();
  const outcome = await runExport({ kind: 'daily', nowMs: now }, deps);
  const secs = Math.round((Date.now() - t0) / 1000);
  const a = await audit(deps.container, emulator, now - LAG);
  const issued = emulator.counters.tokensIssued;
  const unauthorized = emulator.counters.byStatus['401'] ?? 0;
  await emulator.close();
  return { scenario: '30 s tokens over a long run', faults: `${secs} s run, ${issued} tokens issued, ${unauthorized} answers 401; run ${outcome.status}`, runs: 1, ...a, ok: outcome.status === 'succeeded' };
}

const SCENARIOS = { sigkill: sigkillScenario, storm: stormScenario, tokens: tokenScenario };

const azurite = await startAzurite();
const rows = [];
try {
  for (const [name, fn] of Object.entries(SCENARIOS)) {
    if (args.only && args.only !== name) continue;
    log(`scenario ${name}…`);
    const t = Date.now();
    rows.push(await fn(azurite));
    log(`scenario ${name} done in ${Math.round((Date.now() - t) / 1000)} s`);
  }
} finally {
  await azurite.stop();
}

const header = ['scenario', 'faults injected', 'runs', 'versions expected', 'lost', 'duplicated', 'superseded before commit', 'invalid blobs'];
const table = rows.map((r) => [r.scenario, r.faults, r.runs, r.expected, r.lost, r.duplicated, r.superseded, r.invalid].map(String));
console.log(`| ${header.join(' | ')} |`);
console.log(`|${header.map(() => ' --- ').join('|')}|`);
for (const r of table) console.log(`| ${r.join(' | ')} |`);
const failed = rows.some((r) => !r.ok || r.lost > 0 || r.duplicated > 0 || r.invalid > 0);
process.exitCode = failed ? 1 : 0;
