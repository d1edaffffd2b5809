// Copilot sessions and meeting transcripts in a real browser (Debian's chromium driven by playwright-core,
// as test/e2e/viewer.test.ts): the emulator's items archived at the contract's names (Azurite), served by
// `teams-export serve`'s server, and the offline folder of `teams-export html` opened from disk. Hostile
// bodies, links and speaker names stay inert. Screenshots go to test-output/viewer/.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import { type Browser, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureContainer } from '../../src/archive/archive-container';
import { encodeIdSegment } from '../../src/archive/blob-layout';
import { readLatestDirectoryNames } from '../../src/archive/viewer-names';
import { parseWebVtt } from '../../src/archive/webvtt';
import { cliAuditor } from '../../src/cli/cli-audit';
import { silentLogger } from '../../src/log';
import { createStorageClients } from '../../src/storage-clients';
import { utcDay } from '../../src/time';
import { cueClock } from '../../src/viewer/artifact-html';
import { serverLinks } from '../../src/viewer/links';
import { writeTranscripts } from '../../src/viewer/offline-export';
import { startViewerServer, type ViewerServer } from '../../src/viewer/server';
import { seedArtifactArchive, type ArtifactArchive } from '../support/artifact-fixtures';
import { testStorage } from '../support/storage';
import { CHROMIUM, HAVE_CHROMIUM, launchChromium, watch } from '../support/browser';

if (!HAVE_CHROMIUM) console.warn(`viewer artifact browser tests SKIPPED: ${CHROMIUM} is not installed`);

const OUT = resolve(__dirname, '../../test-output/viewer');
const links = serverLinks('/');

describe.skipIf(!HAVE_CHROMIUM)('Copilot sessions and meeting transcripts in a real browser', { timeout: 120_000 }, () => {
  let container: ContainerClient;
  let a: ArtifactArchive;
  let viewer: ViewerServer;
  let browser: Browser;
  let context: BrowserContext;
  let cookie: string;
  const t0 = Date.now();

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    const s = testStorage('viewer-artifacts-e2e');
    container = createStorageClients({ kind: 'connectionString', connectionString: s.connectionString }).blobService.getContainerClient(
      s.container,
    );
    await ensureContainer(container);
    a = await seedArtifactArchive(container, t0);
    viewer = await startViewerServer({ container, audit: cliAuditor({ container, log: silentLogger }, 'serve') });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1100, height: 900 }, timezoneId: 'Asia/Tokyo', acceptDownloads: true });
    const signIn = await context.newPage();
    await signIn.goto(viewer.url);
    await signIn.close();
    cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await viewer?.close();
    await a?.emulator.close();
  });

  const url = (path: string) => new URL(path, viewer.origin).toString();

  it('shows a Copilot session as a conversation: the prompt, the answer and the links Copilot used', async () => {
    const names = await readLatestDirectoryNames(container);
    const page = await context.newPage();
    const w = watch(page);
    await page.goto(url('/'));
    await page
      .getByRole('link', { name: names.user(a.memberId)! })
      .first()
      .click();
    await page.waitForURL(/\/u\//);
    // The user's page lists the session under Copilot (the latest month is shown: the session's day may be in an earlier one).
    await page.goto(url(links.entity('user', a.memberId, { from: a.meetingDay, to: a.meetingDay })!));
    await page.locator('section.copilot li', { hasText: 'Summarise the Q3 numbers' }).getByRole('link', { name: a.meetingDay }).click();
    await page.waitForURL(/\/copilot\//);
    const session = page.locator('section.copilot-session', { hasText: 'Summarise the Q3 numbers' });
    await expect(session.locator('h2').innerText()).resolves.toContain('Microsoft 365 Chat');
    await expect(session.locator('.copilot-prompt .body').innerText()).resolves.toBe('Summarise the Q3 numbers');
    await expect(session.locator('.copilot-answer').innerText()).resolves.toContain('Q3 revenue rose by 12%.');
    const link = session.locator('.copilot-answer .copilot-links a').first();
    await expect(link.getAttribute('href')).resolves.toMatch(/^https:\/\/contoso\.sharepoint\.com\//);
    await expect(link.getAttribute('rel')).resolves.toBe('noopener noreferrer nofollow');
    // Prompt before answer, the answer from the app.
    await expect(session.locator('article .sender').allInnerTexts()).resolves.toEqual([names.user(a.memberId), 'Microsoft 365 Chat']);
    await session.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(OUT, 'copilot-session.png') });

    // The hostile interaction on the same page: readable, inert.
    const hostile = page.locator(`#i-${a.hostileId}`);
    await expect(hostile.locator('.body').innerText()).resolves.toContain('Hostile');
    await expect(hostile.locator('.copilot-links').innerText()).resolves.toContain('evil link');
    await expect(
      page.locator('a[href^="javascript:" i], a[href^="data:" i], [onerror], [onload], svg, iframe, script:not([src])').count(),
    ).resolves.toBe(0);
    await page.waitForLoadState('networkidle');
    expect(w.dialogs).toEqual([]);
    expect(w.requests.filter((r) => !r.startsWith(`${viewer.origin}/`))).toEqual([]);
    expect(w.console).toEqual([]);
    await page.close();
  });

  it('shows the meeting chat-day with the transcript (speakers and times) and downloads the recording', async () => {
    const cues = parseWebVtt(a.transcript.bytes!.toString('utf8')).cues;
    const page = await context.newPage();
    const w = watch(page);
    // A member's page of the meeting chat that day: their message, and the meeting the organiser's folder holds.
    await page.goto(url(links.day('user', a.memberId, a.chatId, a.meetingDay)));
    await expect(page.locator('article.message .body').first().innerText()).resolves.toBe('Notes from the sync');
    const transcript = page.locator('.meeting-artifacts .transcript-block');
    const first = transcript.locator('li.cue').first();
    await expect(first.locator('.speaker').innerText()).resolves.toBe('Ada Speaker');
    await expect(first.locator('.cue-time').innerText()).resolves.toBe(cueClock(cues[0]!.startMs));
    await expect(first.locator('.cue-text').innerText()).resolves.toBe('We ship on Thursday.');
    await expect(transcript.locator('li.cue .speaker').allInnerTexts()).resolves.toEqual([
      'Ada Speaker',
      'Omar Speaker',
      '<img src=x onerror=alert(5)',
    ]);
    await expect(transcript.locator('li.cue').nth(1).locator('.cue-time').innerText()).resolves.toBe(cueClock(cues[1]!.startMs));
    const download = page.locator('a.recording-download');
    await expect(download.getAttribute('href')).resolves.toMatch(new RegExp(`^/content/${a.recording.sha256}\\?name=recording-`));
    await transcript.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(OUT, 'meeting-transcript.png') });
    const [file] = await Promise.all([page.waitForEvent('download'), download.click()]);
    expect(file.suggestedFilename()).toMatch(/^recording-\d{8}-\d{4}\.mp4\.bin$/);
    expect(
      createHash('sha256')
        .update(readFileSync((await file.path())!))
        .digest('hex'),
    ).toBe(a.recording.sha256);
    // The same bytes by a plain request with the session cookie.
    const res = await fetch(url((await download.getAttribute('href'))!), { headers: { cookie } });
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(
      createHash('sha256')
        .update(Buffer.from(await res.arrayBuffer()))
        .digest('hex'),
    ).toBe(a.recording.sha256);
    expect(w.dialogs).toEqual([]);
    expect(w.console).toEqual([]);
    await page.close();
  });

  it('teams-export html: the Copilot session and the transcript open from disk with nothing fetched from elsewhere', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'te-html-artifacts-')), 'transcripts');
    await writeTranscripts({
      container,
      names: await readLatestDirectoryNames(container),
      entities: [
        { kind: 'user', id: a.memberId },
        { kind: 'user', id: a.organizerId },
      ],
      conversations: new Set(),
      range: { from: utcDay(t0 - 10 * 86_400_000), to: utcDay(t0) },
      outDir: out,
    });
    const page = await context.newPage();
    const w = watch(page);
    await page.goto(`file://${out}/u-${encodeIdSegment(a.memberId)}/index.html`);
    await page.locator('section.copilot li', { hasText: 'Summarise the Q3 numbers' }).getByRole('link', { name: a.meetingDay }).click();
    const session = page.locator('section.copilot-session', { hasText: 'Summarise the Q3 numbers' });
    await expect(session.locator('.copilot-answer').innerText()).resolves.toContain('Q3 revenue rose by 12%.');
    await page.goto(`file://${out}/u-${encodeIdSegment(a.organizerId)}/index.html`);
    await page.locator('section.meetings').getByRole('link', { name: a.meetingDay }).click();
    await expect(page.locator('.transcript-block li.cue .speaker').first().innerText()).resolves.toBe('Ada Speaker');
    await page.locator('.meeting h3 a').first().click();
    await expect(page.locator('.transcript-block li.cue .speaker').first().innerText()).resolves.toBe('Ada Speaker');
    const href = await page.locator('a.recording-download').getAttribute('href');
    expect(href).toMatch(/^\.\.\/\.\.\/files\/[0-9a-f]{64}\/recording-[^/]+\.mp4\.bin$/);
    expect(w.requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
    expect(w.dialogs).toEqual([]);
    expect(w.console).toEqual([]);
    await page.close();
  });
});
