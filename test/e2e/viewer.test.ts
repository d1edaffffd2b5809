// The archive viewer in a real browser (Debian's chromium driven by playwright-core) over an archive
// written by the real pipeline (Graph emulator + Azurite): a channel thread, an edited and a deleted
// message, reactions, an inline image, hostile message bodies, bad addresses, the HTTP function, and
// the offline transcript folder opened from disk. Screenshots go to test-output/viewer/.
import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { type Browser, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAppContext } from '../../src/app/app-context';
import { writeBatch } from '../../src/archive/batch-writer';
import { batchBlobName, encodeIdSegment } from '../../src/archive/blob-layout';
import { htmlToText } from '../../src/archive/render-text';
import { main } from '../../src/cli/main';
import { HOSTILE_BODIES, postHostileMessages } from '../../emulator/hostile-bodies';
import { silentLogger } from '../../src/log';
import { DAY, HOUR, iso, utcDay } from '../../src/time';
import { serverLinks } from '../../src/viewer/links';
import { MESSAGES_PER_PAGE } from '../../src/viewer/pages';
import { startViewerServer, type ViewerServer } from '../../src/viewer/server';
import { viewerRequest } from '../../src/viewer/router';
import { NO_NAMES } from '../../src/archive/viewer-names';
import { createViewerHandler } from '../../functions/viewer';
import { startHarness, type Harness } from '../support/harness';
import { PLATFORM_AUTH_ENV, principalHeaders } from '../support/principal';
import { CHROMIUM, HAVE_CHROMIUM, launchChromium, watch } from '../support/browser';
import { cliAuditor } from '../../src/cli/cli-audit';
import { loadSettings } from '../../src/settings';

if (!HAVE_CHROMIUM)
  console.warn(`viewer browser tests SKIPPED: ${CHROMIUM} is not installed (apt-get install chromium; .ci/run installs it)`);

const OUT = resolve(__dirname, '../../test-output/viewer');
const links = serverLinks('/');

type Json = Record<string, unknown>;

// Generous per-test time: a loaded CI machine runs a browser, Azurite and the emulator at once.
describe.skipIf(!HAVE_CHROMIUM)('viewer in a real browser', { timeout: 180_000 }, () => {
  let h: Harness;
  let viewer: ViewerServer;
  /** The browser's session cookie, for requests made from the test itself. */
  let cookie: string;
  let browser: Browser;
  let context: BrowserContext;
  const t0 = Date.now();
  const at = t0 - 90 * 60_000;
  const day = utcDay(at);
  let user: { id: string; displayName: string };
  let chatId: string;
  let edited: { id: string; before: string };
  let deleted: { id: string; text: string };
  let reacted: { id: string; by: string };
  let hostileIds: string[];
  let team: { id: string; channelId: string; rootId: string; replyId: string };
  let image: { entity: 'user' | 'team'; entityId: string; conversationId: string; id: string; day: string } | undefined;

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    h = await startHarness({
      label: 'viewer',
      tenant: {
        seed: 11,
        users: 6,
        teams: 1,
        channelsPerTeam: 2,
        oneOnOneChats: 2,
        groupChats: 2,
        meetingChats: 0,
        messagesPerChat: 10,
        postsPerChannel: 4,
        repliesPerPost: 2,
        historyDays: 3,
        endMs: t0 - 3 * HOUR,
        editFraction: 0,
        deleteFraction: 0,
        reactionFraction: 0.2,
        hostedContentFraction: 0.5,
        fileFraction: 0.3,
      },
      env: { EXPORT_ATTACHMENTS: 'true' },
    });
    const tenant = h.emulator.tenant;
    expect((await h.daily(t0 - 2 * HOUR)).status).toBe('succeeded');

    // People change things between two runs: an edit, a deletion, a reaction, hostile posts, a new thread.
    const u = tenant.users.find(
      (x) => x.hasTeamsData && x.accountEnabled && tenant.chats.some((c) => c.kind === 'group' && c.memberIds.includes(x.id)),
    );
    const chat = tenant.chats.find((c) => c.kind === 'group' && u && c.memberIds.includes(u.id));
    if (!u || !chat) throw new Error('seed has no group chat for a user with Teams data');
    user = u;
    chatId = chat.id;
    const mine = tenant
      .currentVersions({ kind: 'user', id: u.id })
      .map((v) => v.message)
      .filter((m) => m.chatId === chat.id && m.messageType === 'message' && typeof (m.body as Json).content === 'string')
      .sort((a, b) => String(a.createdDateTime).localeCompare(String(b.createdDateTime)));
    const text = (m: Json) => htmlToText(String((m.body as Json).content));
    const [m0, m1, m2] = mine as [Json, Json, Json];
    // The start of the old text (a custom emoji at its end shows as an image, not as its name).
    edited = { id: String(m0.id), before: (text(m0).split('\n')[0] as string).slice(0, 12) };
    tenant.editMessage(chat.id, edited.id, 'Edited: the viewer shows this new text', at);
    deleted = { id: String(m1.id), text: text(m1).split('\n')[0] as string };
    tenant.deleteMessage(chat.id, deleted.id, at + 1000);
    const reactor = tenant.users.find((x) => x.id !== u.id && chat.memberIds.includes(x.id)) ?? u;
    reacted = { id: String(m2.id), by: reactor.displayName };
    tenant.addReaction(chat.id, reacted.id, reactor.id, '👍', at + 2000);
    hostileIds = postHostileMessages(tenant, { chatId: chat.id }, at + 10_000, u.id);
    const t = tenant.teams[0]!;
    const channelId = t.channels[0]!.id;
    const rootId = tenant.postMessage({ teamId: t.id, channelId }, { text: 'Viewer thread root check', atMs: at + 20_000 });
    const replyId = tenant.postMessage(
      { teamId: t.id, channelId, replyToId: rootId },
      { text: 'Viewer thread reply check', atMs: at + 30_000 },
    );
    team = { id: t.id, channelId, rootId, replyId };
    expect((await h.daily(t0)).status).toBe('succeeded');

    // An inline image the first run stored: a user's chat message with a hosted image in its body.
    for (const entity of [
      { kind: 'user' as const, id: u.id },
      { kind: 'team' as const, id: t.id },
    ]) {
      const v = tenant
        .currentVersions(entity)
        .find((x) => String((x.message.body as Json | null)?.content ?? '').includes('<img src="https://'));
      if (v) {
        const m = v.message;
        image = {
          entity: entity.kind,
          entityId: entity.id,
          conversationId: String(m.chatId ?? (m.channelIdentity as Json).channelId),
          id: String(m.id),
          day: utcDay(v.lastModifiedMs),
        };
        break;
      }
    }

    // The names the directory snapshot (written by the export in production) would give.
    const snapshot = {
      takenAt: iso(t0),
      runId: 'viewer-test',
      users: tenant.users.map((x) => ({ id: x.id, displayName: x.displayName, userPrincipalName: x.userPrincipalName })),
      teams: tenant.teams.map((x) => ({
        id: x.id,
        displayName: x.displayName,
        channels: x.channels.map((c) => ({ id: c.id, displayName: c.displayName, membershipType: c.membershipType })),
      })),
      chats: tenant.chats.map((c) => ({
        id: c.id,
        chatType: c.kind,
        ...(c.topic ? { topic: c.topic } : {}),
        members: c.memberIds.map((userId) => ({ userId })),
      })),
    };
    await h.deps.container
      .getBlockBlobClient(`directory/${utcDay(t0).replace(/-/g, '/')}/viewer-test.json.gz`)
      .uploadData(gzipSync(JSON.stringify(snapshot)));

    viewer = await startViewerServer({ container: h.deps.container, audit: cliAuditor(h.deps, 'serve') });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1100, height: 900 }, timezoneId: 'Asia/Tokyo' });
    // Signed in as `serve`'s user: the printed one-time address sets the cookie every request needs.
    const signIn = await context.newPage();
    await signIn.goto(viewer.url);
    await signIn.close();
    cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
  }, 240_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await viewer?.close();
    await h?.close();
  });

  const url = (path: string) => new URL(path, viewer.origin).toString();
  const get = (address: string, init: RequestInit = {}) => fetch(address, { ...init, headers: { cookie } });

  /** The CLI in-process, with the harness's settings: exit code and everything it printed. */
  function runCli(args: string[]): Promise<{ code: number; text: string }> {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let text = '';
    stdout.on('data', (d) => (text += String(d)));
    stderr.on('data', (d) => (text += String(d)));
    return main(args, { env: h.env, stdout, stderr: stderr as unknown as NodeJS.WriteStream }).then((code) => ({ code, text }));
  }

  it('navigates from the home page to a user, a chat and a day by clicking', async () => {
    const page = await context.newPage();
    const w = watch(page);
    await page.goto(url('/'));
    await page.getByRole('link', { name: user.displayName }).first().click();
    await page.waitForURL(/\/u\//);
    const chatName = h.emulator.tenant.chat(chatId)!.topic!;
    await expect(page.locator('h3', { hasText: chatName }).count()).resolves.toBe(1);
    await page.locator('section.conversation', { hasText: chatName }).getByRole('link', { name: day }).click();
    await page.waitForURL(new RegExp(`/c/${encodeIdSegment(chatId).replace(/[~.*+?^${}()|[\]\\]/g, '\\$&')}/${day}$`));
    await expect(page.locator(`#m-${edited.id}`).count()).resolves.toBe(1);
    // The deep link survives a reload.
    await page.reload();
    await expect(page.locator(`#m-${edited.id}`).count()).resolves.toBe(1);
    expect(w.console).toEqual([]);
    await page.close();
  });

  it('shows an edit with its earlier version, a deletion with its last text, and who reacted', async () => {
    const page = await context.newPage();
    const w = watch(page);
    await page.goto(url(links.day('user', user.id, chatId, day)));
    const e = page.locator(`#m-${edited.id}`);
    await expect(e.getAttribute('class')).resolves.toContain('edited');
    await expect(e.locator('.body').first().innerText()).resolves.toContain('Edited: the viewer shows this new text');
    await e.locator('details.versions summary').click();
    await expect(e.locator('details.versions').innerText()).resolves.toContain(edited.before);
    const d = page.locator(`#m-${deleted.id}`);
    await expect(d.getAttribute('class')).resolves.toContain('deleted');
    await expect(d.locator('.last-known').innerText()).resolves.toContain(deleted.text);
    const r = page.locator(`#m-${reacted.id} .reaction`, { hasText: '👍' });
    await expect(r.innerText()).resolves.toContain(reacted.by);
    // viewer.js ran (no inline script needed) and added the local time (Tokyo) beside UTC.
    await expect(page.locator('.local-time').first().innerText()).resolves.toMatch(/GMT\+9|JST/);
    await page.screenshot({ path: join(OUT, 'chat-day.png'), fullPage: true });
    if (process.env.UPDATE_DOCS_SCREENSHOT)
      await e.scrollIntoViewIfNeeded().then(() => page.screenshot({ path: resolve(__dirname, '../../docs/viewer.png') }));
    expect(w.console).toEqual([]);
    await page.close();
  });

  it('renders hostile bodies inert and readable: no dialog, no foreign request, clean console', async () => {
    const page = await context.newPage();
    const w = watch(page);
    await page.goto(url(links.day('user', user.id, chatId, day)));
    await page.waitForLoadState('networkidle');
    for (const [i, id] of hostileIds.entries()) {
      const text = htmlToText(HOSTILE_BODIES[i] as string).split('\n')[0] as string;
      await expect(page.locator(`#m-${id} .body`).innerText()).resolves.toContain(text);
    }
    await expect(page.locator(`#m-${hostileIds[2]} a`, { hasText: 'a fine link' }).getAttribute('href')).resolves.toBe(
      'https://example.org/ok',
    );
    await expect(page.locator('a[href^="javascript:" i], [onerror], [onload], svg, style, iframe, form, object').count()).resolves.toBe(0);
    expect(w.dialogs).toEqual([]);
    expect(w.requests.filter((r) => !r.startsWith(`${viewer.origin}/`))).toEqual([]);
    expect(w.console).toEqual([]);
    await page.screenshot({ path: join(OUT, 'hostile.png'), fullPage: true });
    await page.close();
  });

  it('shows a channel post with its reply as a thread', async () => {
    const page = await context.newPage();
    const w = watch(page);
    await page.goto(url(links.entity('team', team.id) as string));
    await expect(page.locator('h1').innerText()).resolves.toContain(h.emulator.tenant.teams[0]!.displayName);
    await expect(page.locator('h3', { hasText: 'General' }).count()).resolves.toBe(1);
    await page.goto(url(links.day('team', team.id, team.channelId, day)));
    const thread = page.locator(`#t-${team.rootId}`);
    await expect(thread.locator('.post .body').innerText()).resolves.toContain('Viewer thread root check');
    await expect(thread.locator(`.replies #m-${team.replyId} .body`).innerText()).resolves.toContain('Viewer thread reply check');
    await thread.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(OUT, 'channel-thread.png') });
    expect(w.console).toEqual([]);
    await page.close();
  });

  it('loads an inline image from the archive', async () => {
    expect(image, 'the seed has a message with an inline image').toBeDefined();
    const img = image!;
    const page = await context.newPage();
    const w = watch(page);
    await page.goto(url(links.day(img.entity, img.entityId, img.conversationId, img.day)));
    await page.waitForLoadState('networkidle');
    const el = page.locator(`#m-${img.id} .body img`).first();
    await expect(el.evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth > 0)).resolves.toBe(true);
    await expect(el.getAttribute('src')).resolves.toMatch(/^\/content\/[0-9a-f]{64}$/);
    await el.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(OUT, 'inline-image.png') });
    expect(w.console).toEqual([]);
    await page.close();
  });

  it('finds messages by text within one entity and range', async () => {
    const page = await context.newPage();
    await page.goto(url(links.entity('user', user.id, { from: day, to: day }) as string));
    await page.locator('form.search input[name=q]').fill('viewer shows this NEW');
    await page.locator('form.search button').click();
    await page.waitForURL(/\/search\?/);
    await page.locator('ol.hits a').first().click();
    await page.waitForURL(new RegExp(`#m-${edited.id}$`));
    await page.close();
  });

  it('serves the raw JSON line, the batch, and file attachments as downloads', async () => {
    const page = await context.newPage();
    await page.goto(url(links.day('user', user.id, chatId, day)));
    const rawHref = await page.locator(`#m-${edited.id} .head .source a`, { hasText: 'JSON' }).getAttribute('href');
    const raw = await get(url(rawHref!));
    expect(raw.status).toBe(200);
    expect((JSON.parse(await raw.text()) as Json).id).toBe(edited.id);
    const blobHref = await page.locator(`#m-${edited.id} .head .source a`, { hasText: 'batch' }).getAttribute('href');
    const blob = await get(url(blobHref!));
    expect(blob.headers.get('content-type')).toMatch(/^text\/plain/);
    expect((await blob.text()).split('\n').filter(Boolean).length).toBeGreaterThan(0);
    await page.close();
    const files = await findFileLink();
    expect(files, 'the seed has a stored file attachment').toBeDefined();
    const res = await get(url(files!));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename=/);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
  });

  /** The first download link of a stored file on the user's or team's pages. */
  async function findFileLink(): Promise<string | undefined> {
    const page = await context.newPage();
    try {
      for (const [kind, id] of [
        ['user', user.id],
        ['team', team.id],
      ] as const) {
        await page.goto(url(links.entity(kind, id, { from: utcDay(t0 - 4 * DAY), to: utcDay(t0) }) as string));
        for (const href of await page.locator('ul.days a').evaluateAll((as) => as.map((a) => a.getAttribute('href') ?? ''))) {
          const res = await get(url(href));
          const m = /href="([^"]+\?name=[^"]+)" download/.exec(await res.text());
          if (m) return m[1]!.replace(/&amp;/g, '&');
        }
      }
      return undefined;
    } finally {
      await page.close();
    }
  }

  it('answers bad addresses with a short page, never a stack trace', async () => {
    const seg = encodeIdSegment(user.id);
    const cases: Array<[string, number]> = [
      ['/u/NOT-canonical', 404],
      ['/u/nobody-here', 404],
      [`/u/${seg}/c/${encodeIdSegment(chatId)}/2001-01-01`, 404],
      [`/u/${seg}/c/${encodeIdSegment(chatId)}/2001-02-30`, 404],
      [`/u/${seg}?from=2026-01-10&to=2026-01-01`, 400],
      [`/u/${seg}?from=yesterday`, 400],
      [`/u/${seg}/search?q=`, 400],
      ['/raw/messages/../locks/x?line=1', 404],
      ['/blob/manifests/r1/run.json', 404],
      ['/content/../../etc/passwd', 404],
      ['/content/' + 'a'.repeat(64), 404],
      ['/x/y/z', 404],
    ];
    for (const [path, status] of cases) {
      const res = await get(url(path));
      const body = await res.text();
      expect(res.status, path).toBe(status);
      expect(res.headers.get('content-security-policy'), path).toMatch(/default-src 'self'/);
      expect(body, path).toMatch(/<h1>/);
      expect(body, path).not.toMatch(/\bat [\w.<>]+ \(|Error:|node_modules/);
    }
    const post = await get(url('/'), { method: 'POST' });
    expect(post.status).toBe(405);
  });

  it('teams-export serve prints a one-time address that opens the archive in one browser, and stops on Ctrl-C', async () => {
    const { code: bad, text: badText } = await runCli(['serve', '--port', '70000']);
    expect(bad).toBe(2);
    expect(badText).toMatch(/--port must be a whole number/);
    const abort = new AbortController();
    let printed = '';
    const stdout = new PassThrough();
    const urlSeen = new Promise<string>((resolveUrl) =>
      stdout.on('data', (d) => {
        printed += String(d);
        const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(printed);
        if (m) resolveUrl(m[1]!);
      }),
    );
    const done = main(['serve'], {
      env: h.env,
      stdout,
      stderr: new PassThrough() as unknown as NodeJS.WriteStream,
      signal: abort.signal,
    });
    const served = await urlSeen;
    const mine = await browser.newContext();
    const page = await mine.newPage();
    await page.goto(served);
    expect(page.url()).not.toContain('token=');
    await expect(page.locator('body').innerText()).resolves.toContain(user.displayName);
    await mine.close();
    // Anyone else who gets hold of the address later: it has been used.
    const late = await fetch(served, { redirect: 'manual' });
    expect(late.status).toBe(401);
    abort.abort();
    await expect(done).resolves.toBe(0);
  });

  it('serves the same pages through the HTTP function to Archive.Read, and no link or form ever carries a key', async () => {
    const ctx = await buildAppContext({ ...h.env, ...PLATFORM_AUTH_ENV }, { log: silentLogger });
    const handler = createViewerHandler(async () => ctx);
    const inv = (id: string) => new InvocationContext({ invocationId: id, functionName: 'viewer', logHandler: () => undefined });
    const req = (path: string, headers: Record<string, string>, query = '') =>
      new HttpRequest({ method: 'GET', url: `http://localhost/api/viewer/${path}${query}`, params: { path }, headers });
    const reader = principalHeaders({ roles: ['Archive.Read'] });
    const home = await handler(req('', reader), inv('v1'));
    expect(home.status).toBe(200);
    expect((home.headers as Record<string, string>)['content-security-policy']).toMatch(/script-src 'self'/);
    expect(String(home.body)).toContain(`href="/api/viewer/u/${encodeIdSegment(user.id)}"`);
    const missing = await handler(req('u/nobody-here', reader), inv('v2'));
    expect(missing.status).toBe(404);
    const auditor = await handler(req('', principalHeaders({ roles: ['Archive.Audit', 'Archive.Produce'] })), inv('v3'));
    expect(auditor.status).toBe(403);
    expect(auditor.jsonBody).toMatchObject({ error: { code: 'Forbidden', missingRole: 'Archive.Read' } });

    // Keys by opt-in (HTTP_AUTH=function-keys): a page opened with ?code= never puts the key in a link or form.
    const keyed = createViewerHandler(async () => ({
      ...ctx,
      deps: { ...ctx.deps, settings: loadSettings({ ...h.env, HTTP_AUTH: 'function-keys' }) },
    }));
    for (const path of ['', `u/${encodeIdSegment(user.id)}`, `u/${encodeIdSegment(user.id)}/search`]) {
      const page = await keyed(req(path, {}, '?code=the-key&q=a'), inv('v4'));
      expect(page.status, path).toBe(200);
      expect(String(page.body), path).toMatch(/<a href=/);
      expect(String(page.body), path).not.toContain('the-key');
      expect(String(page.body), path).not.toMatch(/[?&;]code=|name="code"/);
    }
  });

  it('writes offline transcripts that open from disk with the same messages and images', async () => {
    const root = mkdtempSync(join(tmpdir(), 'te-html-'));
    const out = join(root, 'transcripts');
    const run = runCli;
    const range = ['--from', iso(t0 - 5 * DAY), '--to', iso(t0 + HOUR)];
    // Bad input: exit 2 and nothing written.
    for (const bad of [
      ['html', '--from', iso(t0), '--to', iso(t0 - DAY), '--out', out],
      ['html', ...range, '--user', 'x'.repeat(300), '--out', out],
      ['html', ...range, '--user', 'no-such-user', '--out', out],
      ['html', ...range],
    ]) {
      const r = await run(bad);
      expect(r.code, bad.join(' ')).toBe(2);
      expect(readdirSync(root)).toEqual([]);
    }
    const entities = [
      '--user',
      user.id,
      '--team',
      team.id,
      ...(image && image.entity === 'user' && image.entityId !== user.id ? ['--user', image.entityId] : []),
    ];
    const r = await run(['html', ...range, ...entities, '--out', out]);
    expect(r.code, r.text).toBe(0);
    expect(readdirSync(root)).toEqual(['transcripts']);

    const page = await context.newPage();
    const w = watch(page);
    await page.goto(`file://${out}/index.html`);
    await page.getByRole('link', { name: user.displayName }).first().click();
    await page
      .locator('section.conversation', { hasText: h.emulator.tenant.chat(chatId)!.topic! })
      .getByRole('link', { name: day })
      .click();
    await expect(page.locator(`#m-${edited.id} .body`).first().innerText()).resolves.toContain('Edited: the viewer shows this new text');
    await expect(page.locator(`#m-${deleted.id} .last-known`).innerText()).resolves.toContain(deleted.text);
    await expect(page.locator(`#m-${reacted.id} .reaction`, { hasText: '👍' }).innerText()).resolves.toContain(reacted.by);
    await expect(page.locator('.local-time').count()).resolves.toBeGreaterThan(0);
    await page.goto(`file://${out}/t-${encodeIdSegment(team.id)}/${encodeIdSegment(team.channelId)}/${day}.html`);
    await expect(page.locator(`#t-${team.rootId} .replies #m-${team.replyId}`).count()).resolves.toBe(1);
    if (image) {
      await page.goto(
        `file://${out}/${image.entity === 'user' ? 'u' : 't'}-${encodeIdSegment(image.entityId)}/${encodeIdSegment(image.conversationId)}/${image.day}.html`,
      );
      const el = page.locator(`#m-${image.id} .body img`).first();
      await expect(el.evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth > 0)).resolves.toBe(true);
      await page.screenshot({ path: join(OUT, 'offline-image.png') });
    }
    expect(w.requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
    expect(w.console).toEqual([]);
    expect(w.dialogs).toEqual([]);
    await page.close();
  });

  it('measures the load of a conversation-day of 5,000 messages (printed, not asserted)', async () => {
    const benchUser = 'bench-user-5000';
    const benchChat = '19:bench5000@thread.v2';
    const benchDay = utcDay(t0 - DAY);
    const base = Date.parse(`${benchDay}T00:00:00Z`);
    const lines = Array.from({ length: 5000 }, (_, i) => {
      const created = new Date(base + i * 15_000).toISOString();
      return Buffer.from(
        JSON.stringify({
          id: String(base + i * 15_000),
          chatId: benchChat,
          etag: String(i),
          messageType: 'message',
          createdDateTime: created,
          lastModifiedDateTime: created,
          from: { user: { id: user.id, displayName: user.displayName } },
          body: {
            contentType: 'html',
            content: `<p>Message ${i}: <b>status</b> update with a <a href="https://example.org/${i}">link</a> and some more words to make it realistic.</p>`,
          },
          reactions: i % 10 === 0 ? [{ reactionType: 'like', user: { user: { id: user.id } } }] : [],
          attachments: [],
        }),
      );
    });
    const name = batchBlobName({ kind: 'user', id: benchUser }, benchDay, {
      pass: 'backfill',
      window: { fromMs: base, toMs: base + DAY },
      runId: 'bench',
      seq: 0,
    });
    await writeBatch(h.deps.container, name, lines, { pass: 'backfill' });
    const page = await context.newPage();
    const target = url(links.day('user', benchUser, benchChat, benchDay));
    await page.goto(target); // warm-up (names cache, connections)
    const started = performance.now();
    await page.goto(target, { waitUntil: 'load' });
    const loadMs = performance.now() - started;
    // A busy day is split into pages of whole messages; every page is reachable from the pager.
    await expect(page.locator('article.message').count()).resolves.toBe(MESSAGES_PER_PAGE);
    await expect(page.locator('nav.pager').first().locator('a').count()).resolves.toBe(5000 / MESSAGES_PER_PAGE - 1);
    const timing = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
      return { ttfb: nav.responseStart - nav.requestStart, load: nav.loadEventEnd - nav.startTime, bytes: nav.transferSize };
    });
    // The server's share, in-process (median of three): read the day's batch, group, render one page.
    const serverMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      const res = await viewerRequest(
        { container: h.deps.container, links, names: async () => NO_NAMES, audit: cliAuditor(h.deps, 'serve') },
        `u/${encodeIdSegment(benchUser)}/c/${encodeIdSegment(benchChat)}/${benchDay}`,
        new URLSearchParams(),
      );
      expect(res.status).toBe(200);
      serverMs.push(performance.now() - t);
    }
    console.log(
      `viewer server render, 5,000-message conversation-day, first page: median ${serverMs.sort((a, b) => a - b)[1]!.toFixed(0)} ms in-process`,
    );
    console.log(
      `viewer page load, 5,000-message conversation-day (first page of ${MESSAGES_PER_PAGE}): ${loadMs.toFixed(0)} ms to load (server answer ${timing.ttfb.toFixed(0)} ms, ${Math.round(timing.bytes / 1024)} KiB); load average ${loadavg()[0]?.toFixed(1)}`,
    );
    // The page holding a given message, by id (as search results link to it).
    await page.goto(url(links.day('user', benchUser, benchChat, benchDay, { message: String(base + 4321 * 15_000) })));
    await expect(page.locator(`#m-${base + 4321 * 15_000}`).count()).resolves.toBe(1);
    await expect(page.locator('nav.pager b').first().innerText()).resolves.toBe(String(Math.floor(4321 / MESSAGES_PER_PAGE) + 1));
    await page.close();
  });
});
