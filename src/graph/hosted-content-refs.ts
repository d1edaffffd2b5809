// Finds the hosted contents a chatMessage refers to (pasted images, custom emoji, code snippets,
// custom reactions): their bytes are not in the message, only `…/hostedContents/{id}/$value` URLs are.
// Only URLs on the configured Graph origin are returned for download: the bearer token never goes
// anywhere else; others are reported as foreign so the archive records why they were not fetched.
// The message is whatever a participant wrote: this scan never throws, whatever it is given (malformed
// percent-escapes, lone surrogates, wrong types, megabyte bodies); a link it cannot understand is
// reported as unreadable, with the reason, and never fetched (docs/graph.md §10).

export interface HostedContentRef {
  /** The URL as written in the message. */
  url: string;
  /** The hostedContent id from the URL path. */
  hostedContentId: string;
  /** Where in the message it was found. */
  where: 'body' | 'reaction' | 'attachment';
}

/** A hostedContents link that cannot be understood: recorded with the reason, never fetched. */
export interface UnreadableRef {
  /** The link as written (at most MAX_RECORDED_URL characters of it). */
  url: string;
  where: HostedContentRef['where'];
  reason: string;
}

export interface HostedContentScan {
  refs: HostedContentRef[];
  /** hostedContents URLs on another origin: recorded, never fetched with the token. */
  foreign: HostedContentRef[];
  /** hostedContents links that cannot be understood: recorded with the reason, never fetched. */
  unreadable: UnreadableRef[];
}

const HOSTED = /^(\/[^?#]*\/messages\/[^/?#]+(?:\/replies\/[^/?#]+)?\/hostedContents\/([^/?#]+)\/\$value)$/i;
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

class Scanner {
  readonly scan: HostedContentScan = { refs: [], foreign: [], unreadable: [] };
  private readonly seen = new Set<string>();
  private skipped = 0;

  constructor(private readonly graphOrigin: string) {}

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
    if (id === undefined || id === '') return unreadable('hostedContents id is not valid percent-encoded UTF-8');
    const ref: HostedContentRef = { url: raw, hostedContentId: id, where };
    (url.origin === this.graphOrigin ? this.scan.refs : this.scan.foreign).push(ref);
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
  const s = new Scanner(graphOrigin);
  try {
    const m = record(message) ?? {};
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
