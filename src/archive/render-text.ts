// Renders archived chatMessage versions as readable text for people (`teams-export cat --text`, the
// HTTP reader's `format=text`): time, conversation, sender, the body as plain text, attachments by
// name, and what happened to the version (edited, deleted, reacted to, a system event).

type Json = Record<string, unknown>;

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** HTML body → plain text: block tags become line breaks, mentions keep their text, images show as [image]. */
export function htmlToText(html: string): string {
  return html
    .replace(/<(br|\/p|\/div|\/li|\/h\d)\b[^>]*>/gi, '\n')
    .replace(/<li\b[^>]*>/gi, '• ')
    .replace(/<img\b[^>]*>/gi, '[image]')
    .replace(/<customemoji\b[^>]*alt="([^"]*)"[^>]*>/gi, '$1')
    .replace(/<attachment\b[^>]*>\s*<\/attachment>/gi, '')
    .replace(/<systemEventMessage\s*\/>/gi, '')
    .replace(/<[^>]+>/g, '')
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, code: string) => {
      if (code.startsWith('#x') || code.startsWith('#X')) return safeChar(parseInt(code.slice(2), 16), whole);
      if (code.startsWith('#')) return safeChar(parseInt(code.slice(1), 10), whole);
      return ENTITIES[code.toLowerCase()] ?? whole;
    })
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

function safeChar(code: number, fallback: string): string {
  return Number.isInteger(code) && code >= 0 && code <= 0x10ffff ? String.fromCodePoint(code) : fallback;
}

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
  return 'unknown conversation';
}

/** One archived version as a short block of text (first line: time, place, sender, markers). */
export function renderMessageText(m: Json): string {
  const markers: string[] = [];
  if (str(m.deletedDateTime)) markers.push(`deleted ${when(m.deletedDateTime)}`);
  else if (str(m.lastEditedDateTime)) markers.push(`edited ${when(m.lastEditedDateTime)}`);
  if (m.messageType && m.messageType !== 'message') markers.push(String(m.messageType));
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
  if (event) lines.push(`  [event ${String(event['@odata.type'] ?? 'unknown').replace('#microsoft.graph.', '')}]`);
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

/** Renders one JSON line; a line that is not a JSON object is shown as it is, marked. */
export function renderLineText(line: string): string {
  try {
    const parsed = obj(JSON.parse(line));
    if (parsed) return renderMessageText(parsed);
  } catch {
    // fall through
  }
  return `[not a message] ${line.slice(0, 200)}`;
}
