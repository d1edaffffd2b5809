// A web page the investigator opens must not read the archive `teams-export serve` shows (docs/viewer.md,
// "Who can open serve"), in a real browser (Debian's chromium, playwright-core): a page whose hostname
// is rebound to 127.0.0.1 (DNS rebinding, simulated with Chromium's host resolver rules and a server
// that hands its port over to the viewer), and pages of other origins on this machine and elsewhere.
import { cliAuditor } from '../../src/cli/cli-audit';
import { silentLogger } from '../../src/log';

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ContainerClient } from '@azure/storage-blob';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureContainer } from '../../src/archive/archive-container';
import { writeBatch } from '../../src/archive/batch-writer';
import { batchBlobName } from '../../src/archive/blob-layout';
import { storeContent } from '../../src/archive/content-store';
import { createStorageClients } from '../../src/storage-clients';
import { startViewerServer, type ViewerServer } from '../../src/viewer/server';
import { testStorage } from '../support/storage';
import { CHROMIUM, HAVE_CHROMIUM, launchChromium } from '../support/browser';

if (!HAVE_CHROMIUM) console.warn(`viewer rebinding browser tests SKIPPED: ${CHROMIUM} is not installed (apt-get install chromium)`);

const USER = 'rebind-user';
const DAY = '2026-01-15';
const window = { fromMs: Date.parse('2026-01-15T00:00:00Z'), toMs: Date.parse('2026-01-16T00:00:00Z') };

/** What the viewer answered, seen from the server: the browser hides most of it from a page. */
interface Seen {
  url: string;
  host: string;
  site: string | undefined;
  withCookie: boolean;
  status: number;
}

function record(viewer: ViewerServer): Seen[] {
  const seen: Seen[] = [];
  viewer.server.on('request', (req, res) =>
    res.on('finish', () =>
      seen.push({
        url: req.url ?? '',
        host: req.headers.host ?? '',
        site: req.headers['sec-fetch-site'] as string | undefined,
        withCookie: viewer.cookieName !== undefined && (req.headers.cookie ?? '').includes(`${viewer.cookieName}=`),
        status: res.statusCode,
      }),
    ),
  );
  return seen;
}

/** A page that means harm, served for any host name. */
async function startHostile(port = 0): Promise<Server> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>hostile</title><p>Nothing to see here.</p>');
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

function stop(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** What a page's own script gets from fetch(url): the status and text, or the error the browser raised. */
function read(page: Page, url: string, init: RequestInit = {}): Promise<{ status?: number; type?: string; text?: string; error?: string }> {
  return page.evaluate(
    async ([u, i]) => {
      try {
        const r = await fetch(u, i);
        return { status: r.status, type: r.type, text: await r.text() };
      } catch (e) {
        return { error: String(e) };
      }
    },
    [url, init] as const,
  );
}

describe.skipIf(!HAVE_CHROMIUM)('serve in a real browser: no other page can read it', { timeout: 120_000 }, () => {
  let container: ContainerClient;
  let browser: Browser;
  let sha: string;

  beforeAll(async () => {
    const s = testStorage('viewer-rebinding');
    container = createStorageClients({ kind: 'connectionString', connectionString: s.connectionString }).blobService.getContainerClient(
      s.container,
    );
    await ensureContainer(container);
    const batch = batchBlobName({ kind: 'user', id: USER }, DAY, { pass: 'fresh', window, runId: 'r1', seq: 0 });
    const message = { id: 'm1', chatId: '19:c@thread.v2', createdDateTime: `${DAY}T10:00:00Z`, lastModifiedDateTime: `${DAY}T10:00:00Z` };
    await writeBatch(container, batch, [JSON.stringify(message)], { pass: 'fresh' });
    // A real PNG (1×1), so an <img> that is let through would load.
    const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==', 'base64');
    sha = (await storeContent(container, png, 'image/png')).sha256;
    // evil.test is the attacker's name; here it resolves to this machine, as after a rebinding.
    browser = await launchChromium(['--host-resolver-rules=MAP evil.test 127.0.0.1']);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
  });

  /** The investigator's browser, signed in from the printed address; a control that it reads the archive. */
  async function investigator(viewer: ViewerServer): Promise<BrowserContext> {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(viewer.url);
    expect(page.url()).not.toContain('token=');
    await expect(page.locator('body').innerText()).resolves.toContain(USER);
    // The script of the viewer's own page cannot read the cookie either.
    await expect(page.evaluate(() => document.cookie)).resolves.toBe('');
    await page.close();
    return context;
  }

  it('refuses a page whose hostname was rebound to the viewer (DNS rebinding)', async () => {
    // The attacker's page is loaded from evil.test:P; then evil.test:P reaches the viewer instead.
    const hostile = await startHostile();
    const port = (hostile.address() as AddressInfo).port;
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`http://evil.test:${port}/`);
    await expect(page.title()).resolves.toBe('hostile');
    await stop(hostile);
    const viewer = await startViewerServer({ container, port, audit: cliAuditor({ container, log: silentLogger }, 'serve') });
    const seen = record(viewer);
    try {
      const own = await investigator(viewer);
      await own.close();
      seen.length = 0;
      // Same origin as far as the browser knows: nothing stops the page's script but the viewer.
      for (const path of ['/', `/u/${USER}`, `/content/${sha}`]) {
        const got = await read(page, path);
        expect(got.status, path).toBe(421);
        expect(got.text, path).not.toContain(USER);
        expect(got.text, path).toMatch(/answers only at http:\/\/127\.0\.0\.1:/);
      }
      expect(seen.length).toBeGreaterThanOrEqual(3);
      for (const s of seen) {
        expect(s.host).toBe(`evil.test:${port}`);
        expect(s.status).toBe(421);
      }
    } finally {
      await context.close();
      await viewer.close();
    }
  });

  it('refuses fetches and images from other origins: another port of this machine, or another site', async () => {
    const viewer = await startViewerServer({ container, audit: cliAuditor({ container, log: silentLogger }, 'serve') });
    const seen = record(viewer);
    const hostile = await startHostile();
    const h = (hostile.address() as AddressInfo).port;
    const context = await investigator(viewer);
    try {
      const viewerOrigin = new URL(viewer.url).origin;
      const target = `${viewerOrigin}/`;
      for (const [origin, sameSite] of [
        [`http://127.0.0.1:${h}`, true],
        [`http://evil.test:${h}`, false],
      ] as const) {
        const page = await context.newPage();
        await page.goto(`${origin}/`);
        seen.length = 0;
        const credentialed = await read(page, target, { credentials: 'include' });
        expect(credentialed.error, origin).toMatch(/Failed to fetch/);
        // Without CORS: Cross-Origin-Resource-Policy makes the browser drop the answer (an opaque one at most).
        const opaque = await read(page, target, { mode: 'no-cors', credentials: 'include' });
        expect(opaque.error ?? opaque.type, origin).toMatch(/Failed to fetch|^opaque$/);
        expect(opaque.text ?? '', origin).toBe('');
        // An image of the archive, embedded in the hostile page.
        const loaded = await page.evaluate(
          (src) =>
            new Promise<boolean>((resolve) => {
              const img = document.createElement('img');
              img.onload = () => resolve(img.naturalWidth > 0);
              img.onerror = () => resolve(false);
              img.src = src;
              document.body.append(img);
            }),
          `${viewerOrigin}/content/${sha}`,
        );
        expect(loaded, origin).toBe(false);
        // The viewer refused each one itself; the browser sent the cookie only within the site.
        const got = seen.filter((s) => s.url === '/' || s.url.startsWith('/content/'));
        expect(got.length, origin).toBeGreaterThanOrEqual(3);
        for (const s of got) {
          expect(s.status, `${origin} ${s.url}`).toBe(403);
          expect(s.withCookie, `${origin} ${s.url}`).toBe(sameSite);
          expect(s.site, `${origin} ${s.url}`).toBe(sameSite ? 'same-site' : 'cross-site');
        }
        await page.close();
      }
      // The cookie the printed address set: HttpOnly, SameSite=Strict, for 127.0.0.1 only.
      const cookies = await context.cookies();
      expect(cookies.map((c) => [c.name, c.domain, c.httpOnly, c.sameSite])).toEqual([[viewer.cookieName, '127.0.0.1', true, 'Strict']]);
    } finally {
      await context.close();
      await stop(hostile);
      await viewer.close();
    }
  });
});
