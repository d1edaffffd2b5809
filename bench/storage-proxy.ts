// A small HTTP proxy in front of Azurite's Blob, Queue and Table endpoints, for the benchmark only: it
// counts the product's storage operations (one per HTTP request; a table $batch is one) and attributes
// them to entities by the object ids in the request path, and it can delay every request by a fixed
// latency, as real Blob Storage has (a few ms) and in-memory Azurite has not. The product only sees a
// different connection string: no bench code runs inside it.
import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { azuriteConnectionString, type AzuriteProcess } from '../emulator/azurite-process';

export interface StorageCounts {
  total: number;
  byService: Record<'blob' | 'queue' | 'table', number>;
  /** "METHOD service" → count (e.g. "PUT blob", "POST table" for batches and inserts) */
  byKind: Record<string, number>;
  /** storage requests whose path names an object id (entity ids are GUIDs), per id */
  byEntity: Record<string, number>;
}

export interface StorageProxy {
  connectionString: string;
  counts(): StorageCounts;
  reset(): void;
  /** Changes the latency added to every request from now on. */
  setLatencyMs(ms: number): void;
  stop(): Promise<void>;
}

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

function emptyCounts(): StorageCounts {
  return { total: 0, byService: { blob: 0, queue: 0, table: 0 }, byKind: {}, byEntity: {} };
}

export async function startStorageProxy(azurite: AzuriteProcess, opts: { latencyMs?: number } = {}): Promise<StorageProxy> {
  let latencyMs = opts.latencyMs ?? 0;
  let counts = emptyCounts();
  // Idle sockets are dropped well before Azurite's own keep-alive timeout (5 s) closes them.
  const agent = new Agent({ keepAlive: true, maxSockets: 256, timeout: 4000 });
  const servers: Server[] = [];

  const listen = async (service: 'blob' | 'queue' | 'table', endpoint: string): Promise<string> => {
    const upstream = new URL(endpoint);
    // The body is buffered (storage requests here are small) so a request that met a keep-alive socket
    // the upstream had just closed can be sent again once, as a client's retry would.
    const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer, retry: boolean) => {
      const up = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.rawHeaders);
          upRes.pipe(res);
        },
      );
      up.on('error', (err) => {
        if (retry && !res.headersSent) return forward(req, res, body, false);
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`storage proxy: ${err.message}`);
      });
      up.end(body);
    };
    const receive = (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        if (latencyMs > 0) setTimeout(() => forward(req, res, body, true), latencyMs);
        else forward(req, res, body, true);
      });
    };
    const server = createServer((req, res) => {
      counts.total++;
      counts.byService[service]++;
      const kind = `${req.method ?? 'GET'} ${service}`;
      counts.byKind[kind] = (counts.byKind[kind] ?? 0) + 1;
      let path = req.url ?? '';
      try {
        path = decodeURIComponent(path.split('?')[0] ?? '');
      } catch {
        // an undecodable path is counted, not attributed
      }
      for (const id of new Set(path.toLowerCase().match(GUID) ?? [])) counts.byEntity[id] = (counts.byEntity[id] ?? 0) + 1;
      receive(req, res);
    });
    server.keepAliveTimeout = 30_000;
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    return `http://127.0.0.1:${port}${upstream.pathname}`;
  };

  const [blobEndpoint, queueEndpoint, tableEndpoint] = await Promise.all([
    listen('blob', azurite.blobEndpoint),
    listen('queue', azurite.queueEndpoint),
    listen('table', azurite.tableEndpoint),
  ]);
  return {
    connectionString: azuriteConnectionString({ blobEndpoint, queueEndpoint, tableEndpoint }),
    counts: () => counts,
    reset: () => {
      counts = emptyCounts();
    },
    setLatencyMs: (ms) => {
      latencyMs = ms;
    },
    stop: async () => {
      agent.destroy();
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.closeAllConnections();
              s.close(() => resolve());
            }),
        ),
      );
    },
  };
}
