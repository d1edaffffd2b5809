// The viewer's pages as HTML strings: home (users and teams), an entity's conversations and days,
// a conversation-day laid out like Teams, search results, and the plain "not found" page.
import type { BrowsableKind } from '../archive/archive-browser';
import type { DirectoryNames } from '../archive/viewer-names';
import { threadsOf, type MessageView, type ThreadView } from './conversation-model';
import { link, page, timeHtml, type Crumb } from './layout';
import type { DayRange, Links } from './links';
import { messageHtml, type RenderContext } from './message-html';
import { escapeHtml } from './sanitize';
import type { ConversationDay, EntitySummary, SearchHit } from './viewer-data';
import type { CopilotSessionView } from '../archive/artifact-archive';
import type { ArtifactSummary, MeetingsData } from './artifact-data';
import { appName, copilotSessionHtml, meetingsHtml, sessionTitle } from './artifact-html';

export interface PageEnv {
  links: Links;
  names: DirectoryNames;
  offline?: boolean;
}

const KIND_LABEL: Record<BrowsableKind, string> = { user: 'user', team: 'team' };

export function entityName(names: DirectoryNames, kind: BrowsableKind, id: string): string {
  return (kind === 'user' ? names.user(id) : names.team(id)) ?? id;
}

/** A chat's topic or members, a channel's name; the id when the directory does not know it. */
export function conversationName(
  names: DirectoryNames,
  kind: BrowsableKind,
  entityId: string,
  conversationId: string,
  teamId?: string,
): string {
  return (kind === 'user' ? names.chat(conversationId) : names.channel(teamId ?? entityId, conversationId)) ?? conversationId;
}

function crumbs(env: PageEnv, kind?: BrowsableKind, id?: string, range?: DayRange): Crumb[] {
  const out: Crumb[] = [{ label: 'Archive', href: env.links.home() }];
  if (kind && id) out.push({ label: entityName(env.names, kind, id), href: env.links.entity(kind, id, range) });
  return out;
}

function entityList(env: PageEnv, kind: BrowsableKind, ids: readonly string[]): string {
  if (ids.length === 0) return '<p class="meta">none archived</p>';
  const rows = ids
    .map((id) => ({ id, name: entityName(env.names, kind, id) }))
    .sort((a, b) => a.name.localeCompare(b.name))
    .map(
      (e) =>
        `<li>${link(env.links.entity(kind, e.id), e.name)}${e.name !== e.id ? ` <span class="id">${escapeHtml(e.id)}</span>` : ''}</li>`,
    );
  return `<ul class="entities">${rows.join('')}</ul>`;
}

export function homePage(env: PageEnv, users: readonly string[], teams: readonly string[]): string {
  const body = [
    '<h1>Archive</h1>',
    `<section><h2>Users <span class="meta">(chats)</span></h2>${entityList(env, 'user', users)}</section>`,
    `<section><h2>Teams <span class="meta">(channels)</span></h2>${entityList(env, 'team', teams)}</section>`,
  ].join('');
  return page({ title: 'Archive', crumbs: crumbs(env), body, links: env.links, ...(env.offline ? { offline: true } : {}) });
}

function rangeForm(env: PageEnv, kind: BrowsableKind, id: string, range: DayRange, query?: string): string {
  const entity = env.links.entity(kind, id);
  const search = env.links.search(kind, id);
  if (!entity || !search) return `<p class="meta">${escapeHtml(range.from)} to ${escapeHtml(range.to)}</p>`;
  // No hidden field but the range: a form carries nothing the address of the page does not (no key).
  const dates = `<label>from <input type="date" name="from" value="${escapeHtml(range.from)}"></label> <label>to <input type="date" name="to" value="${escapeHtml(range.to)}"></label>`;
  return [
    `<form class="range" method="get" action="${escapeHtml(entity)}">${dates} <button type="submit">Show</button></form>`,
    `<form class="search" method="get" action="${escapeHtml(search)}"><input type="hidden" name="from" value="${escapeHtml(range.from)}"><input type="hidden" name="to" value="${escapeHtml(range.to)}"><input type="search" name="q" value="${escapeHtml(query ?? '')}" placeholder="Search text in this range" required> <button type="submit">Search</button></form>`,
  ].join('');
}

/** A user's Copilot sessions in the range, newest first, each linked to its day page. */
function copilotSection(env: PageEnv, userId: string, range: DayRange, sessions: readonly CopilotSessionView[]): string {
  if (sessions.length === 0) return '';
  const rows = [...sessions].reverse().map((s) => {
    const days = s.days.map((d) => link(env.links.copilotDay(userId, d, s.sessionId), d)).join(' ');
    return `<li>${timeHtml(new Date(s.startMs).toISOString())} <span class="badge">${escapeHtml(appName(s.appClass))}</span> “${escapeHtml(sessionTitle(s))}” <span class="meta">${s.interactions.length} interaction${s.interactions.length === 1 ? '' : 's'}</span> ${days}</li>`;
  });
  return `<section class="copilot"><h2>Copilot sessions from ${escapeHtml(range.from)} to ${escapeHtml(range.to)}</h2><ul class="sessions">${rows.join('')}</ul></section>`;
}

/** The meetings a user organised with transcripts or recordings in the range, by day, newest first. */
function meetingsSection(env: PageEnv, userId: string, range: DayRange, artifacts: ArtifactSummary['meetings']): string {
  if (artifacts.length === 0) return '';
  const byDay = new Map<string, Map<string, { chatId: string | undefined; transcripts: number; recordings: number }>>();
  for (const a of artifacts) {
    const day = byDay.get(a.day) ?? new Map();
    byDay.set(a.day, day);
    const m = day.get(a.meetingId) ?? { chatId: a.chatId, transcripts: 0, recordings: 0 };
    if (a.kind === 'transcript') m.transcripts++;
    else m.recordings++;
    day.set(a.meetingId, m);
  }
  const rows = [...byDay.entries()]
    .sort(([a], [b]) => (a < b ? 1 : -1))
    .map(([day, meetings]) => {
      const items = [...meetings.values()].map((m) => {
        let chat = 'a meeting without a chat';
        if (m.chatId) {
          let href: string | undefined;
          try {
            href = env.links.day('user', userId, m.chatId, day);
          } catch {
            href = undefined;
          }
          chat = link(href, env.names.chat(m.chatId) ?? m.chatId);
        }
        const counts = [
          m.transcripts > 0 ? `${m.transcripts} transcript${m.transcripts === 1 ? '' : 's'}` : '',
          m.recordings > 0 ? `${m.recordings} recording${m.recordings === 1 ? '' : 's'}` : '',
        ].filter(Boolean);
        return `${chat} <span class="meta">${counts.join(', ')}</span>`;
      });
      return `<li>${link(env.links.meetingsDay(userId, day), day)}: ${items.join('; ')}</li>`;
    });
  return `<section class="meetings"><h2>Meetings organised, with transcripts or recordings, from ${escapeHtml(range.from)} to ${escapeHtml(range.to)}</h2><ul class="meeting-days">${rows.join('')}</ul></section>`;
}

export function entityPage(
  env: PageEnv,
  kind: BrowsableKind,
  id: string,
  range: DayRange,
  summary: EntitySummary,
  months: readonly string[],
  artifacts?: ArtifactSummary,
): string {
  const name = entityName(env.names, kind, id);
  const convs = summary.conversations.map((c) => {
    const cname = conversationName(env.names, kind, id, c.id, c.teamId);
    const dayLink = (day: string) => {
      try {
        return link(env.links.day(kind, id, c.id, day), day);
      } catch {
        // An id no address can name (malformed Unicode, too long): listed, not linked.
        return `${escapeHtml(day)} <span class="problem">(this conversation's id cannot be used in an address)</span>`;
      }
    };
    const days = c.days.map((d) => `<li>${dayLink(d.day)} <span class="meta">${d.messages}</span></li>`).join('');
    return `<section class="conversation"><h3>${escapeHtml(cname)}${cname !== c.id ? ` <span class="id">${escapeHtml(c.id)}</span>` : ''}</h3><ul class="days">${days}</ul></section>`;
  });
  const monthLinks =
    months.length > 0
      ? `<p class="months">Months with data: ${months.map((m) => link(env.links.entity(kind, id, { from: `${m}-01`, to: monthEnd(m) }), m)).join(' ')}</p>`
      : '';
  const body = [
    `<h1>${escapeHtml(name)} <span class="meta">${KIND_LABEL[kind]}</span></h1>`,
    name !== id ? `<p class="id">${escapeHtml(id)}</p>` : '',
    rangeForm(env, kind, id, range),
    monthLinks,
    `<h2>${kind === 'user' ? 'Chats' : 'Channels'} from ${escapeHtml(range.from)} to ${escapeHtml(range.to)}</h2>`,
    convs.length > 0 ? convs.join('') : '<p class="empty">No messages archived in this range.</p>',
    artifacts && kind === 'user' ? copilotSection(env, id, range, artifacts.copilot) : '',
    artifacts && kind === 'user' ? meetingsSection(env, id, range, artifacts.meetings) : '',
  ].join('');
  return page({ title: name, crumbs: crumbs(env, kind, id), body, links: env.links, ...(env.offline ? { offline: true } : {}) });
}

export function monthEnd(month: string): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
}

/** Most messages on one page of a conversation-day: a busy day is split so each page stays quick to load. */
export const MESSAGES_PER_PAGE = 250;

/** A conversation-day cut into pages of whole threads (a channel) or messages (a chat). */
export function dayPages(kind: BrowsableKind, data: ConversationDay): Array<Array<ThreadView | MessageView>> {
  const units: Array<ThreadView | MessageView> = kind === 'team' ? threadsOf(data.messages) : data.messages;
  const pages: Array<Array<ThreadView | MessageView>> = [];
  let current: Array<ThreadView | MessageView> = [];
  let count = 0;
  for (const u of units) {
    const n = 'rootId' in u ? (u.root ? 1 : 0) + u.replies.length : 1;
    if (count > 0 && count + n > MESSAGES_PER_PAGE) {
      pages.push(current);
      current = [];
      count = 0;
    }
    current.push(u);
    count += n;
  }
  if (current.length > 0 || pages.length === 0) pages.push(current);
  return pages;
}

/** The page (from 1) that holds a message, or undefined. */
export function pageOfMessage(pages: ReadonlyArray<ReadonlyArray<ThreadView | MessageView>>, messageId: string): number | undefined {
  const i = pages.findIndex((p) =>
    p.some((u) => ('rootId' in u ? u.rootId === messageId || u.replies.some((r) => r.id === messageId) : u.id === messageId)),
  );
  return i === -1 ? undefined : i + 1;
}

export function conversationDayPage(
  env: PageEnv,
  kind: BrowsableKind,
  id: string,
  conversationId: string,
  day: string,
  data: ConversationDay,
  pageNo = 1,
  meetings?: MeetingsData,
): string {
  const teamId = kind === 'team' ? id : undefined;
  const cname = conversationName(env.names, kind, id, conversationId, teamId);
  const ctx: RenderContext = { names: env.names, links: env.links, content: data.content, snippets: data.snippets };
  const pages = dayPages(kind, data);
  const units = pages[pageNo - 1] ?? [];
  const list = units
    .map((u) => {
      if (!('rootId' in u)) return messageHtml(ctx, u);
      const root = u.root
        ? messageHtml(ctx, u.root, 'message post')
        : `<div class="post missing-root meta">Replies to a post from another day (id ${escapeHtml(u.rootId)})</div>`;
      const replies =
        u.replies.length > 0 ? `<div class="replies">${u.replies.map((r) => messageHtml(ctx, r, 'message reply')).join('')}</div>` : '';
      return `<section class="thread" id="t-${escapeHtml(u.rootId)}">${root}${replies}</section>`;
    })
    .join('');
  const pager =
    pages.length > 1
      ? `<nav class="pager">Page ${pageNo} of ${pages.length}: ${pages.map((_, i) => (i + 1 === pageNo ? `<b>${i + 1}</b>` : link(env.links.day(kind, id, conversationId, day, { page: i + 1 }), String(i + 1)))).join(' ')}</nav>`
      : '';
  const range = { from: `${day.slice(0, 7)}-01`, to: monthEnd(day.slice(0, 7)) };
  const body = [
    `<h1>${escapeHtml(cname)}</h1>`,
    `<p class="meta">${escapeHtml(day)} (UTC) · ${data.messages.length} message${data.messages.length === 1 ? '' : 's'} with versions archived this day${cname !== conversationId ? ` · <span class="id">${escapeHtml(conversationId)}</span>` : ''}</p>`,
    meetings && meetings.artifacts.length > 0 && pageNo === 1 ? meetingsHtml({ names: env.names, links: env.links }, meetings) : '',
    pager,
    `<div class="conversation-day ${kind === 'team' ? 'channel' : 'chat'}">${list}</div>`,
    pager,
  ].join('');
  const trail = [
    ...crumbs(env, kind, id, range),
    { label: cname },
    { label: pages.length > 1 ? `${day} (${pageNo}/${pages.length})` : day },
  ];
  return page({ title: `${cname} · ${day}`, crumbs: trail, body, links: env.links, ...(env.offline ? { offline: true } : {}) });
}

/** A user's Copilot sessions on one UTC day, each as a conversation of prompts and answers. */
export function copilotDayPage(env: PageEnv, userId: string, day: string, sessions: readonly CopilotSessionView[]): string {
  const name = entityName(env.names, 'user', userId);
  const range = { from: `${day.slice(0, 7)}-01`, to: monthEnd(day.slice(0, 7)) };
  const interactions = sessions.reduce((n, s) => n + s.interactions.length, 0);
  const body = [
    `<h1>Copilot · ${escapeHtml(name)}</h1>`,
    `<p class="meta">${escapeHtml(day)} (UTC) · ${sessions.length} session${sessions.length === 1 ? '' : 's'}, ${interactions} interaction${interactions === 1 ? '' : 's'} archived this day (a session that went on over midnight continues on the next day's page)</p>`,
    sessions.map((s) => copilotSessionHtml({ names: env.names, links: env.links }, userId, s)).join(''),
  ].join('');
  const trail = [...crumbs(env, 'user', userId, range), { label: 'Copilot' }, { label: day }];
  return page({ title: `Copilot · ${name} · ${day}`, crumbs: trail, body, links: env.links, ...(env.offline ? { offline: true } : {}) });
}

/** The transcripts and recordings of the meetings a user organised, filed on one UTC day. */
export function meetingsDayPage(env: PageEnv, userId: string, day: string, data: MeetingsData): string {
  const name = entityName(env.names, 'user', userId);
  const range = { from: `${day.slice(0, 7)}-01`, to: monthEnd(day.slice(0, 7)) };
  const transcripts = data.artifacts.filter((a) => a.kind === 'transcript').length;
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const body = [
    `<h1>Meetings organised by ${escapeHtml(name)}</h1>`,
    `<p class="meta">${escapeHtml(day)} (UTC) · ${count(transcripts, 'transcript')}, ${count(data.artifacts.length - transcripts, 'recording')}</p>`,
    meetingsHtml({ names: env.names, links: env.links }, data, { chatLink: true }),
  ].join('');
  const trail = [...crumbs(env, 'user', userId, range), { label: 'Meetings' }, { label: day }];
  return page({ title: `Meetings · ${name} · ${day}`, crumbs: trail, body, links: env.links, ...(env.offline ? { offline: true } : {}) });
}

export function searchPage(
  env: PageEnv,
  kind: BrowsableKind,
  id: string,
  range: DayRange,
  query: string,
  result: { hits: SearchHit[]; truncated: boolean },
): string {
  const rows = result.hits.map((h) => {
    const cname = conversationName(env.names, kind, id, h.conversationId);
    let href: string | undefined;
    try {
      href = env.links.day(kind, id, h.conversationId, h.day, { message: h.messageId });
    } catch {
      href = undefined; // an id no address can name: the hit is shown without a link
    }
    const text = h.text.length > 300 ? `${h.text.slice(0, 300)}…` : h.text;
    return `<li>${timeHtml(h.createdDateTime)} ${link(href, cname)}<div class="hit">${escapeHtml(text)}</div></li>`;
  });
  const body = [
    `<h1>Search ${escapeHtml(entityName(env.names, kind, id))}</h1>`,
    rangeForm(env, kind, id, range, query),
    `<p class="meta">${result.hits.length}${result.truncated ? '+ (first results only; narrow the range)' : ''} message${result.hits.length === 1 ? '' : 's'} containing “${escapeHtml(query)}” from ${escapeHtml(range.from)} to ${escapeHtml(range.to)}</p>`,
    `<ol class="hits">${rows.join('')}</ol>`,
  ].join('');
  return page({ title: `Search: ${query}`, crumbs: [...crumbs(env, kind, id, range), { label: 'search' }], body, links: env.links });
}

export function messagePage(env: PageEnv, title: string, message: string): string {
  return page({
    title,
    crumbs: crumbs(env),
    body: `<h1>${escapeHtml(title)}</h1><p class="problem">${escapeHtml(message)}</p>`,
    links: env.links,
  });
}
