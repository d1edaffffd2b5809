// An HTTP proxy in front of Azurite's blob, queue and table endpoints that counts every storage
// operation by service, method and resource, so tests can check what a job costs in storage
// operations without wrapping the SDK clients (they run unchanged against the proxy). `refuse` makes
// the account refuse chosen operations (403 AuthorizationFailure, which the SDKs do not retry).
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { proxiedConnectionString } from './tcp-proxy';

export type StorageService = 'blob' | 'queue' | 'table';

export interface StorageOperation {
  service: StorageService;
  method: string;
  /** The path after the account: `container/blob…`, `Table(…)`, `queue/messages`. */
  resource: string;
  /** The `comp` query parameter (e.g. `lease`, `list`), if any. */
  comp?: string;
}

export interface CountingStorageProxy {
  connectionString: string;
  operations: StorageOperation[];
  reset(): void;
  close(): Promise<void>;
}

export async function countingStorageProxy(
  connectionString: string,
  opts: { refuse?: (op: StorageOperation) => boolean } = {},
): Promise<CountingStorageProxy> {
  const operations: StorageOperation[] = [];
  const servers: Server[] = [];
  const proxied = await proxiedConnectionString(connectionString, async (service, target) => {
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://proxy');
      const path = decodeURIComponent(url.pathname).split('/').slice(2).join('/');
      const comp = url.searchParams.get('comp');
      const op = { service, method: req.method ?? 'GET', resource: path, ...(comp ? { comp } : {}) };
      operations.push(op);
      if (opts.refuse?.(op)) {
        req.resume();
        const body =
          '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthorizationFailure</Code><Message>This request is not authorized to perform this operation. (refused by the test proxy)</Message></Error>';
        res.writeHead(403, { 'content-type': 'application/xml', 'x-ms-error-code': 'AuthorizationFailure' });
        res.end(body);
        return;
      }
      const upstream = request(
        { host: target.hostname, port: Number(target.port), method: req.method, path: req.url, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    return (server.address() as AddressInfo).port;
  });
  return {
    connectionString: proxied,
    operations,
    reset: () => {
      operations.length = 0;
    },
    close: async () => {
      for (const s of servers) s.closeAllConnections();
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}
