// `teams-export serve`: the viewer on a local HTTP server, GET and HEAD only, for the person who
// started it (docs/viewer.md, "Who can open serve"): it listens on 127.0.0.1 only, on a free port
// unless one is given, and every request passes the checks of local-access.ts first.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ArchiveContainer } from '../archive/archive-container';
import type { AuditEvent } from '../archive/audit-trail';
import type { Logger } from '../log';
import { serverLinks } from './links';
import { localAccess, type LocalAccess } from './local-access';
import { cachedDirectoryNames, viewerRequest, type ViewerResponse } from './router';

export interface ViewerServer {
  /** The one-time address to print: opening it signs one browser in. */
  url: string;
  /** `http://127.0.0.1:{port}`, for building other addresses (they need the cookie). */
  origin: string;
  port: number;
  /** The session cookie's name (tests read it from the browser). */
  cookieName: string;
  server: Server;
  close(): Promise<void>;
}

/**
 * On every response: no other origin may embed or load it (an <img> or <script> from another
 * page of the same site would otherwise get the cookie), and no window of another origin keeps a
 * handle on the viewer's.
 */
const ISOLATION_HEADERS = {
  'cross-origin-resource-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
};

export async function startViewerServer(o: {
  container: ArchiveContainer;
  /** 0 or undefined: any free port. */
  port?: number;
  log?: Logger;
  /** Records each read in the audit trail (the router calls it per page; a rejection refuses that page). */
  audit: (event: AuditEvent) => Promise<void>;
}): Promise<ViewerServer> {
  const names = cachedDirectoryNames(o.container);
  const links = serverLinks('/');
  // Set once the OS has chosen the port (the checks need it); until then every request is refused.
  const gate: { access?: LocalAccess } = {};
  const server = createServer((req, res) => {
    void (async () => {
      let response: ViewerResponse;
      const refused = gate.access
        ? gate.access.check(req)
        : { status: 503, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'starting\n' };
      if (refused) {
        response = refused;
      } else if (req.method !== 'GET' && req.method !== 'HEAD') {
        response = {
          status: 405,
          headers: { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' },
          body: 'read-only viewer: GET only\n',
        };
      } else {
        const url = new URL(req.url ?? '/', 'http://viewer.invalid');
        let path: string;
        try {
          path = decodeURIComponent(url.pathname).replace(/^\/+/, '');
        } catch {
          path = '\u0000';
        }
        const abort = new AbortController();
        res.once('close', () => abort.abort());
        response = await viewerRequest(
          { container: o.container, links, names, signal: abort.signal, audit: o.audit, ...(o.log ? { log: o.log } : {}) },
          path,
          url.searchParams,
        );
      }
      res.writeHead(response.status, { ...response.headers, ...ISOLATION_HEADERS });
      if (req.method === 'HEAD') return res.end();
      const body = response.body;
      if (typeof body === 'string' || Buffer.isBuffer(body)) return res.end(body);
      try {
        for await (const chunk of body) if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
      } finally {
        res.end();
      }
    })().catch((err: unknown) => {
      o.log?.error('viewer response failed', { error: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', ...ISOLATION_HEADERS });
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Loopback only: nothing off this machine can connect.
    server.listen(o.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const access = localAccess(port);
  gate.access = access;
  const origin = `http://127.0.0.1:${port}`;
  return {
    url: `${origin}${access.openPath}`,
    origin,
    port,
    cookieName: access.cookieName,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
