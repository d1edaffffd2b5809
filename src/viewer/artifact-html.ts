// Copilot sessions and meeting transcripts and recordings as the viewer shows them (docs/viewer.md):
// a session as a conversation of prompts and answers with the links, contexts, attachments and mentions
// Copilot used; a meeting occurrence as its transcript (speaker, time, text) and a download of its
// recording. Everything here comes from the archive and any of it may be hostile: bodies go through the
// same sanitizer as message bodies, links keep only http(s)/mailto targets, every other value is escaped.
import type { ArchivedLine } from '../archive/archive-browser';
import type { CopilotInteractionView, CopilotSessionView, MeetingArtifactView } from '../archive/artifact-archive';
import type { DirectoryNames } from '../archive/viewer-names';
import { problemOf, textOf } from '../archive/render-text';
import { storedEntry, type MeetingsData, type TranscriptView } from './artifact-data';
import { obj, str, type Json } from './conversation-model';
import { link, timeHtml } from './layout';
import { inertFileName } from './file-names';
import { sessionAnchor, type Links } from './links';
import { bodyHtml } from './message-html';
import { escapeHtml, textToHtml } from './sanitize';

export interface ArtifactContext {
  names: DirectoryNames;
  links: Links;
}

/** Who answers when Graph names no application. */
export const COPILOT_NAME = 'Microsoft 365 Copilot';

const APP_NAMES: Record<string, string> = {
  Teams: 'Copilot in Teams',
  BizChat: 'Microsoft 365 Chat',
  WebChat: 'Microsoft 365 Copilot Chat',
};

/** The app an appClass names (`IPM.SkypeTeams.Message.Copilot.Word` → Copilot in Word). */
export function appName(appClass: unknown): string {
  if (typeof appClass !== 'string' || appClass.trim() === '') return 'Copilot';
  const m = /^IPM\.SkypeTeams\.Message\.Copilot\.([A-Za-z0-9]{1,40})$/.exec(appClass);
  if (m) return APP_NAMES[m[1] as string] ?? `Copilot in ${m[1] as string}`;
  return appClass.length > 100 ? `${appClass.slice(0, 100)}…` : appClass;
}

/** An address a page may link to: http(s) or mailto only, normalised; undefined for anything else. */
export function safeHref(url: unknown): string | undefined {
  if (typeof url !== 'string' || url.length > 4096) return undefined;
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' || u.protocol === 'mailto:' ? u.href : undefined;
  } catch {
    return undefined;
  }
}

function outLink(url: unknown, label: string): string {
  const href = safeHref(url);
  return href ? `<a href="${escapeHtml(href)}" rel="noopener noreferrer nofollow">${escapeHtml(label)}</a>` : escapeHtml(label);
}

const short = (text: string, max = 300) => (text.length > max ? `${text.slice(0, max)}…` : text);

/** A user's name from an identity: the directory's, else Graph's (not the `8:orgid:` address Copilot puts there), else the id. */
function userName(names: DirectoryNames, user: Json | undefined): string | undefined {
  if (!user) return undefined;
  const id = str(user.id);
  const given = str(user.displayName);
  return (id ? names.user(id) : undefined) ?? (given && !given.startsWith('8:orgid:') ? given : undefined) ?? id;
}

function senderOf(ctx: ArtifactContext, userId: string, it: CopilotInteractionView): string {
  const from = obj(it.item.from);
  const app = obj(from?.application);
  if (app) return short(str(app.displayName) ?? COPILOT_NAME, 100);
  const user = userName(ctx.names, obj(from?.user));
  if (user) return short(user, 100);
  return it.interactionType === 'aiResponse' ? COPILOT_NAME : (ctx.names.user(userId) ?? userId);
}

/** Links to the archived JSON line and its batch (server only). */
function sourceHtml(ctx: ArtifactContext, line: ArchivedLine): string {
  const raw = ctx.links.raw(line.blob, line.lineNo);
  const blob = ctx.links.blob(line.blob);
  if (!raw && !blob) return '';
  return `<span class="source">${link(raw, 'JSON')}${blob ? ` · ${link(blob, 'batch')}` : ''}</span>`;
}

// ---- Adaptive cards (Microsoft 365 Chat answers carry their text in one) ----

const MAX_CARD_CHARS = 256 * 1024;
const MAX_CARD_NODES = 2_000;

/** The text of an Adaptive Card's JSON (TextBlocks, RichTextBlock runs, FactSets), or undefined. Bounded. */
export function cardText(content: unknown): string | undefined {
  if (typeof content !== 'string' || content.length > MAX_CARD_CHARS) return undefined;
  let root: unknown;
  try {
    root = JSON.parse(content);
  } catch {
    return undefined;
  }
  const out: string[] = [];
  const stack: unknown[] = [root];
  let seen = 0;
  while (stack.length > 0 && seen++ < MAX_CARD_NODES) {
    const node = stack.pop();
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push(node[i]);
      continue;
    }
    const o = obj(node);
    if (!o) continue;
    if (o.type === 'TextBlock' || o.type === 'TextRun') {
      if (typeof o.text === 'string') out.push(o.text);
    } else if (o.type === 'Fact' || (typeof o.title === 'string' && typeof o.value === 'string')) {
      out.push(`${textOf(o.title)}: ${textOf(o.value)}`);
    }
    for (const k of ['body', 'items', 'columns', 'inlines', 'facts'] as const) {
      const child = o[k];
      if (Array.isArray(child)) stack.push(child);
      else if (typeof child === 'string' && k === 'inlines') out.push(child);
    }
  }
  const text = out.join('\n').trim();
  return text.length > 0 ? text : undefined;
}

// ---- Copilot ----

/** Graph marks where an attachment sits in a text body; the attachment is shown below instead. */
const ATTACHMENT_MARK = /<attachment id="[^"<>]{0,200}"><\/attachment>/g;

function interactionBody(it: CopilotInteractionView): string | undefined {
  const body = obj(it.item.body);
  const raw = str(body?.content);
  if (!raw) return undefined;
  const content = body?.contentType === 'html' ? raw : raw.replace(ATTACHMENT_MARK, '').trim();
  if (content === '') return undefined;
  // No content map for Copilot: an image in a body is not in the archive (shown as such).
  const html = bodyHtml(content, body?.contentType, () => undefined);
  return html.trim() === '' ? undefined : html;
}

function listOf(v: unknown): Json[] {
  return Array.isArray(v) ? (v.map(obj).filter((x) => x !== undefined) as Json[]) : [];
}

function attachmentsHtml(it: CopilotInteractionView): string {
  const parts: string[] = [];
  for (const a of listOf(it.item.attachments)) {
    const type = str(a.contentType) ?? '';
    const name = str(a.name);
    if (type === 'application/vnd.microsoft.card.adaptive') {
      const text = cardText(a.content);
      parts.push(
        text !== undefined
          ? `<li class="card"><div class="body">${textToHtml(text)}</div></li>`
          : `<li class="meta">[card${name ? `: ${escapeHtml(short(name, 200))}` : ''}]</li>`,
      );
    } else if (str(a.contentUrl)) {
      parts.push(`<li class="file">📎 ${outLink(a.contentUrl, short(name ?? str(a.contentUrl) ?? 'attachment', 200))}</li>`);
    } else {
      parts.push(
        `<li class="meta">[${escapeHtml(short(type || 'attachment', 100))}${name ? `: ${escapeHtml(short(name, 200))}` : ''}]</li>`,
      );
    }
  }
  return parts.length > 0 ? `<ul class="attachments">${parts.join('')}</ul>` : '';
}

function linksHtml(it: CopilotInteractionView): string {
  const rows = listOf(it.item.links).map((l) => {
    const label = short(str(l.displayName) ?? str(l.linkUrl) ?? 'link', 200);
    const type = str(l.linkType);
    return `<li>${outLink(l.linkUrl, label)}${type ? ` <span class="meta">${escapeHtml(short(type, 40))}</span>` : ''}</li>`;
  });
  return rows.length > 0 ? `<div class="copilot-links"><span class="meta">Links used:</span><ul>${rows.join('')}</ul></div>` : '';
}

function contextsHtml(it: CopilotInteractionView): string {
  const rows = listOf(it.item.contexts).map((c) => {
    const label = short(str(c.displayName) ?? str(c.contextReference) ?? 'context', 200);
    const type = str(c.contextType);
    return `<li>${outLink(c.contextReference, label)}${type ? ` <span class="meta">${escapeHtml(short(type, 40))}</span>` : ''}</li>`;
  });
  return rows.length > 0 ? `<div class="copilot-contexts"><span class="meta">Context:</span><ul>${rows.join('')}</ul></div>` : '';
}

function mentionsHtml(ctx: ArtifactContext, it: CopilotInteractionView): string {
  const who = listOf(it.item.mentions).map((m) => {
    const mentioned = obj(m.mentioned);
    const name = userName(ctx.names, obj(mentioned?.user)) ?? str(obj(mentioned?.application)?.displayName) ?? str(m.mentionText) ?? '?';
    return `<span class="mention">${escapeHtml(short(name, 100))}</span>`;
  });
  return who.length > 0 ? `<div class="copilot-mentions"><span class="meta">Mentions:</span> ${who.join(', ')}</div>` : '';
}

function renderInteraction(ctx: ArtifactContext, userId: string, it: CopilotInteractionView): string {
  const prompt = it.interactionType === 'userPrompt';
  const answer = it.interactionType === 'aiResponse';
  const head = [
    `<span class="sender">${escapeHtml(senderOf(ctx, userId, it))}</span>`,
    timeHtml(str(it.item.createdDateTime)),
    `<span class="badge">${prompt ? 'prompt' : answer ? 'answer' : escapeHtml(short(it.interactionType, 40))}</span>`,
  ];
  if (it.versions > 1) head.push(`<span class="badge">${it.versions} versions archived; the newest is shown</span>`);
  head.push(sourceHtml(ctx, it.line));
  const body = interactionBody(it);
  const parts = [
    `<div class="head">${head.join(' ')}</div>`,
    body ? `<div class="body">${body}</div>` : '',
    attachmentsHtml(it),
    linksHtml(it),
    contextsHtml(it),
    mentionsHtml(ctx, it),
  ];
  const cls = prompt ? 'copilot-prompt' : answer ? 'copilot-answer' : 'copilot-other';
  return `<article class="message ${cls}" id="i-${escapeHtml(it.id)}">${parts.join('')}</article>`;
}

/** One interaction; one that cannot be rendered is a placeholder with the reason, and the page goes on. */
function interactionHtml(ctx: ArtifactContext, userId: string, it: CopilotInteractionView): string {
  try {
    return renderInteraction(ctx, userId, it);
  } catch (err) {
    return `<article class="message unrenderable"><div class="problem">Could not render this interaction (${escapeHtml(problemOf(err))}).</div></article>`;
  }
}

/** The first prompt's text, for lists of sessions. */
export function sessionTitle(s: CopilotSessionView): string {
  const first = s.interactions.find((i) => i.interactionType === 'userPrompt') ?? s.interactions[0];
  const body = first ? obj(first.item.body) : undefined;
  const content = str(body?.content) ?? '';
  const text = (body?.contentType === 'html' ? content.replace(/<[^<>]{0,1000}>/g, ' ') : content.replace(ATTACHMENT_MARK, ''))
    .replace(/\s+/g, ' ')
    .trim();
  return short(text || '(no text)', 120);
}

/** A Copilot session as a conversation: prompts and answers in order, under the app it ran in. */
export function copilotSessionHtml(ctx: ArtifactContext, userId: string, s: CopilotSessionView): string {
  const anchor = sessionAnchor(s.sessionId);
  const prompts = s.interactions.filter((i) => i.interactionType === 'userPrompt').length;
  const head = `<h2>${escapeHtml(appName(s.appClass))} <span class="meta">session started ${timeHtml(new Date(s.startMs).toISOString())} · ${prompts} prompt${prompts === 1 ? '' : 's'}, ${s.interactions.length - prompts} answer${s.interactions.length - prompts === 1 ? '' : 's'}</span></h2><p class="id">session ${escapeHtml(s.sessionId)}</p>`;
  return `<section class="copilot-session"${anchor ? ` id="${escapeHtml(anchor)}"` : ''}>${head}<div class="conversation-day chat">${s.interactions.map((i) => interactionHtml(ctx, userId, i)).join('')}</div></section>`;
}

// ---- Meetings ----

function byteCount(bytes: unknown): string {
  return typeof bytes === 'number' && Number.isSafeInteger(bytes) && bytes >= 0 ? bytes.toLocaleString('en-US') : '?';
}

/** `hh:mm:ss` of an offset in ms. */
export function cueClock(ms: number): string {
  const s = Math.floor(Math.max(0, ms) / 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(Math.floor(s / 3600))}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
}

/** Most cues laid out for one transcript: a long meeting has a few thousand. */
export const MAX_CUES_SHOWN = 10_000;

function transcriptHtml(a: MeetingArtifactView, t: TranscriptView | undefined): string {
  if (!t) return '';
  const start = a.createdMs;
  const rows = t.cues.slice(0, MAX_CUES_SHOWN).map((c) => {
    const at = Number.isFinite(start) && start > 0 ? new Date(start + c.startMs).toISOString() : undefined;
    return `<li class="cue"><span class="cue-time"${at ? ` title="${escapeHtml(at)}"` : ''}>${cueClock(c.startMs)}</span> ${c.speaker !== undefined ? `<span class="speaker">${escapeHtml(c.speaker)}</span> ` : ''}<span class="cue-text">${textToHtml(c.text)}</span></li>`;
  });
  const notes: string[] = [];
  if (t.fromMetadata) notes.push('speakers from the transcript metadata');
  if (t.cut || t.truncated || t.cues.length > MAX_CUES_SHOWN) notes.push('only the beginning is shown here; download the whole transcript');
  if (t.skipped > 0) notes.push(`${t.skipped} unreadable cue${t.skipped === 1 ? '' : 's'} skipped`);
  return [
    notes.length > 0 ? `<p class="meta">(${escapeHtml(notes.join('; '))})</p>` : '',
    rows.length > 0 ? `<ol class="transcript">${rows.join('')}</ol>` : '<p class="meta">(the transcript holds no cues)</p>',
  ].join('');
}

function stamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace(/[-:]/g, '').replace('T', '-');
}

function missingNote(a: MeetingArtifactView, kind: string): string {
  const e = a.content.find((x) => (x.kind as string) === kind);
  if (!e) return '(not in the archive)';
  return `(not in the archive: ${textOf(e.status)}${e.reason ? `, ${short(textOf(e.reason), 200)}` : ''})`;
}

function artifactHtml(ctx: ArtifactContext, a: MeetingArtifactView, data: MeetingsData): string {
  const when = `${timeHtml(new Date(a.createdMs).toISOString())}${a.endMs !== undefined ? ` to ${timeHtml(new Date(a.endMs).toISOString())}` : ''}`;
  if (a.kind === 'recording') {
    const e = storedEntry(a, 'recording');
    const name = `recording-${stamp(a.createdMs)}.mp4`;
    // Saved under an inert name like every download (docs/viewer.md, "Files that cannot run").
    const saved = inertFileName(name);
    const download = e
      ? `${link(ctx.links.content(e.sha256, 'video/mp4', name), 'Download the recording', ' download class="recording-download"')} <span class="meta">${byteCount(e.bytes)} bytes, MP4${saved !== name ? `, saved as ${escapeHtml(saved)}` : ''}</span>`
      : `<span class="meta">${escapeHtml(missingNote(a, 'recording'))}</span>`;
    return `<div class="recording" id="r-${escapeHtml(a.id)}"><h4 class="head">Recording <span class="meta">${when}</span> ${sourceHtml(ctx, a.line)}</h4><p>${download}</p></div>`;
  }
  const e = storedEntry(a, 'transcript');
  const download = e
    ? `${link(ctx.links.content(e.sha256, 'text/vtt', `transcript-${stamp(a.createdMs)}.vtt`), 'Download the transcript (WebVTT)', ' download')} <span class="meta">${byteCount(e.bytes)} bytes</span>`
    : `<span class="meta">${escapeHtml(missingNote(a, 'transcript'))}</span>`;
  const t = data.transcripts.get(a.id);
  const notLoaded = e && !t ? '<p class="meta">(not laid out here: too many transcripts on one page; download it)</p>' : '';
  return `<div class="transcript-block" id="tr-${escapeHtml(a.id)}"><h4 class="head">Transcript <span class="meta">${when}</span> ${sourceHtml(ctx, a.line)}</h4>${transcriptHtml(a, t)}${notLoaded}<p>${download}</p></div>`;
}

/**
 * The day's transcripts and recordings, one block per meeting occurrence (a transcript and the recording
 * sharing its contentCorrelationId), in time order. `chatLink`: a link to each meeting's chat-day.
 */
export function meetingsHtml(ctx: ArtifactContext, data: MeetingsData, opts: { chatLink?: boolean } = {}): string {
  const groups = new Map<string, MeetingArtifactView[]>();
  for (const a of data.artifacts) {
    const key = `${a.meetingId}\n${a.correlationId ?? `${a.kind}:${a.id}`}`;
    const g = groups.get(key);
    if (g) g.push(a);
    else groups.set(key, [a]);
  }
  const blocks = [...groups.values()].map((g) => {
    const first = g[0] as MeetingArtifactView;
    const chatName = first.chatId ? (ctx.names.chat(first.chatId) ?? first.chatId) : undefined;
    const organizer = ctx.names.user(first.organizerId) ?? first.organizerId;
    let chat = '';
    if (opts.chatLink && first.chatId) {
      let href: string | undefined;
      try {
        href = ctx.links.day('user', first.organizerId, first.chatId, first.day);
      } catch {
        href = undefined; // an id no address can name
      }
      chat = ` · chat ${link(href, chatName ?? first.chatId)}`;
    } else if (!first.chatId) chat = ' · no meeting chat (the meeting id names none)';
    const items = g.map((a) => {
      try {
        return artifactHtml(ctx, a, data);
      } catch (err) {
        return `<div class="problem">Could not render this ${a.kind} (${escapeHtml(problemOf(err))}).</div>`;
      }
    });
    return `<section class="meeting"><h3>${escapeHtml(opts.chatLink && chatName ? chatName : 'Meeting')} <span class="meta">organised by ${escapeHtml(organizer)}${chat}</span></h3>${items.join('')}</section>`;
  });
  return `<section class="meeting-artifacts"><h2>Meeting transcripts and recordings</h2>${blocks.join('')}</section>`;
}
