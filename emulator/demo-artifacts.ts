// The demo's look at what EXPORT_COPILOT and EXPORT_MEETINGS archived (docs/design.md §18): one Copilot
// session (prompt and answer, as a reader sees them) and the first cues of one meeting transcript, read
// back from the archive like `teams-export cat` (each read recorded in the audit trail first).
import { listBatches, readBatchLines, readBlobBytes } from '../src/archive/batch-reader';
import { blobReadEvent } from '../src/archive/audit-trail';
import { COPILOT_PREFIX, contentBlobName, contentMapName, MEETINGS_PREFIX } from '../src/archive/blob-layout';
import type { ContentMapEntry } from '../src/archive/content-store';
import { htmlToText } from '../src/archive/render-text';
import { cliAuditor } from '../src/cli/cli-audit';
import type { CliContext } from '../src/cli/cli-context';
import type { AppDeps } from '../src/deps';

type Item = Record<string, unknown>;

export async function showArtifacts(ctx: CliContext, deps: AppDeps, out: (line: string) => void): Promise<void> {
  const audit = cliAuditor(deps);
  const session = await firstSession(ctx, deps, audit);
  if (session.length > 0) {
    out('');
    out(`   A Copilot session (${String(session[0]!.appClass ?? '')}), from ${COPILOT_PREFIX}:`);
    for (const item of session) {
      const who = item.interactionType === 'aiResponse' ? 'Copilot' : 'User';
      const body = (item.body ?? {}) as Item;
      const text = typeof body.content === 'string' ? (body.contentType === 'html' ? htmlToText(body.content) : body.content) : '';
      out(`     ${who}: ${oneLine(text, 140)}`);
    }
  }
  const transcript = await firstTranscript(ctx, deps, audit);
  if (transcript) {
    out('');
    out(`   A meeting transcript (${transcript.name}), its WebVTT stored in content/:`);
    for (const line of transcript.text
      .split('\n')
      .filter((l) => l.includes('-->') || l.startsWith('<v '))
      .slice(0, 6))
      out(`     ${oneLine(line, 140)}`);
  }
}

async function firstSession(ctx: CliContext, deps: AppDeps, audit: ReturnType<typeof cliAuditor>): Promise<Item[]> {
  for await (const b of listBatches(deps.container, COPILOT_PREFIX, ctx.signal)) {
    await audit(blobReadEvent('cli.cat', b.name));
    const items: Item[] = [];
    for await (const line of readBatchLines(deps.container, b.name, ctx.signal)) items.push(JSON.parse(line) as Item);
    const sessionId = items[0]?.sessionId;
    const session = items.filter((i) => i.sessionId === sessionId);
    session.sort((a, b) => String(a.createdDateTime).localeCompare(String(b.createdDateTime)));
    if (session.length > 0) return session.slice(0, 4);
  }
  return [];
}

async function firstTranscript(
  ctx: CliContext,
  deps: AppDeps,
  audit: ReturnType<typeof cliAuditor>,
): Promise<{ name: string; text: string } | undefined> {
  for await (const b of listBatches(deps.container, MEETINGS_PREFIX, ctx.signal)) {
    const map = await readBlobBytes(deps.container, contentMapName(b.name), ctx.signal);
    if (!map) continue;
    const entry = (JSON.parse(map.toString('utf8')) as { entries: ContentMapEntry[] }).entries.find(
      (e) => e.kind === 'transcript' && e.status === 'stored' && e.sha256,
    );
    if (!entry?.sha256) continue;
    const name = contentBlobName(entry.sha256);
    await audit(blobReadEvent('cli.cat', name));
    const bytes = await readBlobBytes(deps.container, name, ctx.signal);
    if (bytes) return { name, text: bytes.toString('utf8') };
  }
  return undefined;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)} ...` : flat;
}
