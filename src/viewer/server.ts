// `teams-export serve`: the viewer on a local HTTP server (loopback by default), GET and HEAD only.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ArchiveContainer } from '../archive/archive-container';
import type { AuditEvent } from '../archive/audit-trail';
import type { Logger } from '../log';
import { serverLinks } from './links';
import { cachedDirectoryNames, viewerRequest, type ViewerResponse } from './router';

export interface ViewerServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

export async function startViewerServer(o: {
  container: ArchiveContainer;
  host?: string;
  port?: number;
  log?: Logger;
  /** Records each read in the audit trail (the router calls it per page; a rejection refuses that page). */
  audit: (event: AuditEvent) => Promise<void>;
}): Promise<ViewerServer> {
  const names = cachedDirectoryNames(o.container);
  const links = serverLinks('/');
  const server = createServer((req, res) => {
    void (async () => {
      let response: ViewerResponse;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
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
      res.writeHead(response.status, response.headers);
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
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}/`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
