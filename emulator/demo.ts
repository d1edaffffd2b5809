// `teams-export demo`: the whole product on one machine. Starts Azurite and the Graph
// emulator (a seeded synthetic tenant), runs a daily export through the real code paths, changes a
// few messages, runs again to show that only the new versions are added, and prints what it wrote.
// Loaded by the CLI only when `demo` is run (src/cli/load-demo.ts): it is a development tool, never shipped.
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listBatches, listBlobs, readBatchLines } from '../src/archive/batch-reader';
import { CONTENT_BYTES_PREFIX, MESSAGES_PREFIX } from '../src/archive/blob-layout';
import { EXIT_OK, EXIT_RUN_FAILED } from '../src/cli/cli-errors';
import { write } from '../src/cli/cli-context';
import { executeWithProgress, printOutcome } from '../src/cli/export-commands';
import type { DemoCommand } from '../src/cli/load-demo';
import { buildDeps } from '../src/deps';
import { createLogger, jsonStderrSink } from '../src/log';
import { loadSettings, type Env } from '../src/settings';
import { DAY, HOUR, iso } from '../src/time';
import { startAzurite } from './azurite-process';
import { emulatorEnv } from './emulator-env';
import { startEmulator, trustCertificateInProcess } from './index';
import { demoRsmf } from '../src/cli/demo-rsmf';
import { blobReadEvent, readAuditTrail } from '../src/archive/audit-trail';
import { auditLine } from '../src/cli/audit-command';
import { cliAuditor } from '../src/cli/cli-audit';
import { showArtifacts } from './demo-artifacts';

const HISTORY_DAYS = 90;

export const demoCommand: DemoCommand = async (ctx, o) => {
  const out = (line: string) => write(ctx.stdout, line);
  out('teams-export demo: starting Azurite (in memory) and the Graph emulator ...');
  const azurite = await startAzurite();
  const nowMs = Date.now();
  const emulator = await startEmulator({
    tenant: { seed: 7, users: 24, teams: 4, historyDays: HISTORY_DAYS, endMs: nowMs - 2 * HOUR },
  });
  try {
    trustCertificateInProcess(emulator.caCertPem);
    const env: Env = {
      ...emulatorEnv(emulator),
      GRAPH_MAX_RPS: '200',
      EXPORT_STORAGE: azurite.connectionString,
      EXPORT_START: iso(nowMs - (HISTORY_DAYS + 1) * DAY),
      EXPORT_CONCURRENCY: '8',
      // Also Copilot interactions and meeting transcripts/recordings (docs/design.md §18).
      EXPORT_COPILOT: 'true',
      EXPORT_MEETINGS: 'true',
      LOG_LEVEL: 'error',
    };
    const settings = loadSettings(env);
    const deps = await buildDeps(settings, { log: createLogger(jsonStderrSink, 'error') });
    const stats = emulator.tenant.stats();
    out(`  Azurite:  ${azurite.blobEndpoint}`);
    out(
      `  Graph:    ${emulator.graphBaseUrl} (tenant of ${stats.users} users, ${stats.teams} teams, ${stats.chats} chats, ${stats.channels} channels, ${stats.messages} messages)`,
    );
    out('');
    out(
      `1) First daily run: the whole history (${HISTORY_DAYS} days), every user's chats and Copilot interactions, every team's channels, every meeting's transcript and recording.`,
    );
    const first = await executeWithProgress(ctx, deps, { kind: 'daily', nowMs });
    printOutcome(ctx, first, { json: false });

    out('');
    out('2) Meanwhile in Teams: a message is edited, one deleted, one reacted to, one posted.');
    const changed = changeSomeMessages(emulator, nowMs);
    out(`   (${changed} changes made in the emulator)`);
    const laterMs = Date.now() + 10 * 60_000;
    out('   Second daily run, ten minutes later: only the new versions are added, nothing is rewritten.');
    const second = await executeWithProgress(ctx, deps, { kind: 'daily', nowMs: laterMs });
    printOutcome(ctx, second, { json: false });
    out('   (a chat message is archived under every member of the chat, so each change appears once per member)');

    out('');
    out('3) What is in the archive (container "teams-export"):');
    let shown = 0;
    let total = 0;
    let sample: string | undefined;
    for await (const b of listBatches(deps.container, MESSAGES_PREFIX, ctx.signal)) {
      total++;
      if (shown < 8) {
        out(`   ${String(b.bytes).padStart(7)} B  ${String(b.lines ?? '').padStart(4)} lines  ${b.name}`);
        shown++;
      }
      if (!sample && (b.lines ?? 0) > 0) sample = b.name;
    }
    let content = 0;
    let contentBytes = 0;
    for await (const b of listBlobs(deps.container, CONTENT_BYTES_PREFIX, ctx.signal)) {
      content++;
      contentBytes += b.bytes;
    }
    out(`   ... ${total} batches in all under messages/, plus manifests/ (SHA-256 of every blob) per run,`);
    out(`   and ${content} pasted images, code snippets and custom emoji in content/ (${contentBytes} bytes, each stored once),`);
    out('   mapped from their messages by the .content.json file beside each batch.');
    if (sample) {
      out('');
      out(`4) One line of ${sample} (a chatMessage exactly as Graph returned it):`);
      // A read of archived content like `teams-export cat`: recorded in the audit trail first.
      await cliAuditor(deps)(blobReadEvent('cli.cat', sample));
      for await (const line of readBatchLines(deps.container, sample, ctx.signal)) {
        out(`   ${line.length > 600 ? `${line.slice(0, 600)} ...` : line}`);
        break;
      }
    }
    await showArtifacts(ctx, deps, out);
    await demoRsmf(ctx, deps, emulator.tenant, nowMs);
    out('');
    out('6) Who read what: every read of archived content is recorded in the audit trail, here as the OS user');
    out('   running the demo (teams-export audit; in Azure the Entra user or app: docs/security.md):');
    for await (const item of readAuditTrail(deps.container, { fromMs: nowMs - HOUR, toMs: Date.now() + HOUR }, ctx.signal))
      if ('record' in item) out(`   ${auditLine(item.record)}`);
    out('');
    if (o.keep) {
      const dir = mkdtempSync(join(tmpdir(), 'teams-export-demo-'));
      const envFile = join(dir, 'demo.env');
      const caFile = join(dir, 'emulator-ca.pem');
      await emulator.writeCaCert(caFile);
      writeFileSync(
        envFile,
        `${Object.entries(env)
          .map(([k, v]) => `${k}=${v}`)
          .join('\n')}\n`,
        { mode: 0o600 },
      );
      out('Azurite and the emulator keep running (Ctrl-C to stop). In another shell:');
      out(`   export NODE_EXTRA_CA_CERTS=${caFile}`);
      out(`   npx teams-export status --env-file ${envFile}`);
      out(`   npx teams-export ls messages/teams/ --env-file ${envFile}`);
      out(`   npx teams-export cat <blob name from ls> --env-file ${envFile}`);
      out(`   npx teams-export run --env-file ${envFile}`);
      printViewerHint(out, envFile);
      await new Promise<void>((resolve) => {
        if (ctx.signal?.aborted) return resolve();
        ctx.signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    } else {
      out('Next: `npm run demo -- --keep` keeps Azurite and the emulator up to explore with');
      out('`teams-export status | ls | cat`; README.md shows how to point the same commands at a real tenant.');
      printViewerHint(out);
    }
    return first.status === 'succeeded' && second.status === 'succeeded' ? EXIT_OK : EXIT_RUN_FAILED;
  } finally {
    await emulator.close();
    await azurite.stop();
  }
};

/** Edits, deletes, reacts to and posts chat messages, as people would between two runs. */
function changeSomeMessages(emulator: Awaited<ReturnType<typeof startEmulator>>, nowMs: number): number {
  const at = nowMs + 60_000;
  const user = emulator.tenant.users.find((u) => u.hasTeamsData && u.accountEnabled);
  const chat = emulator.tenant.chats.find((c) => user && c.memberIds.includes(user.id));
  if (!user || !chat) return 0;
  const versions = emulator.tenant
    .currentVersions({ kind: 'user', id: user.id })
    .filter((v) => (v.message as { chatId?: string }).chatId === chat.id);
  const ids = versions.map((v) => (v.message as { id: string }).id);
  let changes = 0;
  if (ids[0]) {
    emulator.tenant.editMessage(chat.id, ids[0], 'Edited: the numbers were wrong, see the new sheet 📊', at);
    changes++;
  }
  if (ids[1]) {
    emulator.tenant.deleteMessage(chat.id, ids[1], at + 1);
    changes++;
  }
  if (ids[2]) {
    emulator.tenant.addReaction(chat.id, ids[2], user.id, '👍', at + 2);
    changes++;
  }
  emulator.tenant.postMessage({ chatId: chat.id }, { fromUserId: user.id, text: 'New message after the first run', atMs: at + 3 });
  return changes + 1;
}

/** How to browse the demo archive in the viewer (docs/viewer.md): the demo's last words. */
function printViewerHint(out: (line: string) => void, envFile?: string): void {
  out('');
  if (envFile) {
    out('Browse the archive like Teams (read-only, 127.0.0.1 only), then open the URL it prints:');
    out(`   npx teams-export serve --env-file ${envFile}`);
  } else {
    out('To browse the archive like Teams: `npm run demo -- --keep`, then run the `teams-export serve`');
    out('command it prints and open the URL (see docs/viewer.md).');
  }
}
