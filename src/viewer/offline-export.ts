// `teams-export html`: offline transcripts. One page per conversation and day, an index per entity
// and one for the folder, the images and files those pages show, and the viewer's CSS and JS, all
// linked by relative names so the folder opens from disk (file://) without a server or network.
// Everything is written to a fresh sibling folder that is renamed into place at the end, so a failed
// export leaves nothing behind.
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArchiveContainer } from '../archive/archive-container';
import { listEntityDays, openStoredContent, readBatches, type ArchivedLine, type BrowsableKind } from '../archive/archive-browser';
import {
  copilotSessionsOf,
  listArtifactDays,
  loadOrganizerArtifacts,
  type CopilotSessionView,
  type MeetingArtifactView,
} from '../archive/artifact-archive';
import type { DirectoryNames } from '../archive/viewer-names';
import { isMeetingChatId, loadMeetingsForChatDay, withTranscripts, type ArtifactSummary } from './artifact-data';
import { VIEWER_CSS, VIEWER_JS } from './assets';
import { conversationsOf } from './conversation-model';
import {
  OFFLINE_COPILOT_FOLDER,
  OFFLINE_MEETINGS_FOLDER,
  offlineConversationFolder,
  offlineDayFile,
  offlineEntityFolder,
  offlineLinks,
  type DayRange,
} from './links';
import { conversationDayPage, copilotDayPage, dayPages, entityPage, homePage, meetingsDayPage } from './pages';
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
        // A meeting chat's day also shows its meeting's transcripts and recordings (as the viewer does).
        const meetings =
          kind === 'user' && isMeetingChatId(conv)
            ? await loadMeetingsForChatDay(o.container, id, conv, day, page.messages, o.names, o.signal)
            : undefined;
        const count = dayPages(kind, page).length;
        for (let p = 1; p <= count; p++) {
          await write(
            `${folder}/${convFolder}/${offlineDayFile(day, p)}`,
            conversationDayPage({ links: dayLinks, names: o.names, offline: true }, kind, id, conv, day, page, p, meetings),
          );
          pages++;
        }
        const summary = conversations.get(conv) ?? { id: conv, teamId, days: [] };
        summary.days.push({ day, messages: page.messages.length });
        conversations.set(conv, summary);
      }
      o.onProgress?.(`${kind} ${id} ${day}: ${convs.length} conversation(s)`);
    }
    const artifacts = kind === 'user' ? await writeUserArtifacts(o, id, write, dayLinks, conversations) : undefined;
    pages += artifacts?.pages ?? 0;
    const summary = { days: [], conversations: [...conversations.values()] };
    await write(
      `${folder}/index.html`,
      entityPage(
        { links: offlineLinks(1, used, exported), names: o.names, offline: true },
        kind,
        id,
        o.range,
        summary,
        [],
        artifacts?.summary,
      ),
    );
  }
  const users = o.entities.filter((e) => e.kind === 'user').map((e) => e.id);
  const teams = o.entities.filter((e) => e.kind === 'team').map((e) => e.id);
  await write('index.html', homePage({ links: offlineLinks(0, used, exported), names: o.names, offline: true }, users, teams));
  await write('assets/viewer.css', VIEWER_CSS);
  await write('assets/viewer.js', VIEWER_JS);
  for (const [file, sha256] of content) {
    // Streamed to disk: a meeting recording can be gigabytes.
    const stored = await openStoredContent(o.container, sha256, o.signal);
    if (!stored) continue;
    await mkdir(dirname(join(root, file)), { recursive: true });
    await pipeline(Readable.from(stored.body), createWriteStream(join(root, file)), ...(o.signal ? [{ signal: o.signal }] : []));
  }
  return { pages, files: content.size };
}

type Write = (rel: string, data: string | Buffer) => Promise<void>;

/**
 * A user's Copilot day pages, the day pages of the meetings they organised, and the chat-day pages of
 * those meetings' chats on days the user's own batches hold no message of them (the transcript is there
 * all the same). With `--conversation`, only those meeting chats' pages.
 */
async function writeUserArtifacts(
  o: TranscriptOptions,
  userId: string,
  write: Write,
  dayLinks: ReturnType<typeof offlineLinks>,
  conversations: Map<string, ConversationSummary>,
): Promise<{ pages: number; summary: ArtifactSummary }> {
  const folder = offlineEntityFolder('user', userId);
  const env = { links: dayLinks, names: o.names, offline: true };
  const everything = o.conversations.size === 0;
  let pages = 0;
  const copilotLines: Array<{ line: ArchivedLine; day: string }> = [];
  if (everything) {
    for (const [day, batches] of await listArtifactDays(o.container, 'copilot', userId, o.range.from, o.range.to, o.signal)) {
      const lines = (await readBatches(o.container, batches, o.signal)).lines.map((line) => ({ line, day }));
      const sessions = copilotSessionsOf(lines);
      if (sessions.length === 0) continue;
      copilotLines.push(...lines);
      await write(`${folder}/${OFFLINE_COPILOT_FOLDER}/${offlineDayFile(day)}`, copilotDayPage(env, userId, day, sessions));
      pages++;
      o.onProgress?.(`user ${userId} ${day}: ${sessions.length} Copilot session(s)`);
    }
  }
  const organised = await loadOrganizerArtifacts(o.container, userId, o.range.from, o.range.to, o.signal);
  const byDay = new Map<string, MeetingArtifactView[]>();
  for (const a of organised) byDay.set(a.day, [...(byDay.get(a.day) ?? []), a]);
  for (const [day, artifacts] of byDay) {
    if (everything) {
      await write(
        `${folder}/${OFFLINE_MEETINGS_FOLDER}/${offlineDayFile(day)}`,
        meetingsDayPage(env, userId, day, await withTranscripts(o.container, artifacts, o.signal)),
      );
      pages++;
    }
    // The meetings' chat-days that no message of this user's put in the folder already.
    for (const chatId of new Set(artifacts.map((a) => a.chatId).filter((c): c is string => c !== undefined))) {
      if (!everything && !o.conversations.has(chatId)) continue;
      if (conversations.get(chatId)?.days.some((d) => d.day === day)) continue;
      let chatFolder: string;
      try {
        chatFolder = offlineConversationFolder(chatId);
      } catch {
        continue; // a chat id no folder can be named from: its transcript is on the meetings page
      }
      const meetings = await withTranscripts(
        o.container,
        artifacts.filter((a) => a.chatId === chatId),
        o.signal,
      );
      const empty = { messages: [], content: new Map(), snippets: new Map() };
      await write(
        `${folder}/${chatFolder}/${offlineDayFile(day)}`,
        conversationDayPage(env, 'user', userId, chatId, day, empty, 1, meetings),
      );
      pages++;
      const summary = conversations.get(chatId) ?? { id: chatId, teamId: undefined, days: [] };
      summary.days.push({ day, messages: 0 });
      summary.days.sort((a, b) => (a.day < b.day ? -1 : 1));
      conversations.set(chatId, summary);
    }
    o.onProgress?.(`user ${userId} ${day}: ${artifacts.length} meeting transcript(s) and recording(s)`);
  }
  const copilot: CopilotSessionView[] = copilotSessionsOf(copilotLines);
  return { pages, summary: { copilot, meetings: everything ? organised : [] } };
}
