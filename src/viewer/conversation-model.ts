// Turns archived lines (every version of every message, in any order) into what a conversation page
// shows: one entry per message with its newest version and the earlier ones, channel posts with their
// replies under them, in the order people read them.
import type { ArchivedLine } from '../archive/archive-browser';

export type Json = Record<string, unknown>;

export interface MessageVersionView {
  message: Json;
  line: ArchivedLine;
  /** lastModifiedDateTime (or createdDateTime) in ms, for ordering. */
  modifiedMs: number;
}

export interface MessageView {
  id: string;
  conversationId: string;
  replyToId: string | undefined;
  createdMs: number;
  /** Oldest first; the last one is what the archive knows last. */
  versions: MessageVersionView[];
}

export interface ThreadView {
  root: MessageView | undefined;
  /** The root's id (the root may be on another day). */
  rootId: string;
  replies: MessageView[];
}

export function obj(v: unknown): Json | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function ms(v: unknown): number | undefined {
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isFinite(t) ? t : undefined;
}

/** One archived line as a JSON object, or undefined for a line that is not one. */
export function parseMessage(text: string): Json | undefined {
  try {
    return obj(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** The conversations the lines belong to: id → the channel's team (undefined for a chat) and the message ids. */
export function conversationsOf(lines: readonly ArchivedLine[]): Map<string, { teamId: string | undefined; messageIds: Set<string> }> {
  const out = new Map<string, { teamId: string | undefined; messageIds: Set<string> }>();
  for (const line of lines) {
    const m = parseMessage(line.text);
    const conv = m ? conversationIdOf(m) : undefined;
    // Without a string id a version is no message the pages can show (groupMessages skips it too).
    const id = m ? str(m.id) : undefined;
    if (!m || !conv || !id) continue;
    let c = out.get(conv);
    if (!c) out.set(conv, (c = { teamId: str(obj(m.channelIdentity)?.teamId), messageIds: new Set() }));
    c.messageIds.add(id);
  }
  return out;
}

/** A chat message's chat id, or a channel message's channel id. */
export function conversationIdOf(m: Json): string | undefined {
  return str(m.chatId) ?? str(obj(m.channelIdentity)?.channelId);
}

/** Parses lines into messages (versions de-duplicated by etag and time, oldest first); unparseable lines are skipped. */
export function groupMessages(lines: readonly ArchivedLine[], keep: (m: Json) => boolean = () => true): MessageView[] {
  const byKey = new Map<string, MessageView>();
  for (const line of lines) {
    const m = parseMessage(line.text);
    const id = m ? str(m.id) : undefined;
    const conversationId = m ? conversationIdOf(m) : undefined;
    if (!m || !id || !conversationId || !keep(m)) continue;
    const key = `${conversationId}\n${id}`;
    let view = byKey.get(key);
    if (!view) {
      const createdMs = ms(m.createdDateTime) ?? ms(m.lastModifiedDateTime) ?? 0;
      view = { id, conversationId, replyToId: str(m.replyToId), createdMs, versions: [] };
      byKey.set(key, view);
    }
    const modifiedMs = ms(m.lastModifiedDateTime) ?? ms(m.createdDateTime) ?? 0;
    // The same version can sit under several entities or batches: keep one.
    if (view.versions.some((v) => v.modifiedMs === modifiedMs && v.message.etag === m.etag)) continue;
    view.versions.push({ message: m, line, modifiedMs });
  }
  const out = [...byKey.values()];
  for (const v of out) v.versions.sort((a, b) => a.modifiedMs - b.modifiedMs);
  return out.sort(byCreated);
}

function byCreated(a: MessageView, b: MessageView): number {
  return a.createdMs - b.createdMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Channel layout: each post with its replies; replies whose post is on another day get a thread of their own. */
export function threadsOf(messages: readonly MessageView[]): ThreadView[] {
  const threads = new Map<string, ThreadView>();
  for (const m of messages) {
    const rootId = m.replyToId ?? m.id;
    let t = threads.get(rootId);
    if (!t) threads.set(rootId, (t = { root: undefined, rootId, replies: [] }));
    if (m.replyToId === undefined) t.root = m;
    else t.replies.push(m);
  }
  const startOf = (t: ThreadView) => t.root?.createdMs ?? t.replies[0]?.createdMs ?? 0;
  return [...threads.values()].sort((a, b) => startOf(a) - startOf(b));
}
