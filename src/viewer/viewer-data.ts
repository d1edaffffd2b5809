// What each viewer page needs from the archive, gathered through src/archive (never the container
// directly): an entity's conversations and days in a range, one conversation-day with the earlier
// versions of its messages, a text search. Each read is bounded by entity, month and day prefixes.
import type { ArchiveContainer } from '../archive/archive-container';
import {
  listEntityDays,
  readBatches,
  readStoredContent,
  type BrowsableKind,
  type ContentMapEntry,
  type DayData,
} from '../archive/archive-browser';
import { htmlToText } from '../archive/render-text';
import { utcDay } from '../time';
import { conversationIdOf, conversationsOf, groupMessages, obj, str, type MessageView } from './conversation-model';
import type { DayRange } from './links';

/** Longest range one entity page, search or transcript reads. */
export const MAX_RANGE_DAYS = 92;
/** Most earlier days read to find the previous versions of messages changed on a day. */
const MAX_EARLIER_DAYS = 14;
/** Largest code snippet shown inline. */
const MAX_SNIPPET_BYTES = 64 * 1024;
export const MAX_SEARCH_HITS = 200;

export interface ConversationSummary {
  id: string;
  /** The team of a channel (from the messages), for its name. */
  teamId: string | undefined;
  days: Array<{ day: string; messages: number }>;
}

export interface EntitySummary {
  days: string[];
  conversations: ConversationSummary[];
}

export interface ConversationDay {
  messages: MessageView[];
  content: Map<string, ContentMapEntry[]>;
  snippets: Map<string, string>;
}

export interface SearchHit {
  conversationId: string;
  day: string;
  messageId: string;
  createdDateTime: string | undefined;
  text: string;
}

const DAY_MS = 86_400_000;

/** Checks a yyyy-mm-dd day (a real calendar date). */
export function isDay(s: string | null | undefined): s is string {
  return (
    typeof s === 'string' &&
    /^\d{4}-\d{2}-\d{2}$/.test(s) &&
    !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) &&
    utcDay(Date.parse(`${s}T00:00:00Z`)) === s
  );
}

export function daysInRange(range: DayRange): number {
  return Math.round((Date.parse(`${range.to}T00:00:00Z`) - Date.parse(`${range.from}T00:00:00Z`)) / DAY_MS) + 1;
}

export function addDays(day: string, n: number): string {
  return utcDay(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS);
}

/** The conversations of an entity that have versions in the range, with their days and message counts. */
export async function summarizeEntity(
  container: ArchiveContainer,
  kind: BrowsableKind,
  id: string,
  range: DayRange,
  signal?: AbortSignal,
): Promise<EntitySummary> {
  const byDay = await listEntityDays(container, { kind, id }, range.from, range.to, signal);
  const convs = new Map<string, { teamId: string | undefined; days: Map<string, Set<string>> }>();
  for (const [day, names] of byDay) {
    for (const [conv, found] of conversationsOf((await readBatches(container, names, signal)).lines)) {
      let c = convs.get(conv);
      if (!c) convs.set(conv, (c = { teamId: found.teamId, days: new Map() }));
      c.days.set(day, found.messageIds);
    }
  }
  const conversations = [...convs.entries()].map(([cid, c]) => ({
    id: cid,
    teamId: c.teamId,
    days: [...c.days.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([day, ids]) => ({ day, messages: ids.size })),
  }));
  // Most recently active first.
  conversations.sort((a, b) => ((a.days.at(-1)?.day ?? '') < (b.days.at(-1)?.day ?? '') ? 1 : -1));
  return { days: [...byDay.keys()], conversations };
}

/**
 * One conversation on one day: every message with a version archived that day, plus the earlier
 * versions of those created on an earlier day, read from the day they were created (at most
 * MAX_EARLIER_DAYS such days). Undefined when the day holds nothing of the conversation. `dayData`:
 * the day's batches when the caller has read them already (the transcript writer reads each day once).
 */
export async function loadConversationDay(
  container: ArchiveContainer,
  kind: BrowsableKind,
  id: string,
  conversationId: string,
  day: string,
  signal?: AbortSignal,
  dayData?: DayData,
): Promise<ConversationDay | undefined> {
  const entity = { kind, id };
  let data = dayData;
  if (!data) {
    const names = (await listEntityDays(container, entity, day, day, signal)).get(day) ?? [];
    if (names.length === 0) return undefined;
    data = await readBatches(container, names, signal);
  }
  const inConversation = (m: Record<string, unknown>) => conversationIdOf(m) === conversationId;
  let messages = groupMessages(data.lines, inConversation);
  if (messages.length === 0) return undefined;
  const content = [...data.content];
  const earlierDays = [...new Set(messages.map((m) => utcDay(m.createdMs)).filter((d) => d < day))]
    .sort()
    .reverse()
    .slice(0, MAX_EARLIER_DAYS);
  if (earlierDays.length > 0) {
    const wanted = new Set(messages.filter((m) => utcDay(m.createdMs) < day).map((m) => m.id));
    const lines = [...data.lines];
    const listed = await listEntityDays(container, entity, earlierDays.at(-1) as string, earlierDays[0] as string, signal);
    const batches = earlierDays.flatMap((d) => listed.get(d) ?? []);
    const earlier = await readBatches(container, batches, signal);
    lines.push(...earlier.lines);
    content.push(...earlier.content.filter((e) => wanted.has(e.messageId)));
    const ids = new Set(messages.map((m) => m.id));
    messages = groupMessages(lines, (m) => inConversation(m) && ids.has(String(m.id)));
  }
  const byMessage = new Map<string, ContentMapEntry[]>();
  for (const e of content) {
    if (e.conversationId !== conversationId) continue;
    const list = byMessage.get(e.messageId);
    if (list) list.push(e);
    else byMessage.set(e.messageId, [e]);
  }
  return { messages, content: byMessage, snippets: await loadSnippets(container, messages, byMessage, signal) };
}

/** The text of the code snippets the page shows (small text blobs; larger ones are cut). */
async function loadSnippets(
  container: ArchiveContainer,
  messages: MessageView[],
  content: Map<string, ContentMapEntry[]>,
  signal?: AbortSignal,
): Promise<Map<string, string>> {
  const shas = new Set<string>();
  for (const m of messages) {
    const attachments = m.versions.at(-1)?.message.attachments;
    if (!Array.isArray(attachments) || !attachments.some((a) => obj(a)?.contentType === 'application/vnd.microsoft.card.codesnippet'))
      continue;
    for (const e of content.get(m.id) ?? [])
      if (
        e.kind === 'hostedContent' &&
        e.status === 'stored' &&
        typeof e.sha256 === 'string' &&
        /^[0-9a-f]{64}$/.test(e.sha256) &&
        typeof e.contentType === 'string' &&
        e.contentType.startsWith('text/')
      )
        shas.add(e.sha256);
  }
  const out = new Map<string, string>();
  await Promise.all(
    [...shas].map(async (sha) => {
      const stored = await readStoredContent(container, sha, signal);
      if (stored) out.set(sha, stored.bytes.subarray(0, MAX_SNIPPET_BYTES).toString('utf8'));
    }),
  );
  return out;
}

/** Messages of an entity in the range whose newest text contains `query` (case-insensitive), oldest first. */
export async function searchEntity(
  container: ArchiveContainer,
  kind: BrowsableKind,
  id: string,
  range: DayRange,
  query: string,
  signal?: AbortSignal,
): Promise<{ hits: SearchHit[]; truncated: boolean }> {
  const needle = query.toLocaleLowerCase();
  const hits: SearchHit[] = [];
  const byDay = await listEntityDays(container, { kind, id }, range.from, range.to, signal);
  for (const [day, names] of byDay) {
    const data = await readBatches(container, names, signal);
    for (const msg of groupMessages(data.lines)) {
      const m = (msg.versions.at(-1) as { message: Record<string, unknown> }).message;
      const body = obj(m.body);
      const content = str(body?.content) ?? '';
      const text = `${str(m.subject) ?? ''}\n${body?.contentType === 'html' ? htmlToText(content) : content}`.trim();
      if (!text.toLocaleLowerCase().includes(needle)) continue;
      if (hits.length === MAX_SEARCH_HITS) return { hits, truncated: true };
      hits.push({ conversationId: msg.conversationId, day, messageId: msg.id, createdDateTime: str(m.createdDateTime), text });
    }
  }
  return { hits, truncated: false };
}
