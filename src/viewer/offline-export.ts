// `teams-export html`: offline transcripts. One page per conversation and day, an index per entity
// and one for the folder, the images and files those pages show, and the viewer's CSS and JS, all
// linked by relative names so the folder opens from disk (file://) without a server or network.
// Everything is written to a fresh sibling folder that is renamed into place at the end, so a failed
// export leaves nothing behind.
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ArchiveContainer } from '../archive/archive-container';
import { listEntityDays, readBatches, readStoredContent, type BrowsableKind } from '../archive/archive-browser';
import type { DirectoryNames } from '../archive/viewer-names';
import { VIEWER_CSS, VIEWER_JS } from './assets';
import { conversationsOf } from './conversation-model';
import { offlineConversationFolder, offlineDayFile, offlineEntityFolder, offlineLinks, type DayRange } from './links';
import { conversationDayPage, dayPages, entityPage, homePage } from './pages';
import { loadConversationDay, type ConversationSummary } from './viewer-data';

export interface TranscriptOptions {
  container: ArchiveContainer;
  names: DirectoryNames;
  entities: Array<{ kind: BrowsableKind; id: string }>;
  /** Only these conversations (chat or channel ids); all when empty. */
  conversations: ReadonlySet<string>;
  range: DayRange;
  outDir: string;
  onProgress?: (line: string) => void;
  signal?: AbortSignal;
}

export interface TranscriptResult {
  pages: number;
  files: number;
}

export async function writeTranscripts(o: TranscriptOptions): Promise<TranscriptResult> {
  const staging = await mkdtemp(join(dirname(o.outDir), `.${basename(o.outDir)}.partial-`));
  try {
    const result = await writeInto(staging, o);
    await rename(staging, o.outDir);
    return result;
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
}

async function writeInto(root: string, o: TranscriptOptions): Promise<TranscriptResult> {
  const content = new Map<string, string>();
  const used = (sha256: string, file: string) => content.set(file, sha256);
  const exported = new Set(o.entities.map((e) => offlineEntityFolder(e.kind, e.id)));
  const write = async (rel: string, data: string | Buffer) => {
    await mkdir(dirname(join(root, rel)), { recursive: true });
    await writeFile(join(root, rel), data);
  };
  let pages = 0;
  for (const { kind, id } of o.entities) {
    const folder = offlineEntityFolder(kind, id);
    const dayLinks = offlineLinks(2, used, exported);
    const conversations = new Map<string, ConversationSummary>();
    for (const [day, batches] of await listEntityDays(o.container, { kind, id }, o.range.from, o.range.to, o.signal)) {
      const data = await readBatches(o.container, batches, o.signal);
      const convs = [...conversationsOf(data.lines)].filter(([conv]) => o.conversations.size === 0 || o.conversations.has(conv));
      for (const [conv, { teamId }] of convs) {
        let convFolder: string;
        try {
          convFolder = offlineConversationFolder(conv);
        } catch {
          // A conversation id no file name can hold (malformed Unicode, too long): the rest goes on.
          o.onProgress?.(
            `${kind} ${id} ${day}: skipped a conversation whose id cannot name a folder (${JSON.stringify(conv.slice(0, 80))})`,
          );
          continue;
        }
        const page = await loadConversationDay(o.container, kind, id, conv, day, o.signal, data);
        if (!page) continue;
        const count = dayPages(kind, page).length;
        for (let p = 1; p <= count; p++) {
          await write(
            `${folder}/${convFolder}/${offlineDayFile(day, p)}`,
            conversationDayPage({ links: dayLinks, names: o.names, offline: true }, kind, id, conv, day, page, p),
          );
          pages++;
        }
        const summary = conversations.get(conv) ?? { id: conv, teamId, days: [] };
        summary.days.push({ day, messages: page.messages.length });
        conversations.set(conv, summary);
      }
      o.onProgress?.(`${kind} ${id} ${day}: ${convs.length} conversation(s)`);
    }
    const summary = { days: [], conversations: [...conversations.values()] };
    await write(
      `${folder}/index.html`,
      entityPage({ links: offlineLinks(1, used, exported), names: o.names, offline: true }, kind, id, o.range, summary, []),
    );
  }
  const users = o.entities.filter((e) => e.kind === 'user').map((e) => e.id);
  const teams = o.entities.filter((e) => e.kind === 'team').map((e) => e.id);
  await write('index.html', homePage({ links: offlineLinks(0, used, exported), names: o.names, offline: true }, users, teams));
  await write('assets/viewer.css', VIEWER_CSS);
  await write('assets/viewer.js', VIEWER_JS);
  for (const [file, sha256] of content) {
    const stored = await readStoredContent(o.container, sha256, o.signal);
    if (stored) await write(file, stored.bytes);
  }
  return { pages, files: content.size };
}
