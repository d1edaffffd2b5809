// A counting HTTP proxy in front of one Azurite service (bench/scale-bench.ts): every request the
// product or the bench's stand-in for the Functions host sends to Table or Queue Storage passes through
// it, so the counts are the storage operations actually made (retries and ETag conflicts included),
// whichever SDK client, policy or helper made them.
import { createServer, request as httpRequest, Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OpCounts {
  /** Every request forwarded. */
  total: number;
  /** By `{METHOD} {resource}`: the table (or queue) named by the path's first segment, keys cut off. */
  byOp: Record<string, number>;
  /** Answers with status >= 400, by `{status} {METHOD} {resource}` (412: an ETag-conditional write lost a race). */
  failures: Record<string, number>;
}

export interface CountingProxy {
  /** The proxy's endpoint with the account path, e.g. http://127.0.0.1:PORT/devstoreaccount1 */
  endpoint: string;
  counts: OpCounts;
  /** A copy of the counts now (to subtract later: see diffCounts). */
  snapshot(): OpCounts;
  stop(): Promise<void>;
}

export function emptyCounts(): OpCounts {
  return { total: 0, byOp: {}, failures: {} };
}

export function diffCounts(after: OpCounts, before: OpCounts): OpCounts {
  const sub = (a: Record<string, number>, b: Record<string, number>) => {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(a)) if (v - (b[k] ?? 0) !== 0) out[k] = v - (b[k] ?? 0);
    return out;
  };
  return { total: after.total - before.total, byOp: sub(after.byOp, before.byOp), failures: sub(after.failures, before.failures) };
}

/**
 * What a request touched, without its keys: `tExportRuns(key)` for a point operation on one row,
 * `tExportJobs` for a query (or an insert), a queue's name with `/messages`, a blob's container.
 */
export function resourceOf(url: string): string {
  const path = decodeURIComponent(url.split('?')[0] ?? '');
  // Azurite paths carry the account name first.
  const [first = '', second] = path.split('/').filter(Boolean).slice(1);
  const name = first.replace(/\(.*$/, '');
  if (/\(PartitionKey=/i.test(first)) return `${name}(key)`;
  return second === 'messages' ? `${name}/messages` : name;
}

/** Starts the proxy forwarding to `target` (an Azurite endpoint such as http://127.0.0.1:PORT/devstoreaccount1). */
export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const t = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const counts = emptyCounts();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const key = `${req.method ?? 'GET'} ${resourceOf(req.url ?? '/')}`;
    counts.total++;
    counts.byOp[key] = (counts.byOp[key] ?? 0) + 1;
    // The body is buffered (storage requests here are small), so a request sent on a kept-alive socket
    // that Azurite closed meanwhile can be sent again: the product sent it once and sees one answer.
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const send = (retry: boolean) => {
        const upstream = httpRequest(
          { host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers, agent },
          (up) => {
            const status = up.statusCode ?? 502;
            if (status >= 400) counts.failures[`${status} ${key}`] = (counts.failures[`${status} ${key}`] ?? 0) + 1;
            res.writeHead(status, up.headers);
            up.pipe(res);
          },
        );
        upstream.on('error', (err) => {
          if (retry && upstream.reusedSocket) return send(false);
          if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(String(err));
        });
        upstream.end(body);
      };
      send(true);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}${t.pathname.replace(/\/$/, '')}`,
    counts,
    snapshot: () => ({ total: counts.total, byOp: { ...counts.byOp }, failures: { ...counts.failures } }),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}
