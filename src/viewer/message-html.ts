// One message as Teams shows it: sender, time, body (sanitized), attachments, reactions with who
// reacted, edit and deletion markers with the earlier versions, system events, and links to the
// archived JSON line and its batch.
import type { ContentMapEntry } from '../archive/archive-browser';
import type { DirectoryNames } from '../archive/viewer-names';
import { htmlNestingDepth, htmlToText, MAX_HTML_NESTING, problemOf, textOf } from '../archive/render-text';
import { obj, str, type Json, type MessageVersionView, type MessageView } from './conversation-model';
import { link, timeHtml } from './layout';
import { inertFileName } from './file-names';
import type { Links } from './links';
import { escapeHtml, sanitizeBody, textToHtml } from './sanitize';

export interface RenderContext {
  names: DirectoryNames;
  links: Links;
  /** Content map entries by message id. */
  content: Map<string, ContentMapEntry[]>;
  /** Code snippet text by SHA-256 (read from content/ for the page). */
  snippets: Map<string, string>;
}

const HOSTED_ID = /\/hostedContents\/([^/?#]+)\/\$value/;

/**
 * A content map is read from the archive, where anyone with write access could have altered it: an
 * entry names stored bytes only with a real SHA-256, which is then safe in a URL and a file name.
 */
function isStored(e: ContentMapEntry): e is ContentMapEntry & { sha256: string } {
  return e.status === 'stored' && typeof e.sha256 === 'string' && /^[0-9a-f]{64}$/.test(e.sha256);
}

/** The stored type, when the map holds a string there. */
function typeOf(e: ContentMapEntry, fallback: string): string {
  return typeof e.contentType === 'string' ? e.contentType : fallback;
}

/** A byte count for the page: a whole number, or '?' for anything else the map holds. */
function byteCount(bytes: unknown): string {
  return typeof bytes === 'number' && Number.isSafeInteger(bytes) && bytes >= 0 ? String(bytes) : '?';
}

/** The stored entry for a hosted content URL of a message, if the archive holds its bytes. */
export function storedHostedContent(
  ctx: RenderContext,
  messageId: string,
  url: string,
): (ContentMapEntry & { sha256: string }) | undefined {
  const m = HOSTED_ID.exec(url);
  if (!m) return undefined;
  let id: string;
  try {
    id = decodeURIComponent(m[1] as string);
  } catch {
    return undefined;
  }
  return ctx.content
    .get(messageId)
    ?.find((e): e is ContentMapEntry & { sha256: string } => e.kind === 'hostedContent' && e.ref === id && isStored(e));
}

function identityName(ctx: RenderContext, set: unknown): string | undefined {
  const s = obj(set);
  const user = obj(s?.user);
  if (user) {
    const id = str(user.id);
    return (id ? ctx.names.user(id) : undefined) ?? str(user.displayName) ?? id;
  }
  const app = obj(s?.application) ?? obj(s?.device);
  return app ? (str(app.displayName) ?? str(app.id)) : undefined;
}

function isSystem(m: Json): boolean {
  return m.messageType === 'systemEventMessage' || m.messageType === 'unknownFutureValue' || obj(m.eventDetail) !== undefined;
}

/**
 * A Graph item body (`{contentType, content}`) as safe HTML: an HTML body through the sanitizer (images
 * only where `resolveImage` maps them into the archive), anything else escaped as text. Shared by
 * messages and Copilot interactions, so both are sanitized the same way.
 */
export function bodyHtml(content: string, contentType: unknown, resolveImage: (src: string) => string | undefined): string {
  if (contentType !== 'html') return textToHtml(content);
  // Nested deeper than any real message: its text, as a sanitizer's element stack would take minutes.
  if (htmlNestingDepth(content) > MAX_HTML_NESTING)
    return `<div class="meta">(shown as plain text: the HTML nests too deeply to lay out)</div>${textToHtml(htmlToText(content))}`;
  return sanitizeBody(content, resolveImage);
}

function bodyOf(ctx: RenderContext, m: Json, messageId: string): string | undefined {
  const body = obj(m.body);
  const content = str(body?.content);
  if (!content || content === '<systemEventMessage/>') return undefined;
  return bodyHtml(content, body?.contentType, (src) => {
    const e = storedHostedContent(ctx, messageId, src);
    return e ? ctx.links.content(e.sha256, typeOf(e, 'application/octet-stream')) : undefined;
  });
}

function eventText(ctx: RenderContext, m: Json): string {
  const e = obj(m.eventDetail);
  const type = (textOf(e?.['@odata.type']) || 'event').replace('#microsoft.graph.', '').replace(/EventMessageDetail$/, '');
  const who = identityName(ctx, e?.initiator);
  const members = Array.isArray(e?.members)
    ? (e.members as unknown[]).map((x) => {
        const id = str(obj(x)?.id);
        return (id ? ctx.names.user(id) : undefined) ?? str(obj(x)?.displayName) ?? id ?? '?';
      })
    : [];
  const what = type.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  return `${who ? `${who}: ` : ''}${what}${members.length > 0 ? ` (${members.join(', ')})` : ''}`;
}

function attachmentsHtml(ctx: RenderContext, m: Json, messageId: string): string {
  if (!Array.isArray(m.attachments)) return '';
  const parts: string[] = [];
  for (const a of m.attachments as unknown[]) {
    const att = obj(a);
    if (!att) continue;
    const type = str(att.contentType) ?? '';
    if (type === 'reference') {
      const url = str(att.contentUrl);
      const name = str(att.name) ?? 'file';
      const e = url ? ctx.content.get(messageId)?.find((x) => x.kind === 'file' && x.ref === url) : undefined;
      if (e && isStored(e)) {
        // The sender chose the name: the link shows it, the file is saved under an inert one.
        const saved = inertFileName(name);
        const savedAs = saved !== name ? ` <span class="meta saved-as">saved as ${escapeHtml(saved)}</span>` : '';
        parts.push(
          `<li class="file">📎 ${link(ctx.links.content(e.sha256, typeOf(e, 'application/octet-stream'), name), name, ' download')} <span class="meta">${byteCount(e.bytes)} bytes</span>${savedAs}</li>`,
        );
      } else {
        parts.push(
          `<li class="file">📎 ${escapeHtml(name)} <span class="meta">(not in the archive${e && e.status !== 'stored' ? `: ${escapeHtml(textOf(e.status))}` : ''})</span></li>`,
        );
      }
    } else if (type === 'application/vnd.microsoft.card.codesnippet') {
      let url: string | undefined;
      let language = 'code';
      try {
        const card = obj(JSON.parse(str(att.content) ?? '{}'));
        url = str(card?.codeSnippetUrl);
        language = str(card?.language) ?? language;
      } catch {
        // a card we cannot read: shown as missing below
      }
      const e = url ? storedHostedContent(ctx, messageId, url) : undefined;
      const code = e?.sha256 !== undefined ? ctx.snippets.get(e.sha256) : undefined;
      parts.push(
        code !== undefined
          ? `<li class="snippet"><div class="meta">${escapeHtml(language)} snippet</div><pre><code>${escapeHtml(code)}</code></pre></li>`
          : `<li class="snippet meta">${escapeHtml(language)} snippet (not in the archive)</li>`,
      );
    } else if (type !== 'messageReference') {
      parts.push(
        `<li class="meta">[${escapeHtml(type || 'attachment')}${str(att.name) ? `: ${escapeHtml(att.name as string)}` : ''}]</li>`,
      );
    }
  }
  return parts.length > 0 ? `<ul class="attachments">${parts.join('')}</ul>` : '';
}

function reactionsHtml(ctx: RenderContext, m: Json, messageId: string): string {
  if (!Array.isArray(m.reactions) || m.reactions.length === 0) return '';
  const groups = new Map<string, { label: string; who: string[] }>();
  for (const r of m.reactions as unknown[]) {
    const reaction = obj(r);
    if (!reaction) continue;
    const type = str(reaction.reactionType) ?? '?';
    const custom = str(reaction.reactionContentUrl)
      ? storedHostedContent(ctx, messageId, reaction.reactionContentUrl as string)
      : undefined;
    const name = str(reaction.displayName);
    const label = custom?.sha256
      ? `<img class="emoji" src="${escapeHtml(ctx.links.content(custom.sha256, typeOf(custom, 'image/png')))}" alt="${escapeHtml(name ?? type)}" width="16" height="16">`
      : `${escapeHtml(type)}${name && name.toLowerCase() !== type.toLowerCase() ? ` <span class="meta">${escapeHtml(name)}</span>` : ''}`;
    const key = `${type}\n${name ?? ''}`;
    const g = groups.get(key) ?? { label, who: [] };
    g.who.push(identityName(ctx, reaction.user) ?? 'someone');
    groups.set(key, g);
  }
  const items = [...groups.values()].map(
    (g) => `<li class="reaction">${g.label} <span class="who">${escapeHtml(g.who.join(', '))}</span></li>`,
  );
  return `<ul class="reactions">${items.join('')}</ul>`;
}

function sourceLinks(ctx: RenderContext, v: MessageVersionView): string {
  const raw = ctx.links.raw(v.line.blob, v.line.lineNo);
  const blob = ctx.links.blob(v.line.blob);
  if (!raw && !blob) return '';
  return `<span class="source">${link(raw, 'JSON')}${blob ? ` · ${link(blob, 'batch')}` : ''}</span>`;
}

function versionHtml(ctx: RenderContext, msg: MessageView, v: MessageVersionView): string {
  const m = v.message;
  const body = bodyOf(ctx, m, msg.id);
  const marks: string[] = [];
  if (str(m.deletedDateTime)) marks.push(`deleted ${timeHtml(m.deletedDateTime as string)}`);
  else if (str(m.lastEditedDateTime)) marks.push(`edited ${timeHtml(m.lastEditedDateTime as string)}`);
  marks.push(`modified ${timeHtml(str(m.lastModifiedDateTime))}`);
  return `<li class="version"><div class="meta">${marks.join(' · ')} ${sourceLinks(ctx, v)}</div>${body ? `<div class="body">${body}</div>` : '<div class="body meta">(no text)</div>'}</li>`;
}

/**
 * One message, newest version first, with earlier versions folded away. A message that cannot be
 * rendered (a shape no Graph payload has) is shown as a placeholder with the reason and a link to its
 * JSON, and the page goes on (docs/viewer.md).
 */
export function messageHtml(ctx: RenderContext, msg: MessageView, cls = 'message'): string {
  try {
    return renderMessage(ctx, msg, cls);
  } catch (err) {
    let source = '';
    try {
      const newest = msg.versions.at(-1);
      source = newest ? sourceLinks(ctx, newest) : '';
    } catch {
      // no link either: the placeholder alone
    }
    return `<article class="${escapeHtml(cls)} unrenderable" id="m-${escapeHtml(textOf(msg.id))}"><div class="problem">Could not render this message (${escapeHtml(problemOf(err))}). ${source}</div></article>`;
  }
}

function renderMessage(ctx: RenderContext, msg: MessageView, cls: string): string {
  const newest = msg.versions[msg.versions.length - 1] as MessageVersionView;
  const m = newest.message;
  const earlier = msg.versions.slice(0, -1);
  const deleted = str(m.deletedDateTime) !== undefined;
  const edited = !deleted && str(m.lastEditedDateTime) !== undefined;
  const system = isSystem(m);
  const classes = [cls, deleted ? 'deleted' : '', edited ? 'edited' : '', system ? 'system' : ''].filter(Boolean).join(' ');
  // A deleted version has no sender: the earlier versions still say who wrote it.
  const sender = system
    ? 'System'
    : ([...msg.versions]
        .reverse()
        .map((v) => identityName(ctx, v.message.from))
        .find((n) => n !== undefined) ?? 'unknown sender');
  const head: string[] = [`<span class="sender">${escapeHtml(sender)}</span>`, timeHtml(str(m.createdDateTime))];
  if (m.importance === 'high' || m.importance === 'urgent') head.push(`<span class="badge">${escapeHtml(String(m.importance))}</span>`);
  if (edited) head.push(`<span class="badge">edited ${timeHtml(m.lastEditedDateTime as string)}</span>`);
  if (deleted) head.push(`<span class="badge deleted-badge">deleted ${timeHtml(m.deletedDateTime as string)}</span>`);
  head.push(sourceLinks(ctx, newest));
  const parts = [`<div class="head">${head.join(' ')}</div>`];
  if (str(m.subject)) parts.push(`<div class="subject">${escapeHtml(m.subject as string)}</div>`);
  if (system) {
    parts.push(`<div class="event">${escapeHtml(eventText(ctx, m))}</div>`);
  } else if (deleted) {
    // The deleted version has no body: show the last text the archive saw before the deletion.
    const last = [...earlier].reverse().find((v) => bodyOf(ctx, v.message, msg.id) !== undefined);
    const lastBody = last ? bodyOf(ctx, last.message, msg.id) : undefined;
    parts.push(
      lastBody
        ? `<div class="meta">last known text:</div><div class="body last-known">${lastBody}</div>`
        : '<div class="meta">(this message was deleted; the archive has no earlier text)</div>',
    );
  } else {
    const body = bodyOf(ctx, m, msg.id);
    if (body) parts.push(`<div class="body">${body}</div>`);
  }
  if (!deleted) {
    parts.push(attachmentsHtml(ctx, m, msg.id));
    parts.push(reactionsHtml(ctx, m, msg.id));
  }
  if (earlier.length > 0) {
    parts.push(
      `<details class="versions"><summary>${earlier.length} earlier version${earlier.length === 1 ? '' : 's'}</summary><ol>${earlier.map((v) => versionHtml(ctx, msg, v)).join('')}</ol></details>`,
    );
  }
  return `<article class="${classes}" id="m-${escapeHtml(msg.id)}">${parts.join('')}</article>`;
}
