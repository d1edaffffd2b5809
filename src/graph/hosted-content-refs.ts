// Finds the hosted contents a chatMessage refers to (pasted images, custom emoji, code snippets,
// custom reactions): their bytes are not in the message, only `…/hostedContents/{id}/$value` URLs are.
// Only URLs on the configured Graph origin are returned for download: the bearer token never goes
// anywhere else; others are reported as foreign so the archive records why they were not fetched.

export interface HostedContentRef {
  /** The URL as written in the message (followed as-is, like a nextLink). */
  url: string;
  /** The hostedContent id from the URL path. */
  hostedContentId: string;
  /** Where in the message it was found. */
  where: 'body' | 'reaction' | 'attachment';
}

export interface HostedContentScan {
  refs: HostedContentRef[];
  /** hostedContents URLs on another origin: recorded, never fetched with the token. */
  foreign: HostedContentRef[];
}

const HOSTED = /^(\/[^?#]*\/messages\/[^/?#]+(?:\/replies\/[^/?#]+)?\/hostedContents\/([^/?#]+)\/\$value)$/i;
const URL_IN_HTML = /\b(?:src|source|href)\s*=\s*"([^"]+)"/gi;

function decodeHtmlAttr(v: string): string {
  return v
    .replace(/&amp;/g, '&')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'");
}

function classify(raw: string, where: HostedContentRef['where'], graphOrigin: string, scan: HostedContentScan, seen: Set<string>): void {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return;
  }
  const m = HOSTED.exec(url.pathname);
  if (!m || seen.has(raw)) return;
  seen.add(raw);
  const ref: HostedContentRef = { url: raw, hostedContentId: decodeURIComponent(m[2] as string), where };
  (url.origin === graphOrigin ? scan.refs : scan.foreign).push(ref);
}

/** Scans one message (as Graph returned it) for hostedContents `$value` URLs. */
export function scanHostedContents(message: unknown, graphOrigin: string): HostedContentScan {
  const scan: HostedContentScan = { refs: [], foreign: [] };
  const seen = new Set<string>();
  const m = (typeof message === 'object' && message !== null ? message : {}) as Record<string, unknown>;
  const body = m.body as { content?: unknown } | null | undefined;
  if (typeof body?.content === 'string' && body.content.includes('hostedContents')) {
    for (const match of body.content.matchAll(URL_IN_HTML)) classify(decodeHtmlAttr(match[1] as string), 'body', graphOrigin, scan, seen);
  }
  if (Array.isArray(m.reactions)) {
    for (const r of m.reactions as Array<Record<string, unknown> | null>) {
      if (typeof r?.reactionContentUrl === 'string') classify(r.reactionContentUrl, 'reaction', graphOrigin, scan, seen);
    }
  }
  if (Array.isArray(m.attachments)) {
    for (const a of m.attachments as Array<Record<string, unknown> | null>) {
      // Code snippet cards carry the snippet as a hostedContents URL inside their JSON content.
      if (typeof a?.content === 'string' && a.content.includes('hostedContents')) {
        for (const match of a.content.matchAll(/https:\/\/[^"\s\\]+\/hostedContents\/[^"\s\\/]+\/\$value/g))
          classify(match[0], 'attachment', graphOrigin, scan, seen);
      }
    }
  }
  return scan;
}
