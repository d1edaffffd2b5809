// Finds the hosted contents a chatMessage refers to (pasted images, custom emoji, code snippets,
// custom reactions): their bytes are not in the message, only `…/hostedContents/{id}/$value` URLs are.
// A link is only a hint of which hosted-content ids the message has: the request is built from the
// message's own chat (or team and channel) and its own id (and a reply's parent id), never from the
// link, so a message cannot make the product fetch what its sender could not (docs/graph.md §10). A
// link naming another conversation or message is reported as foreign, one on another origin as
// foreign-origin; neither is fetched, and the archive records why.
// The message is whatever a participant wrote: this scan never throws, whatever it is given (malformed
// percent-escapes, lone surrogates, wrong types, megabyte bodies); a link it cannot understand is
// reported as unreadable, with the reason, and never fetched (docs/graph.md §10).

export interface HostedContentRef {
  /** The URL as written in the message. */
  url: string;
  /**
   * What to GET, under GRAPH_BASE_URL: this message's own hosted content of that id (refs only; built
   * from the message's ids, not from the link).
   */
  path?: string;
  /** The hostedContent id from the URL path. */
  hostedContentId: string;
  /** Where in the message it was found. */
  where: 'body' | 'reaction' | 'attachment';
  /** Why it is not fetched (otherMessage). */
  reason?: string;
}

/** A hostedContents link that cannot be understood: recorded with the reason, never fetched. */
export interface UnreadableRef {
  /** The link as written (at most MAX_RECORDED_URL characters of it). */
  url: string;
  where: HostedContentRef['where'];
  reason: string;
}

export interface HostedContentScan {
  /** This message's own hosted contents, each once, with the request `path` to fetch it. */
  refs: HostedContentRef[];
  /** hostedContents URLs on another origin: recorded, never fetched with the token. */
  foreign: HostedContentRef[];
  /** Links naming another conversation's or message's hosted content: recorded, never fetched. */
  otherMessage: HostedContentRef[];
  /** hostedContents links that cannot be understood: recorded with the reason, never fetched. */
  unreadable: UnreadableRef[];
}

const HOSTED = /^(\/[^?#]*\/messages\/[^/?#]+(?:\/replies\/[^/?#]+)?\/hostedContents\/([^/?#]+)\/\$value)$/i;
/** `…/chats/{chat}/messages/{message}/hostedContents/{id}/$value` (optionally under /users/{id}). */
const CHAT_LINK = /\/chats\/([^/]+)\/messages\/([^/]+)\/hostedContents\/([^/]+)\/\$value$/i;
/** `…/teams/{team}/channels/{channel}/messages/{message}[/replies/{reply}]/hostedContents/{id}/$value`. */
const CHANNEL_LINK = /\/teams\/([^/]+)\/channels\/([^/]+)\/messages\/([^/]+)(?:\/replies\/([^/]+))?\/hostedContents\/([^/]+)\/\$value$/i;
const URL_IN_HTML = /\b(?:src|source|href)\s*=\s*"([^"]+)"/gi;
/** URL-like tokens in a card's JSON; each is then checked for a hostedContents path (linear, no backtracking). */
const URL_IN_CARD = /https:\/\/[^"\s\\]+/g;
const HOSTED_IN_TEXT = /\/hostedContents\/[^"\s\\/]+\/\$value/i;
/** Links examined per message; a message with more is recorded as unreadable beyond them. */
const MAX_LINKS = 200;
/** A longer link is not a Graph URL anyone wrote by hand or by Teams: unreadable. */
const MAX_URL = 8192;
const MAX_RECORDED_URL = 1000;

function decodeHtmlAttr(v: string): string {
  return v
    .replace(/&amp;/g, '&')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'");
}

/** decodeURIComponent, or undefined for a malformed escape (`%FF`, an encoded lone surrogate). */
export function safeDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** Where a message lives, from its own fields: what every request for its hosted contents is built from. */
interface Home {
  chatId?: string;
  teamId?: string;
  channelId?: string;
  messageId?: string;
  /** A channel reply's parent (its root post). */
  parentId?: string;
}

function nonEmpty(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function homeOf(m: Record<string, unknown>): Home {
  const identity = record(m.channelIdentity);
  const home: Home = {};
  const chatId = nonEmpty(m.chatId);
  const teamId = nonEmpty(identity?.teamId);
  const channelId = nonEmpty(identity?.channelId);
  const messageId = nonEmpty(m.id);
  const parentId = nonEmpty(m.replyToId);
  if (chatId !== undefined) home.chatId = chatId;
  if (teamId !== undefined) home.teamId = teamId;
  if (channelId !== undefined) home.channelId = channelId;
  if (messageId !== undefined) home.messageId = messageId;
  if (parentId !== undefined && parentId !== messageId) home.parentId = parentId;
  return home;
}

/** The request for hosted content `id` of this message, or a reason why none can be built. */
function ownPath(home: Home, id: string): { path: string } | { problem: string } {
  const e = encodeURIComponent;
  if (home.messageId === undefined) return { problem: 'the message has no id' };
  const tail = `/hostedContents/${e(id)}/$value`;
  if (home.chatId !== undefined) return { path: `/chats/${e(home.chatId)}/messages/${e(home.messageId)}${tail}` };
  if (home.teamId === undefined || home.channelId === undefined)
    return { problem: 'the message names neither its chat nor its team and channel' };
  const channel = `/teams/${e(home.teamId)}/channels/${e(home.channelId)}/messages`;
  return {
    path:
      home.parentId === undefined
        ? `${channel}/${e(home.messageId)}${tail}`
        : `${channel}/${e(home.parentId)}/replies/${e(home.messageId)}${tail}`,
  };
}

/** Whether a link's path names this very message; a reason otherwise. Segments are percent-decoded. */
function namesHome(pathname: string, home: Home): true | { foreign: string } | { unreadable: string } {
  const chat = CHAT_LINK.exec(pathname);
  const channel = chat ? null : CHANNEL_LINK.exec(pathname);
  if (!chat && !channel) return { unreadable: 'hostedContents link names neither a chat nor a channel message' };
  const raw = (chat ?? channel)!.slice(1);
  const parts = raw.map((p) => (p === undefined ? undefined : safeDecode(p)));
  if (raw.some((p, i) => p !== undefined && parts[i] === undefined))
    return { unreadable: 'hostedContents link is not valid percent-encoded UTF-8' };
  if (chat) {
    const [chatId, messageId] = parts;
    if (chatId !== home.chatId) return { foreign: 'names another conversation' };
    return messageId === home.messageId ? true : { foreign: 'names another message' };
  }
  const [teamId, channelId, first, reply] = parts;
  if (channelId !== home.channelId || teamId?.toLowerCase() !== home.teamId?.toLowerCase())
    return { foreign: 'names another conversation' };
  // A reply's hosted contents: `…/messages/{parent}/replies/{reply}/…`, or `…/messages/{reply}/…`.
  const same = reply === undefined ? first === home.messageId : first === home.parentId && reply === home.messageId;
  return same ? true : { foreign: 'names another message' };
}

class Scanner {
  readonly scan: HostedContentScan = { refs: [], foreign: [], otherMessage: [], unreadable: [] };
  private readonly seen = new Set<string>();
  private readonly ownIds = new Set<string>();
  private skipped = 0;

  constructor(
    private readonly graphOrigin: string,
    private readonly home: Home,
  ) {}

  add(raw: string, where: HostedContentRef['where']): void {
    if (this.seen.has(raw)) return;
    if (this.seen.size >= MAX_LINKS) {
      this.skipped++;
      return;
    }
    this.seen.add(raw);
    const unreadable = (reason: string): void => {
      this.scan.unreadable.push({ url: raw.slice(0, MAX_RECORDED_URL), where, reason });
    };
    if (raw.length > MAX_URL) return unreadable(`hostedContents link longer than ${MAX_URL} characters`);
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      // An ordinary string that merely mentions hostedContents is not a link; one that looks like it is.
      if (HOSTED_IN_TEXT.test(raw)) unreadable('hostedContents link is not a valid URL');
      return;
    }
    const m = HOSTED.exec(url.pathname);
    if (!m) return;
    const id = safeDecode(m[2] as string);
    if (url.origin !== this.graphOrigin) {
      this.scan.foreign.push({ url: raw.slice(0, MAX_RECORDED_URL), hostedContentId: id ?? (m[2] as string), where });
      return;
    }
    if (id === undefined || id === '') return unreadable('hostedContents id is not valid percent-encoded UTF-8');
    const named = namesHome(url.pathname, this.home);
    if (named !== true) {
      if ('unreadable' in named) return unreadable(named.unreadable);
      this.scan.otherMessage.push({ url: raw.slice(0, MAX_RECORDED_URL), hostedContentId: id, where, reason: named.foreign });
      return;
    }
    const own = ownPath(this.home, id);
    if ('problem' in own) return unreadable(own.problem);
    if (this.ownIds.has(id)) return;
    this.ownIds.add(id);
    this.scan.refs.push({ url: raw, hostedContentId: id, where, path: own.path });
  }

  finish(): HostedContentScan {
    if (this.skipped > 0)
      this.scan.unreadable.push({
        url: '',
        where: 'body',
        reason: `${this.skipped} more links not examined (over ${MAX_LINKS} in one message)`,
      });
    return this.scan;
  }
}

function record(o: unknown): Record<string, unknown> | undefined {
  return typeof o === 'object' && o !== null && !Array.isArray(o) ? (o as Record<string, unknown>) : undefined;
}

/** Scans one message (as Graph returned it) for hostedContents `$value` URLs. Never throws. */
export function scanHostedContents(message: unknown, graphOrigin: string): HostedContentScan {
  let m: Record<string, unknown> = {};
  let home: Home = {};
  try {
    m = record(message) ?? {};
    home = homeOf(m);
  } catch {
    // a message that cannot even be looked at: nothing below finds anything in it
  }
  const s = new Scanner(graphOrigin, home);
  try {
    const content = record(m.body)?.content;
    if (typeof content === 'string' && content.includes('hostedContents')) {
      for (const match of content.matchAll(URL_IN_HTML)) s.add(decodeHtmlAttr(match[1] as string), 'body');
    }
    if (Array.isArray(m.reactions)) {
      for (const r of m.reactions as unknown[]) {
        const url = record(r)?.reactionContentUrl;
        if (typeof url === 'string') s.add(url, 'reaction');
      }
    }
    if (Array.isArray(m.attachments)) {
      for (const a of m.attachments as unknown[]) {
        // Code snippet cards carry the snippet as a hostedContents URL inside their JSON content.
        const card = record(a)?.content;
        if (typeof card === 'string' && card.includes('hostedContents')) {
          for (const match of card.matchAll(URL_IN_CARD)) {
            const hit = HOSTED_IN_TEXT.exec(match[0]);
            if (hit) s.add(match[0].slice(0, hit.index + hit[0].length), 'attachment');
          }
        }
      }
    }
  } catch (err) {
    // Nothing above should throw; if anything does, the message still goes on, with the reason.
    s.scan.unreadable.push({ url: '', where: 'body', reason: `message could not be scanned: ${String(err).slice(0, 200)}` });
  }
  return s.finish();
}
