// The demo's RSMF step (docs/rsmf.md): one settled UTC day of one chat and one channel, produced from
// the archive the demo just wrote, into a temporary folder whose path is printed.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppDeps } from '../deps';
import { planProduction, runProduction } from '../rsmf/production';
import { DAY, iso, utcDay } from '../time';
import { cliAuditor } from './cli-audit';
import { write, type CliContext } from './cli-context';
import { folderSink, newProductionId } from './rsmf-command';

/** What the demo needs of the emulated tenant: conversations and when their messages were created. */
interface DemoConversations {
  chats: ReadonlyArray<{ id: string; conversation: { messages: ReadonlyArray<{ createdMs: number }> } }>;
  teams: ReadonlyArray<{ channels: ReadonlyArray<{ id: string; conversation: { messages: ReadonlyArray<{ createdMs: number }> } }> }>;
}

export async function demoRsmf(ctx: CliContext, deps: AppDeps, tenant: DemoConversations, nowMs: number): Promise<void> {
  const out = (line: string) => write(ctx.stdout, line);
  // Three days back: settled (read twice) by the demo's daily runs.
  const dayMs = Math.floor((nowMs - 3 * DAY) / DAY) * DAY;
  const busy = (c: { conversation: { messages: ReadonlyArray<{ createdMs: number }> } }) =>
    c.conversation.messages.some((m) => m.createdMs >= dayMs && m.createdMs < dayMs + DAY);
  const chat = tenant.chats.find(busy);
  const channel = tenant.teams.flatMap((t) => t.channels).find(busy);
  const conversations = [chat?.id, channel?.id].filter((id): id is string => id !== undefined);
  out('');
  out(`5) An eDiscovery production: RSMF 2.0 for ${utcDay(dayMs)} of one chat and one channel (teams-export rsmf).`);
  if (conversations.length === 0) return out('   (no chat or channel has messages that day)');
  const dir = join(mkdtempSync(join(tmpdir(), 'teams-export-demo-rsmf-')), 'production');
  const productionDeps = { container: deps.container, checkpoints: deps.checkpoints, exportStartMs: deps.settings.startMs };
  let manifest;
  try {
    // Recorded before the archive is read, as `teams-export rsmf` does (docs/security.md).
    await cliAuditor(deps)({ action: 'cli.rsmf', from: iso(dayMs), to: iso(dayMs + DAY), entities: ['all'], conversations });
    const plan = await planProduction(
      { fromMs: dayMs, toMs: dayMs + DAY, users: [], teams: [], conversations },
      productionDeps,
      ctx.signal,
    );
    manifest = await runProduction(
      newProductionId(Date.now()),
      plan,
      productionDeps,
      folderSink(dir),
      ctx.signal ? { signal: ctx.signal } : {},
    );
  } catch (err) {
    // The export is what the demo is about: a production that cannot be made is reported, not fatal.
    return out(`   could not produce: ${err instanceof Error ? err.message : String(err)}`);
  }
  for (const f of manifest.files)
    out(
      `   ${String(f.events).padStart(4)} events, ${f.edits} edits, ${f.reactions} reactions, ${f.attachments} files  ${f.fileName}  (${f.conversation})`,
    );
  out(`   written to ${dir} with production.json (SHA-256 and source blobs of every file);`);
  out('   load the .rsmf files into Relativity or another review platform (docs/rsmf.md).');
}
