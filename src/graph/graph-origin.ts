// The origin rule: the Graph token goes only to GRAPH_BASE_URL's origin. Links are checked before any
// request; a redirect to another origin (a pre-authenticated download URL) is followed once, over https
// only and without the token.
import { ForeignOriginError } from './graph-errors';

/** Graph redirects once (shares content → download URL); more than this is a loop. */
export const MAX_REDIRECTS = 3;

/** Where an attempt goes: the Graph origin (token, limits) or a foreign download URL (neither). */
export interface Leg {
  url: string;
  graph: boolean;
}

/** The URL to fetch for a /path under baseUrl or an absolute same-origin URL; anything else is refused. */
export function resolveGraphUrl(pathOrUrl: string, baseUrl: string, origin: string): string {
  if (pathOrUrl.startsWith('/')) return baseUrl + pathOrUrl;
  let url: URL;
  try {
    url = new URL(pathOrUrl);
  } catch {
    throw new ForeignOriginError(`refusing to request a link that is neither a /path nor an absolute URL`);
  }
  if (url.origin !== origin) {
    throw new ForeignOriginError(`refusing to send the Graph token to ${url.origin} (expected ${origin})`, { path: url.pathname });
  }
  return pathOrUrl;
}

/**
 * The leg a redirect leads to, or undefined when it must not be followed: from a download host, past
 * MAX_REDIRECTS, to an unparsable Location, or to another origin over plain http (a download URL is a
 * credential).
 */
export function redirectLeg(location: string, from: Leg, graphOrigin: string, redirectsSoFar: number): Leg | undefined {
  if (!from.graph || redirectsSoFar >= MAX_REDIRECTS) return undefined;
  let url: URL;
  try {
    url = new URL(location, from.url);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.origin !== new URL(from.url).origin) return undefined;
  return { url: url.href, graph: url.origin === graphOrigin };
}
