// `teams-export serve` opens only for the person who started it (docs/viewer.md, "Who can open serve"),
// over real HTTP on loopback against an archive on Azurite: the Host must name the server, the
// printed one-time address signs one browser in with an HttpOnly SameSite=Strict cookie, every other
// request needs that cookie, other sites' requests are refused, and the port is free unless given.
import { cliAuditor } from '../../src/cli/cli-audit';
import { silentLogger } from '../../src/log';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import type { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureContainer } from '../../src/archive/archive-container';
import { writeBatch } from '../../src/archive/batch-writer';
import { batchBlobName, encodeIdSegment } from '../../src/archive/blob-layout';
import { storeContent } from '../../src/archive/content-store';
import { main } from '../../src/cli/main';
import { createStorageClients } from '../../src/storage-clients';
import { startViewerServer, type ViewerServer } from '../../src/viewer/server';
import { testStorage, type TestStorage } from '../support/storage';

const USER = 'serve-user';
const DAY = '2026-01-15';
const window = { fromMs: Date.parse('2026-01-15T00:00:00Z'), toMs: Date.parse('2026-01-16T00:00:00Z') };

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request to 127.0.0.1:port with exactly these headers (Host included), no redirects followed. */
function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, method, agent: false, headers: { host: `127.0.0.1:${port}`, ...headers } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** A request written byte for byte (no Host header, or an absolute target): the status line's code. */
function raw(port: number, text: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(text));
    let got = '';
    socket.on('data', (d) => (got += String(d)));
    socket.on('end', () => resolve(Number(/^HTTP\/1\.[01] (\d{3})/.exec(got)?.[1] ?? 0)));
    socket.on('error', reject);
  });
}

/** The port of the address the viewer prints. */
function portOf(viewer: ViewerServer): number {
  return Number(new URL(viewer.url).port);
}

/** Opens the printed address the way a browser would, and returns the cookie it was given ('' for none). */
async function signIn(viewer: ViewerServer): Promise<string> {
  const url = new URL(viewer.url);
  const res = await get(portOf(viewer), `${url.pathname}${url.search}`);
  const setCookie = res.headers['set-cookie']?.[0] ?? '';
  return setCookie.split(';')[0] as string;
}

describe('teams-export serve: who can open it', () => {
  let storage: TestStorage;
  let container: ContainerClient;
  let viewer: ViewerServer;
  let cookie: string;
  let sha: string;
  let batch: string;

  beforeAll(async () => {
    storage = testStorage('viewer-serve-access');
    container = createStorageClients({
      kind: 'connectionString',
      connectionString: storage.connectionString,
    }).blobService.getContainerClient(storage.container);
    await ensureContainer(container);
    batch = batchBlobName({ kind: 'user', id: USER }, DAY, { pass: 'fresh', window, runId: 'r1', seq: 0 });
    const message = { id: 'm1', chatId: '19:c@thread.v2', createdDateTime: `${DAY}T10:00:00Z`, lastModifiedDateTime: `${DAY}T10:00:00Z` };
    await writeBatch(container, batch, [JSON.stringify(message)], { pass: 'fresh' });
    sha = (await storeContent(container, Buffer.from('89504e470d0a1a0a', 'hex'), 'image/png')).sha256;
    viewer = await startViewerServer({ container, audit: cliAuditor({ container, log: silentLogger }, 'serve') });
    cookie = await signIn(viewer);
  });

  afterAll(async () => {
    await viewer?.close();
  });

  it('answers only Host 127.0.0.1, localhost or [::1] with its port', async () => {
    const p = portOf(viewer);
    for (const host of [`127.0.0.1:${p}`, `localhost:${p}`, `[::1]:${p}`, `LocalHost:${p}`]) {
      const res = await get(p, '/', { host, cookie });
      expect(res.status, host).toBe(200);
      expect(res.body, host).toContain(USER);
    }
    // A rebound name, the right name on another port or without one, a look-alike: refused, with a reason.
    for (const host of [`evil.test:${p}`, '127.0.0.1', `127.0.0.1:${p + 1}`, `localhost.evil.test:${p}`, `127.0.0.2:${p}`, `${p}`]) {
      const res = await get(p, '/', { host, cookie });
      expect(res.status, host).toBe(421);
      expect(res.headers['content-type'], host).toBe('text/plain; charset=utf-8');
      expect(res.body, host).toMatch(/answers only at http:\/\/127\.0\.0\.1:\d+\//);
      expect(res.body, host).not.toContain(USER);
    }
    // No Host at all (HTTP/1.0), and an absolute target naming another host.
    expect(await raw(p, `GET / HTTP/1.0\r\nCookie: ${cookie}\r\n\r\n`)).toBe(421);
    expect(await raw(p, `GET http://evil.test/ HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`)).toBe(
      400,
    );
  });

  it('prints one address whose token sets an HttpOnly, SameSite=Strict cookie and redirects to the address without it', async () => {
    const v = await startViewerServer({ container, audit: cliAuditor({ container, log: silentLogger }, 'serve') });
    try {
      const url = new URL(v.url);
      expect(url.origin).toBe(`http://127.0.0.1:${portOf(v)}`);
      const token = url.searchParams.get('token') ?? '';
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      // A deep link with the token keeps everything but the token.
      const res = await get(portOf(v), `/u/${encodeIdSegment(USER)}?from=${DAY}&token=${token}&to=${DAY}`);
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe(`/u/${encodeIdSegment(USER)}?from=${DAY}&to=${DAY}`);
      expect(res.headers['cache-control']).toBe('no-store');
      const setCookie = res.headers['set-cookie'] ?? [];
      expect(setCookie).toHaveLength(1);
      const attrs = (setCookie[0] as string).split(';').map((a) => a.trim());
      expect(attrs).toEqual(expect.arrayContaining(['HttpOnly', 'SameSite=Strict', 'Path=/']));
      const [name, value] = (attrs[0] as string).split('=') as [string, string];
      expect(name).toBe(v.cookieName);
      // The cookie is a secret of its own: the printed address is worth nothing once opened.
      expect(value).not.toBe(token);
      expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const page = await get(portOf(v), res.headers.location as string, { cookie: `${name}=${value}` });
      expect(page.status).toBe(200);
      expect(page.body).toContain(`${DAY}`);
    } finally {
      await v.close();
    }
  });

  it('accepts the token once: a second opening, even at once, gets 401 without a cookie', async () => {
    const v = await startViewerServer({ container, audit: cliAuditor({ container, log: silentLogger }, 'serve') });
    try {
      const path = `/?${new URL(v.url).searchParams.toString()}`;
      // A link to it on another site's page does not spend it (the cookie would not come back).
      for (const site of ['cross-site', 'same-site']) {
        const followed = await get(portOf(v), path, { 'sec-fetch-site': site, 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' });
        expect(followed.status, site).toBe(403);
        expect(followed.body).toMatch(/address bar/);
        expect(followed.headers['set-cookie']).toBeUndefined();
      }
      const both = await Promise.all([get(portOf(v), path), get(portOf(v), path)]);
      expect(both.map((r) => r.status).sort()).toEqual([303, 401]);
      const again = await get(portOf(v), path);
      expect(again.status).toBe(401);
      expect(again.body).toMatch(/works once/);
      expect(again.headers['set-cookie']).toBeUndefined();
      // The browser that holds the cookie is sent on to the address without the token.
      const cookieOf = both.find((r) => r.status === 303)!.headers['set-cookie']![0]!.split(';')[0]!;
      const holder = await get(portOf(v), path, { cookie: cookieOf });
      expect(holder.status).toBe(303);
      expect(holder.headers.location).toBe('/');
      expect(holder.headers['set-cookie']).toBeUndefined();
      // A guessed token is refused the same way.
      expect((await get(portOf(v), '/?token=guess')).status).toBe(401);
    } finally {
      await v.close();
    }
  });

  it('answers every other request without the cookie with 401', async () => {
    const p = portOf(viewer);
    const paths = [
      '/',
      '/index.html',
      '/assets/viewer.css',
      '/assets/viewer.js',
      '/favicon.ico',
      `/content/${sha}`,
      `/raw/${batch}?line=1`,
      `/blob/${batch}`,
      `/u/${encodeIdSegment(USER)}`,
      '/no/such/page',
    ];
    const [name = '', value = ''] = cookie.split('=');
    const other = await startViewerServer({ container, audit: cliAuditor({ container, log: silentLogger }, 'serve') });
    try {
      const wrong: Array<Record<string, string>> = [
        {},
        { cookie: `${name}=${value.slice(0, -1)}x` },
        { cookie: `${name}=` },
        { cookie: `${name.replace(String(p), String(portOf(other)))}=${value}` },
        // The cookie of another viewer on this machine.
        { cookie: (await signIn(other)).replace(other.cookieName, name) },
        { authorization: `Bearer ${value}` },
      ];
      for (const path of paths) {
        for (const headers of wrong) {
          const res = await get(p, path, headers);
          expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
          expect(res.body).not.toContain(USER);
          expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
        }
        expect((await get(p, path, {}, 'HEAD')).status, `HEAD ${path}`).toBe(401);
        expect([200, 204, 404], path).toContain((await get(p, path, { cookie })).status);
      }
      expect((await get(p, '/', {}, 'POST')).status).toBe(401);
      expect((await get(p, '/', { cookie }, 'POST')).status).toBe(405);
    } finally {
      await other.close();
    }
  });

  it('refuses requests made by other sites’ pages, and lets no other origin embed a response', async () => {
    const p = portOf(viewer);
    const meta = (site: string, mode: string, dest: string) => ({
      cookie,
      'sec-fetch-site': site,
      'sec-fetch-mode': mode,
      'sec-fetch-dest': dest,
    });
    // A fetch or an <img>/<script> from a page on another port of this machine (same site), or anywhere else.
    for (const headers of [
      meta('same-site', 'cors', 'empty'),
      meta('same-site', 'no-cors', 'image'),
      meta('same-site', 'no-cors', 'script'),
      meta('cross-site', 'cors', 'empty'),
      meta('cross-site', 'navigate', 'iframe'),
      meta('same-site', 'navigate', 'iframe'),
    ]) {
      const res = await get(p, '/', headers);
      expect(res.status, JSON.stringify(headers)).toBe(403);
      expect(res.body).not.toContain(USER);
    }
    // The reader's own pages, the address bar, and a link followed to a page.
    for (const headers of [
      meta('same-origin', 'cors', 'empty'),
      meta('none', 'navigate', 'document'),
      meta('same-site', 'navigate', 'document'),
    ])
      expect((await get(p, '/', headers)).status, JSON.stringify(headers)).toBe(200);
    for (const path of ['/', `/content/${sha}`, '/assets/viewer.js', '/nothing']) {
      const res = await get(p, path, { cookie });
      expect(res.headers['cross-origin-resource-policy'], path).toBe('same-origin');
      expect(res.headers['access-control-allow-origin'], path).toBeUndefined();
    }
    expect((await get(p, '/')).headers['cross-origin-resource-policy']).toBe('same-origin');
  });

  it('listens on a free port unless --port is given, and prints one address carrying a token', async () => {
    const env = { EXPORT_STORAGE: storage.connectionString, EXPORT_CONTAINER: storage.container, EXPORT_TABLE_PREFIX: storage.tablePrefix };
    const serve = (args: string[]) => {
      const abort = new AbortController();
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      let out = '';
      let err = '';
      stdout.on('data', (d) => (out += String(d)));
      stderr.on('data', (d) => (err += String(d)));
      const done = main(['serve', ...args], { env, stdout, stderr: stderr as unknown as NodeJS.WriteStream, signal: abort.signal });
      const printed = new Promise<string>((resolve, reject) => {
        stdout.on('data', () => out.includes('\n') && resolve(out));
        void done.then((code) => reject(new Error(`serve exited with ${code}: ${err}`)));
      });
      printed.catch(() => undefined); // awaited only where serve is expected to start

      return { printed, done, stop: () => abort.abort(), output: () => out + err };
    };
    // Two at once, without --port: each on its own free port.
    const a = serve([]);
    const b = serve([]);
    try {
      const [outA, outB] = await Promise.all([a.printed, b.printed]);
      const addresses = (text: string) => text.match(/https?:\/\/\S+/g) ?? [];
      expect(addresses(outA)).toHaveLength(1);
      expect(addresses(outB)).toHaveLength(1);
      const [urlA, urlB] = [new URL(addresses(outA)[0]!), new URL(addresses(outB)[0]!)];
      expect(urlA.hostname).toBe('127.0.0.1');
      expect(urlA.port).not.toBe(urlB.port);
      expect(urlA.searchParams.get('token')).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(urlA.searchParams.get('token')).not.toBe(urlB.searchParams.get('token'));
      expect((await get(Number(urlA.port), `/?${urlA.searchParams}`)).status).toBe(303);
    } finally {
      a.stop();
      b.stop();
    }
    await expect(a.done).resolves.toBe(0);
    await expect(b.done).resolves.toBe(0);

    // --port N: that port; a port in use or out of range: exit 2 with the reason.
    const taken = createTcpServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const busy = (taken.address() as AddressInfo).port;
    try {
      const inUse = serve(['--port', String(busy)]);
      await expect(inUse.done).resolves.toBe(2);
      expect(inUse.output()).toMatch(new RegExp(`port ${busy} is in use`));
    } finally {
      await new Promise((r) => taken.close(r));
    }
    const given = serve(['--port', String(busy)]);
    try {
      expect(await given.printed).toContain(`http://127.0.0.1:${busy}/?token=`);
    } finally {
      given.stop();
    }
    await expect(given.done).resolves.toBe(0);
    for (const bad of ['0', '70000', 'x']) {
      const r = serve(['--port', bad]);
      await expect(r.done, bad).resolves.toBe(2);
      expect(r.output()).toMatch(/--port must be a whole number from 1 to 65535/);
    }
  });
});
