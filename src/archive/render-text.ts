// Renders archived chatMessage versions as readable text for people (`teams-export cat --text`, the
// HTTP reader's `format=text`): time, conversation, sender, the body as plain text, attachments by
// name, and what happened to the version (edited, deleted, reacted to, a system event).

import { Tokenizer } from 'htmlparser2';

/** Elements shown by their alt text when they are an emoji. */
const ALT_TAGS: ReadonlySet<string> = new Set(['customemoji', 'emoji', 'img']);
const EMOJI_ITEMTYPE = /schema\.skype\.com\/emoji/i;

/** Tokenizer callbacks neither renderer needs: comments, CDATA, declarations, processing instructions. */
const IGNORED = {
  oncdata: () => undefined,
  oncomment: () => undefined,
  ondeclaration: () => undefined,
  onprocessinginstruction: () => undefined,
  onend: () => undefined,
} as const;

type Json = Record<string, unknown>;

/**
 * Elements whose text is code, not content: dropped with the element, here and in the viewer's
 * sanitizer (src/viewer/sanitize.ts), so search finds what a page shows.
 */
export const NON_TEXT_TAGS: readonly string[] = [
  'script',
  'style',
  'textarea',
  'option',
  'noscript',
  'title',
  'svg',
  'math',
  'template',
  'iframe',
  'object',
];
const SKIPPED = new Set(NON_TEXT_TAGS);
const BLOCK_END = /^(p|div|li|h\d)$/;
const WHITESPACE = /^\s*$/;

/**
 * HTML body → plain text: block tags become line breaks, mentions keep their text, images show as
 * [image], emoji (standard, custom, or the older emoji images) as their alt text. One pass of htmlparser2's tokenizer, with no element stack, so
 * the time is linear in the body whatever its nesting, unclosed tags or quotes (docs/viewer.md).
 */
export function htmlToText(html: string): string {
  const out: string[] = [];
  let tag = '';
  let attr = '';
  let alt: string | undefined;
  /** An img's itemtype: the older bodies mark an emoji as an image of schema.skype.com/Emoji. */
  let itemtype = '';
  /** The non-text element being skipped, and how deep the same name nests inside it. */
  let skip: string | undefined;
  let skipDepth = 0;
  /** Right after `<attachment …>`: whitespace there is the placeholder's, not the message's. */
  let afterAttachment = false;
  const emit = (text: string) => {
    if (skip !== undefined) return;
    if (afterAttachment && WHITESPACE.test(text)) return;
    afterAttachment = false;
    out.push(text);
  };
  const openTag = (selfClosing: boolean) => {
    afterAttachment = false;
    if (skip !== undefined) {
      if (tag === skip && !selfClosing) skipDepth++;
      return;
    }
    if (SKIPPED.has(tag)) {
      if (!selfClosing) [skip, skipDepth] = [tag, 1];
    } else if (tag === 'br') out.push('\n');
    else if (tag === 'li') out.push('• ');
    else if (tag === 'img') out.push(alt && EMOJI_ITEMTYPE.test(itemtype) ? alt : '[image]');
    else if (tag === 'customemoji' || tag === 'emoji') out.push(alt ?? '');
    else if (tag === 'attachment') afterAttachment = !selfClosing;
  };
  const tokenizer = new Tokenizer(
    { decodeEntities: true },
    {
      ontext: (start, end) => emit(html.slice(start, end)),
      // A no-break space is a space in plain text (search, review platforms).
      ontextentity: (cp) => emit(cp === 0xa0 ? ' ' : String.fromCodePoint(cp)),
      onopentagname: (start, end) => {
        tag = html.slice(start, end).toLowerCase();
        alt = undefined;
        itemtype = '';
      },
      onattribname: (start, end) => {
        attr = html.slice(start, end).toLowerCase();
        if (attr === 'alt' && ALT_TAGS.has(tag)) alt = '';
      },
      onattribdata: (start, end) => {
        if (attr === 'alt' && alt !== undefined) alt += html.slice(start, end);
        // Bounded: only its start is looked at, whatever a hostile body puts there.
        else if (attr === 'itemtype' && tag === 'img' && itemtype.length < 200) itemtype += html.slice(start, Math.min(end, start + 200));
      },
      onattribentity: (cp) => {
        if (attr === 'alt' && alt !== undefined) alt += String.fromCodePoint(cp);
      },
      onattribend: () => {
        attr = '';
      },
      onopentagend: () => openTag(false),
      onselfclosingtag: () => openTag(true),
      onclosetag: (start, end) => {
        const name = html.slice(start, end).toLowerCase();
        afterAttachment = false;
        if (skip !== undefined) {
          if (name === skip && --skipDepth === 0) skip = undefined;
          return;
        }
        if (name === 'br' || BLOCK_END.test(name)) out.push('\n');
      },
      ...IGNORED,
    },
  );
  tokenizer.write(html);
  tokenizer.end();
  return tidy(out.join(''));
}

/**
 * Spaces and tabs before a line break go, at most one empty line in a row, no blank lines at either
 * end: by hand, as a regular expression over a long run of spaces would backtrack.
 */
function tidy(text: string): string {
  const lines = text.split('\n');
  const kept: string[] = [];
  let empty = 0;
  for (const [i, line] of lines.entries()) {
    let end = line.length;
    if (i < lines.length - 1) while (end > 0 && (line.charCodeAt(end - 1) === 32 || line.charCodeAt(end - 1) === 9)) end--;
    const l = end === line.length ? line : line.slice(0, end);
    empty = l.length === 0 ? empty + 1 : 0;
    if (empty <= 1) kept.push(l);
  }
  return kept.join('\n').trim();
}

/**
 * Any JSON value as text for a reader, never throwing: an archived message is whatever Graph (or
 * someone with write access to the archive) put there, and `String(v)` throws on an object whose
 * `toString` is not a function (`{"toString":1}`).
 */
export function textOf(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v === null || v === undefined) return '';
  try {
    return JSON.stringify(v) ?? '';
  } catch {
    return '[value]';
  }
}

/** Why rendering failed, in one short line (never throws). */
export function problemOf(err: unknown): string {
  let text: string;
  try {
    text = err instanceof Error ? `${err.name}: ${err.message}` : textOf(err);
  } catch {
    text = 'unknown error';
  }
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** Most open elements a body may nest before it is laid out from its text (docs/viewer.md). */
export const MAX_HTML_NESTING = 500;

/**
 * How deep the elements of a body nest (open tags less close tags, void and self-closing ones not
 * counted), in one linear pass: parsers that keep an element stack slow down with the square of the
 * depth, and no real message nests more than a few dozen deep.
 */
export function htmlNestingDepth(html: string): number {
  let depth = 0;
  let deepest = 0;
  let tag = '';
  const tokenizer = new Tokenizer(
    { decodeEntities: false },
    {
      onopentagname: (start, end) => {
        tag = html.slice(start, end).toLowerCase();
      },
      onopentagend: () => {
        if (!VOID.has(tag)) deepest = Math.max(deepest, ++depth);
      },
      onclosetag: () => {
        if (depth > 0) depth--;
      },
      onselfclosingtag: () => undefined,
      ontext: () => undefined,
      ontextentity: () => undefined,
      onattribname: () => undefined,
      onattribdata: () => undefined,
      onattribentity: () => undefined,
      onattribend: () => undefined,
      ...IGNORED,
    },
  );
  tokenizer.write(html);
  tokenizer.end();
  return deepest;
}

const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr']);

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function obj(v: unknown): Json | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
}

function senderOf(m: Json): string {
  const from = obj(m.from);
  for (const k of ['user', 'application', 'device']) {
    const who = obj(from?.[k]);
    if (who) return str(who.displayName) ?? str(who.id) ?? k;
  }
  if (m.interactionType === 'aiResponse') return 'Copilot';
  const organizer = obj(obj(m.meetingOrganizer)?.user);
  if (organizer) return `organised by ${str(organizer.displayName) ?? str(organizer.id) ?? 'unknown'}`;
  return m.messageType === 'systemEventMessage' || m.messageType === 'unknownFutureValue' ? 'system' : 'unknown sender';
}

function when(v: unknown): string {
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isFinite(t)
    ? new Date(t)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, ' UTC')
    : '(no time)';
}

function conversationOf(m: Json): string {
  const channel = obj(m.channelIdentity);
  if (str(m.chatId)) return `chat ${m.chatId as string}`;
  if (channel && str(channel.channelId))
    return `channel ${channel.channelId as string}${str(m.replyToId) ? ` reply to ${m.replyToId as string}` : ''}`;
  // Copilot interactions and meeting artifacts (docs/archive-format.md §12).
  if (str(m.sessionId)) return `Copilot session ${m.sessionId as string}${str(m.appClass) ? ` (${m.appClass as string})` : ''}`;
  if (str(m.meetingId)) return `meeting ${m.meetingId as string} ${str(m.recordingContentUrl) ? 'recording' : 'transcript'}`;
  return 'unknown conversation';
}

/** One archived version as a short block of text (first line: time, place, sender, markers). */
export function renderMessageText(m: Json): string {
  const markers: string[] = [];
  if (str(m.deletedDateTime)) markers.push(`deleted ${when(m.deletedDateTime)}`);
  else if (str(m.lastEditedDateTime)) markers.push(`edited ${when(m.lastEditedDateTime)}`);
  if (m.messageType && m.messageType !== 'message') markers.push(textOf(m.messageType));
  const reactions = Array.isArray(m.reactions) ? (m.reactions as unknown[]).map((r) => str(obj(r)?.reactionType) ?? '?') : [];
  if (reactions.length > 0) markers.push(`reactions ${reactions.join(' ')}`);
  const head = `[${when(m.createdDateTime)}] ${conversationOf(m)} · ${senderOf(m)}${markers.length > 0 ? ` (${markers.join('; ')})` : ''}`;
  const lines = [head];
  const subject = str(m.subject);
  if (subject) lines.push(`  Subject: ${subject}`);
  const body = obj(m.body);
  const content = str(body?.content);
  if (content) {
    const text = body?.contentType === 'html' ? htmlToText(content) : content;
    for (const l of text.split('\n')) if (l.trim()) lines.push(`  ${l}`);
  } else if (str(m.deletedDateTime)) {
    lines.push('  [message deleted]');
  }
  const event = obj(m.eventDetail);
  if (event) lines.push(`  [event ${(textOf(event['@odata.type']) || 'unknown').replace('#microsoft.graph.', '')}]`);
  if (Array.isArray(m.attachments)) {
    for (const a of m.attachments as unknown[]) {
      const att = obj(a);
      if (!att) continue;
      const name = str(att.name) ?? str(att.contentUrl) ?? str(att.id) ?? 'attachment';
      lines.push(`  [attachment ${str(att.contentType) ?? ''}: ${name}]`);
    }
  }
  return lines.join('\n');
}

/**
 * Renders one JSON line; a line that is not a JSON object is shown as it is, marked, and a message
 * that cannot be rendered is shown as a placeholder with the reason: one line never stops the rest.
 */
export function renderLineText(line: string): string {
  let parsed: Json | undefined;
  try {
    parsed = obj(JSON.parse(line));
  } catch {
    // not JSON: shown below
  }
  if (!parsed) return `[not a message] ${line.slice(0, 200)}`;
  try {
    return renderMessageText(parsed);
  } catch (err) {
    return `[could not render message ${textOf(parsed.id).slice(0, 100) || '(no id)'}: ${problemOf(err)}]`;
  }
}
