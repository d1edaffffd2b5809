// Who may read the archive through `teams-export serve`: only the person who started it, in their
// own browser (docs/viewer.md, "Who can open serve"). Three checks, before any page is drawn:
// - the Host header must name this server (127.0.0.1, localhost or [::1] with its port), so a page
//   whose own hostname was rebound to 127.0.0.1 (DNS rebinding) is refused;
// - a request another site's page makes (fetch, img, script) is refused by its Fetch Metadata;
// - the browser must hold the session cookie, which only the printed one-time address hands out:
//   another local user, or a page that guesses the port, has neither.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** The query parameter of the printed address that carries the one-time token. */
export const TOKEN_PARAM = 'token';

/** An answer that ends a request before it reaches the viewer (a refusal, or the sign-in redirect). */
export interface GateAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface LocalAccess {
  /** The cookie's name: one per port, so two viewers on one machine do not overwrite each other's. */
  cookieName: string;
  /** The path and query of the one-time address (`/?token=…`). */
  openPath: string;
  /** The answer to a request that may not go on to the viewer, or undefined for one that may. */
  check(req: { method?: string | undefined; url?: string | undefined; headers: IncomingHttpHeaders }): GateAnswer | undefined;
}

/** Plain text, never cached, never sniffed, no referrer. */
function answer(status: number, body: string, extra: Record<string, string> = {}): GateAnswer {
  return {
    status,
    headers: {
      'content-type': 'text/plain; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      ...extra,
    },
    body: `${body}\n`,
  };
}

/** Constant-time equality of two secrets of any length (hashes make the lengths equal). */
function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The Host values that name this server: loopback by address or name, with its port. */
function allowedHosts(port: number): Set<string> {
  const names = ['127.0.0.1', 'localhost', '[::1]'];
  // A browser leaves out the default port: http://localhost/ sends `Host: localhost`.
  return new Set([...names.map((n) => `${n}:${port}`), ...(port === 80 ? names : [])]);
}

/**
 * Fetch Metadata (sent by current browsers): a request from another origin's page is refused unless
 * it is the reader following a link to a page (a top-level GET navigation). Requests without these
 * headers (curl, older browsers) fall through to the cookie check.
 */
function fromAnotherSite(headers: IncomingHttpHeaders, method: string): boolean {
  const site = headers['sec-fetch-site'];
  if (site === undefined || site === 'same-origin' || site === 'none') return false;
  const navigation = headers['sec-fetch-mode'] === 'navigate' && headers['sec-fetch-dest'] === 'document';
  return !(navigation && (method === 'GET' || method === 'HEAD'));
}

/**
 * The checks for a viewer on `port`. The token works once; the session secret (the cookie) is a
 * different random value, so the printed address is worth nothing once opened.
 */
export function localAccess(port: number): LocalAccess {
  const token = randomBytes(32).toString('base64url');
  const session = randomBytes(32).toString('base64url');
  let tokenUsed = false;
  const hosts = allowedHosts(port);
  const cookieName = `teams-export-viewer-${port}`;
  const origin = `http://127.0.0.1:${port}`;

  return {
    cookieName,
    openPath: `/?${TOKEN_PARAM}=${token}`,
    check(req) {
      const method = req.method ?? 'GET';
      const host = (req.headers.host ?? '').toLowerCase();
      if (!hosts.has(host))
        return answer(
          421,
          `This viewer answers only at ${origin}/ (or localhost or [::1] on port ${port}). The request named another host: ` +
            'a web page may be trying to read the archive through a name that points at this machine.',
        );
      // Only origin-form targets (`/path`): an absolute URL would name a host of its own.
      if (!(req.url ?? '').startsWith('/')) return answer(400, 'Bad request target.');
      if (fromAnotherSite(req.headers, method))
        return answer(
          403,
          'This viewer does not answer requests made by other sites’ pages. Open it from the address teams-export serve printed.',
        );
      const url = new URL(req.url ?? '/', origin);
      const signedIn = (() => {
        const value = cookieValue(req.headers.cookie, cookieName);
        return value !== undefined && sameSecret(value, session);
      })();
      const offered = url.searchParams.get(TOKEN_PARAM);
      // Followed from another site's page, the cookie set here would not come back (SameSite=Strict):
      // refuse before the token is spent, and say how to open it.
      const site = req.headers['sec-fetch-site'];
      if (offered !== null && site !== undefined && site !== 'none' && site !== 'same-origin')
        return answer(
          403,
          'Paste this address into the browser’s address bar (or click it in the terminal); it cannot be opened from a web page.',
        );
      if (offered !== null) {
        url.searchParams.delete(TOKEN_PARAM);
        // The same address without the token, so the address bar, bookmarks and copied links never hold it.
        const clean = `${url.pathname}${url.search}`;
        if (!tokenUsed && sameSecret(offered, token)) {
          tokenUsed = true;
          return answer(303, 'Signed in; continue to the viewer.', {
            location: clean,
            'set-cookie': `${cookieName}=${session}; Path=/; HttpOnly; SameSite=Strict`,
          });
        }
        // Opened again in the browser that already holds the cookie: nothing to do but drop the token.
        if (signedIn) return answer(303, 'Continue to the viewer.', { location: clean });
        return answer(
          401,
          'This address has been used already (it works once), or it is not the one teams-export serve printed. ' +
            'Stop teams-export serve and start it again for a new address.',
        );
      }
      if (!signedIn)
        return answer(
          401,
          'Open the viewer from the address teams-export serve printed: it signs this browser in. ' +
            'If that address was used in another browser, stop teams-export serve and start it again for a new one.',
        );
      return undefined;
    },
  };
}
