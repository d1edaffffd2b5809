// A tiny HTTPS server on 127.0.0.1 for client tests: each test scripts the replies (status, headers,
// body, raw bytes, delays, hangs, connection resets) and reads back every request it received.

import https from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';
import { generate } from 'selfsigned';

export interface RecordedRequest {
  method: string;
  /** Path and query exactly as sent on the request line. */
  url: string;
  /** Path without query. */
  path: string;
  headers: IncomingHttpHeaders;
  /** performance.now() when the request arrived. */
  at: number;
}

export type Reply =
  | {
      status?: number;
      headers?: Record<string, string>;
      /** Objects are sent as JSON; strings are sent as they are (for malformed bodies). */
      body?: unknown;
      /** Wait this long before answering. */
      delayMs?: number;
    }
  /** Never answer (the client must time out). */
  | { hang: true }
  /** Destroy the connection without answering. */
  | { reset: true };

export type Handler = (req: RecordedRequest) => Reply | Promise<Reply>;

export interface HttpsTestServer {
  /** e.g. https://127.0.0.1:49152 */
  readonly origin: string;
  readonly requests: RecordedRequest[];
  /** Replies used in order for the next requests; when none is queued the handler answers. */
  enqueue(...replies: Reply[]): void;
  /** The fallback for requests without a queued reply (default: 404 with a Graph-style error). */
  handle(handler: Handler): void;
  close(): Promise<void>;
}

let certificate: Promise<{ key: string; cert: string }> | undefined;

/**
 * One self-signed certificate per test process (SAN IP 127.0.0.1), trusted in-process so Node's
 * global fetch accepts it without disabling verification.
 */
function trustedCertificate(): Promise<{ key: string; cert: string }> {
  certificate ??= (async () => {
    const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      extensions: [
        { name: 'basicConstraints', cA: true },
        { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
      ],
    });
    tls.setDefaultCACertificates([...tls.getCACertificates('default'), pems.cert]);
    return { key: pems.private, cert: pems.cert };
  })();
  return certificate;
}

const notFound: Handler = () => ({
  status: 404,
  body: { error: { code: 'NotFound', message: 'no scripted reply', innerError: { 'request-id': 'test-server' } } },
});

export async function startHttpsTestServer(): Promise<HttpsTestServer> {
  const { key, cert } = await trustedCertificate();
  const requests: RecordedRequest[] = [];
  const queue: Reply[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let handler: Handler = notFound;

  const server = https.createServer({ key, cert }, (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      url,
      path: url.split('?')[0] ?? url,
      headers: req.headers,
      at: performance.now(),
    };
    requests.push(recorded);
    req.resume();
    void (async () => {
      const reply = queue.length > 0 ? (queue.shift() as Reply) : await handler(recorded);
      if ('hang' in reply) return;
      if ('reset' in reply) {
        req.socket.destroy();
        return;
      }
      if (reply.delayMs) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            timers.delete(t);
            resolve();
          }, reply.delayMs);
          timers.add(t);
        });
      }
      if (res.destroyed) return;
      const isText = typeof reply.body === 'string';
      const payload = reply.body === undefined ? '' : isText ? (reply.body as string) : JSON.stringify(reply.body);
      res.writeHead(reply.status ?? 200, {
        'content-type': 'application/json',
        ...reply.headers,
      });
      res.end(payload);
    })().catch((err: unknown) => {
      res.destroy(err instanceof Error ? err : new Error(String(err)));
    });
  });
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    origin: `https://127.0.0.1:${port}`,
    requests,
    enqueue: (...replies) => queue.push(...replies),
    handle: (h) => {
      handler = h;
    },
    close: async () => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
