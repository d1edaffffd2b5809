// A TCP proxy on 127.0.0.1 between the product and a server (Azurite's blob/table/queue ports), so a
// test can make storage unavailable mid-run without losing Azurite's in-memory data: cut() drops every
// open connection and refuses new ones (the listener is closed), restore() listens again on the same port.
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** Connections accepted so far (while not cut). */
  readonly accepted: number;
  readonly isCut: boolean;
  /** Destroys every open connection and stops listening: new connections are refused. */
  cut(): Promise<void>;
  /** Listens again on the same port. */
  restore(): Promise<void>;
  /**
   * Stops forwarding bytes without closing anything: open and new connections stay up but get no
   * answer (a hung request, as opposed to cut()'s refused ones). Lasts until close().
   */
  stall(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let cut = false;
  let stalled = false;
  const pairs = new Set<[Socket, Socket]>();
  let server: Server | undefined;
  let port = 0;

  const onConnection = (client: Socket) => {
    accepted++;
    const upstream = connect(target.port, target.host);
    const pair: [Socket, Socket] = [client, upstream];
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
      pairs.delete(pair);
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    if (stalled) return;
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
  };

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer(onConnection);
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        server = s;
        port = (s.address() as AddressInfo).port;
        resolve();
      });
    });

  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      sockets.clear();
      if (!server) return resolve();
      const s = server;
      server = undefined;
      s.close(() => resolve());
    });

  await listen();
  return {
    get port() {
      return port;
    },
    get accepted() {
      return accepted;
    },
    get isCut() {
      return cut;
    },
    async cut() {
      cut = true;
      await stop();
    },
    async restore() {
      if (!cut) return;
      // The port was ours a moment ago; retry briefly in case the kernel has not released it yet.
      for (let i = 0; ; i++) {
        try {
          await listen();
          break;
        } catch (err) {
          if (i >= 20) throw err;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      cut = false;
    },
    stall() {
      stalled = true;
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
      pairs.clear();
    },
    close: stop,
  };
}

/**
 * Rewrites the blob, queue and table endpoints of a connection string to the ports `proxy` returns
 * for them (one proxy per endpoint), keeping the account path and every other part.
 */
export async function proxiedConnectionString(
  connectionString: string,
  proxy: (service: 'blob' | 'queue' | 'table', target: URL) => Promise<number>,
): Promise<string> {
  const parts: string[] = [];
  let proxied = 0;
  for (const part of connectionString.split(';')) {
    const m = /^(BlobEndpoint|QueueEndpoint|TableEndpoint)=(.*)$/i.exec(part.trim());
    if (!m) {
      parts.push(part);
      continue;
    }
    const url = new URL(m[2] as string);
    const service = (m[1] as string).slice(0, -'Endpoint'.length).toLowerCase() as 'blob' | 'queue' | 'table';
    url.port = String(await proxy(service, new URL(url.toString())));
    proxied++;
    parts.push(`${m[1]}=${url.toString().replace(/\/$/, '')}`);
  }
  if (proxied === 0) throw new Error('the connection string names no endpoints to proxy');
  return parts.join(';');
}

/** Proxies for the blob, queue and table endpoints of a connection string, and the rewritten string. */
export async function proxyStorage(
  connectionString: string,
): Promise<{ connectionString: string; proxies: TcpProxy[]; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }> {
  const proxies: TcpProxy[] = [];
  const proxiedString = await proxiedConnectionString(connectionString, async (_service, url) => {
    const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) });
    proxies.push(proxy);
    return proxy.port;
  });
  return {
    connectionString: proxiedString,
    proxies,
    cut: async () => {
      await Promise.all(proxies.map((p) => p.cut()));
    },
    restore: async () => {
      await Promise.all(proxies.map((p) => p.restore()));
    },
    close: async () => {
      await Promise.all(proxies.map((p) => p.close()));
    },
  };
}
