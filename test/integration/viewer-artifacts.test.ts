// Copilot interactions and meeting transcripts and recordings read back from an archive on Azurite
// (docs/viewer.md): the emulator's items written at the contract's names, then the reader module, the
// viewer's pages with their audit records, the streamed recording download, and `teams-export html`.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator, ExpectedMeetingArtifact } from '../../emulator';
import { ensureContainer } from '../../src/archive/archive-container';
import {
  listArtifactUsers,
  loadChatDayArtifacts,
  loadCopilotSessions,
  loadOrganizerArtifacts,
  readStoredText,
} from '../../src/archive/artifact-archive';
import type { AuditEvent } from '../../src/archive/audit-trail';
import { encodeIdSegment } from '../../src/archive/blob-layout';
import { cachedDirectoryNames, viewerRequest, type ViewerResponse } from '../../src/viewer/router';
import { serverLinks } from '../../src/viewer/links';
import { writeTranscripts } from '../../src/viewer/offline-export';
import { readLatestDirectoryNames } from '../../src/archive/viewer-names';
import { createStorageClients } from '../../src/storage-clients';
import { HOUR, utcDay } from '../../src/time';
import { parseWebVtt } from '../../src/archive/webvtt';
import { NO_NAMES } from '../../src/archive/viewer-names';
import { escapeHtml } from '../../src/viewer/sanitize';
import { startHarness } from '../support/harness';
import { seedArtifactArchive } from '../support/artifact-fixtures';
import { testStorage } from '../support/storage';

const DAY = 86_400_000;

async function bodyText(res: ViewerResponse): Promise<Buffer> {
  if (typeof res.body === 'string') return Buffer.from(res.body);
  if (Buffer.isBuffer(res.body)) return res.body;
  const chunks: Buffer[] = [];
  for await (const c of res.body) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

describe('Copilot and meeting archives in the viewer and html', () => {
  let emulator: Emulator;
  let container: ContainerClient;
  const events: AuditEvent[] = [];
  let failAudit = false;
  const t0 = Date.now();
  const meetingDay = utcDay(t0 - 6 * DAY);
  let organizerId: string;
  let memberId: string;
  let chatId: string;
  let transcript: ExpectedMeetingArtifact;
  let recording: ExpectedMeetingArtifact;
  let copilotUser: string;
  let sessionId: string;

  const deps = () => ({
    container,
    links: serverLinks('/'),
    names: cachedDirectoryNames(container),
    audit: async (e: AuditEvent) => {
      if (failAudit) throw new Error('audit store down');
      events.push(e);
    },
  });
  const get = (path: string) => viewerRequest(deps(), path, new URLSearchParams());

  beforeAll(async () => {
    const s = testStorage('viewer-artifacts');
    container = createStorageClients({ kind: 'connectionString', connectionString: s.connectionString }).blobService.getContainerClient(
      s.container,
    );
    await ensureContainer(container);
    const a = await seedArtifactArchive(container, t0);
    ({ emulator, chatId, organizerId, memberId, transcript, recording, sessionId } = a);
    copilotUser = memberId;
  }, 120_000);

  afterAll(async () => {
    await emulator?.close();
  });

  it('groups a user’s archived interactions into the sessions the emulator served, prompts before answers', async () => {
    const from = utcDay(t0 - 8 * DAY);
    const to = utcDay(t0);
    const sessions = await loadCopilotSessions(container, copilotUser, from, to);
    const expected = new Map<string, string[]>();
    for (const i of emulator
      .copilotInteractions()
      .filter((x) => x.userId === copilotUser)
      .sort((a, b) => a.createdMs - b.createdMs))
      expected.set(i.sessionId, [...(expected.get(i.sessionId) ?? []), i.id]);
    expect(new Map(sessions.map((s) => [s.sessionId, s.interactions.map((i) => i.id)]))).toEqual(expected);
    const posted = sessions.find((s) => s.sessionId === sessionId)!;
    expect(posted.interactions.map((i) => i.interactionType)).toEqual(['userPrompt', 'aiResponse']);
    expect(await listArtifactUsers(container, 'copilot')).toContain(copilotUser);
  });

  it('finds a meeting’s transcript and recording by organiser and by meeting chat, with the stored bytes', async () => {
    const mine = await loadOrganizerArtifacts(container, organizerId, meetingDay, meetingDay);
    const t = mine.find((a) => a.id === transcript.id)!;
    expect(t.kind).toBe('transcript');
    expect(t.chatId).toBe(chatId);
    expect(t.content.map((e) => [e.kind, e.sha256])).toEqual([
      ['transcript', transcript.sha256],
      ['transcriptMetadata', transcript.metadataSha256],
    ]);
    expect((await readStoredText(container, transcript.sha256, 1 << 20))?.text).toBe(transcript.bytes!.toString('utf8'));
    expect(await readStoredText(container, transcript.sha256, 10)).toEqual({
      text: transcript.bytes!.subarray(0, 10).toString('utf8'),
      truncated: true,
    });
    expect(await readStoredText(container, 'f'.repeat(64), 10)).toBeUndefined();
    // By chat: the organiser must be among the candidates; only that chat's artifacts of that day.
    expect(await loadChatDayArtifacts(container, chatId, meetingDay, [memberId])).toEqual([]);
    const found = await loadChatDayArtifacts(container, chatId, meetingDay, [memberId, organizerId, '', 'x'.repeat(300)]);
    expect(found.map((a) => a.id).sort()).toEqual([transcript.id, recording.id].sort());
    expect(await loadChatDayArtifacts(container, '19:meeting_other@thread.v2', meetingDay, [organizerId])).toEqual([]);
  });

  it('shows a Copilot day, an organiser’s meetings day and the meeting chat-day, each recorded in the audit trail', async () => {
    const names = await readLatestDirectoryNames(container);
    events.length = 0;
    const home = await bodyText(await get(''));
    expect(home.toString()).toContain(names.user(organizerId)!);

    const userPage = (
      await bodyText(
        await viewerRequest(deps(), `u/${encodeIdSegment(copilotUser)}`, new URLSearchParams({ from: meetingDay, to: meetingDay })),
      )
    ).toString();
    expect(userPage).toContain('Copilot sessions from');
    expect(userPage).toContain('Summarise the Q3 numbers');
    const copilotHref = serverLinks('/').copilotDay(copilotUser, meetingDay, sessionId);
    expect(userPage).toContain(copilotHref.replace(/&/g, '&#38;'));

    const copilot = await get(`u/${encodeIdSegment(copilotUser)}/copilot/${meetingDay}`);
    expect(copilot.status).toBe(200);
    const page = (await bodyText(copilot)).toString();
    expect(page).toContain('Summarise the Q3 numbers');
    expect(page).toContain('Q3 revenue rose by 12%.');
    expect(page).toMatch(/<a href="https:\/\/contoso\.sharepoint\.com\/[^"]+" rel="noopener noreferrer nofollow">/);

    // The prompt's archived JSON line, through the raw route (audited as a read of the user's Copilot batch).
    const raw = /<article class="message copilot-prompt"[^]*?<a href="\/(raw\/copilot\/[^"?]+)\?line=(\d+)">JSON<\/a>/.exec(page)!;
    const line = await viewerRequest(deps(), raw[1]!.replace(/&#38;/g, '&'), new URLSearchParams({ line: raw[2]! }));
    expect(JSON.parse((await bodyText(line)).toString())).toMatchObject({ interactionType: 'userPrompt', sessionId: expect.any(String) });
    events.pop();

    const meetings = await get(`u/${encodeIdSegment(organizerId)}/meetings/${meetingDay}`);
    expect(meetings.status).toBe(200);
    const meetingsPage = (await bodyText(meetings)).toString();
    expect(meetingsPage).toContain('<span class="speaker">Omar Speaker</span>');
    expect(meetingsPage).toContain('I own the rollback plan &#38; the notes.');

    // The member's chat-day: their message and the transcript the organiser's folder holds.
    const chatDay = await get(`u/${encodeIdSegment(memberId)}/c/${encodeIdSegment(chatId)}/${meetingDay}`);
    expect(chatDay.status).toBe(200);
    const chatPage = (await bodyText(chatDay)).toString();
    expect(chatPage).toContain('Notes from the sync');
    expect(chatPage).toContain('<span class="speaker">Ada Speaker</span>');
    expect(chatPage).toMatch(/<span class="cue-time" title="[^"]+">00:00:0\d<\/span>/);
    expect(chatPage).toContain(`href="/content/${recording.sha256}?name=recording-`);
    // The organiser's chat-day holds no message of theirs, only the meeting.
    expect((await get(`u/${encodeIdSegment(organizerId)}/c/${encodeIdSegment(chatId)}/${meetingDay}`)).status).toBe(200);

    expect(events).toEqual([
      { action: 'viewer.home' },
      {
        action: 'viewer.entity',
        entity: `user:${copilotUser}`,
        from: meetingDay,
        to: meetingDay,
        entities: [`copilot:${copilotUser}`],
      },
      { action: 'viewer.copilot', entity: `copilot:${copilotUser}`, day: meetingDay },
      { action: 'viewer.meetings', entity: `meetings:${organizerId}`, day: meetingDay },
      { action: 'viewer.day', entity: `user:${memberId}`, conversation: chatId, day: meetingDay, entities: [`meetings:${organizerId}`] },
      { action: 'viewer.day', entity: `user:${organizerId}`, conversation: chatId, day: meetingDay, entities: [`meetings:${organizerId}`] },
    ]);
  });

  it('streams the recording download through the audited content route, and refuses pages it cannot record', async () => {
    events.length = 0;
    const res = await viewerRequest(deps(), `content/${recording.sha256}`, new URLSearchParams({ name: 'recording.mp4' }));
    expect(res.status).toBe(200);
    expect(typeof res.body !== 'string' && !Buffer.isBuffer(res.body)).toBe(true);
    expect(res.headers['content-length']).toBe(String(recording.size));
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="recording\.mp4\.bin"/);
    expect(
      createHash('sha256')
        .update(await bodyText(res))
        .digest('hex'),
    ).toBe(recording.sha256);
    expect(events).toEqual([{ action: 'viewer.content', blob: `content/sha256/${recording.sha256.slice(0, 2)}/${recording.sha256}` }]);

    failAudit = true;
    try {
      for (const path of [
        `u/${encodeIdSegment(copilotUser)}/copilot/${meetingDay}`,
        `u/${encodeIdSegment(organizerId)}/meetings/${meetingDay}`,
        `u/${encodeIdSegment(organizerId)}/c/${encodeIdSegment(chatId)}/${meetingDay}`,
        `content/${recording.sha256}`,
      ]) {
        const refused = await get(path);
        expect(refused.status, path).toBe(503);
        expect((await bodyText(refused)).toString(), path).not.toContain('Speaker');
      }
    } finally {
      failAudit = false;
    }
    for (const path of [
      `u/${encodeIdSegment(copilotUser)}/copilot/2001-01-01`,
      `u/${encodeIdSegment(organizerId)}/meetings/2001-01-01`,
      `u/${encodeIdSegment(organizerId)}/meetings/not-a-day`,
      `u/${encodeIdSegment(organizerId)}/c/${encodeIdSegment(chatId)}/2001-01-01`,
      `t/${encodeIdSegment(organizerId)}/copilot/${meetingDay}`,
    ])
      expect((await get(path)).status, path).toBe(404);
  });

  it('teams-export html writes Copilot and meeting pages and the recording beside them', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'te-artifacts-')), 'out');
    const result = await writeTranscripts({
      container,
      names: await readLatestDirectoryNames(container),
      entities: [
        { kind: 'user', id: memberId },
        { kind: 'user', id: organizerId },
      ],
      conversations: new Set(),
      range: { from: utcDay(t0 - 8 * DAY), to: utcDay(t0) },
      outDir: out,
    });
    const member = join(out, `u-${encodeIdSegment(memberId)}`);
    const organizer = join(out, `u-${encodeIdSegment(organizerId)}`);
    const copilotPage = readFileSync(join(member, '_copilot', `${meetingDay}.html`), 'utf8');
    expect(copilotPage).toContain('Q3 revenue rose by 12%.');
    expect(readFileSync(join(organizer, '_meetings', `${meetingDay}.html`), 'utf8')).toContain('Omar Speaker');
    const chatPage = readFileSync(join(organizer, encodeIdSegment(chatId), `${meetingDay}.html`), 'utf8');
    expect(chatPage).toContain('Ada Speaker');
    const file = /href="\.\.\/\.\.\/(files\/[0-9a-f]{64}\/[^"]+)" download class="recording-download"/.exec(chatPage)![1]!;
    expect(
      createHash('sha256')
        .update(readFileSync(join(out, file)))
        .digest('hex'),
    ).toBe(recording.sha256);
    expect(readFileSync(join(member, encodeIdSegment(chatId), `${meetingDay}.html`), 'utf8')).toContain('Ada Speaker');
    const index = readFileSync(join(member, 'index.html'), 'utf8');
    expect(index).toContain(`_copilot/${meetingDay}.html#s-`);
    expect(readFileSync(join(organizer, 'index.html'), 'utf8')).toContain(`_meetings/${meetingDay}.html`);
    expect(result.pages).toBeGreaterThanOrEqual(5);
    expect(existsSync(join(out, 'files'))).toBe(true);
    expect(readdirSync(join(member, '_copilot')).length).toBeGreaterThan(0);
  });
});

describe('the viewer over what a real run exported', () => {
  it('shows every Copilot session and every stored transcript that a daily run with EXPORT_COPILOT and EXPORT_MEETINGS archived', async () => {
    const t0 = Date.now();
    const h = await startHarness({
      label: 'viewer-artifacts-run',
      tenant: {
        seed: 7,
        users: 4,
        teams: 0,
        groupChats: 0,
        oneOnOneChats: 1,
        meetingChats: 2,
        meetingOccurrences: 2,
        historyDays: 4,
        endMs: t0 - HOUR,
      },
      env: { EXPORT_COPILOT: 'true', EXPORT_MEETINGS: 'true', GRAPH_COPILOT_RPS: '1000', GRAPH_MEETING_RPS: '1000' },
    });
    try {
      expect((await h.daily(t0)).status).toBe('succeeded');
      const container = h.deps.container;
      const range = { from: utcDay(t0 - 6 * DAY), to: utcDay(t0) };
      const interactions = h.emulator.copilotInteractions().filter((i) => i.licensed);
      expect(interactions.length).toBeGreaterThan(0);
      for (const userId of new Set(interactions.map((i) => i.userId))) {
        const expected = new Map<string, string[]>();
        for (const i of interactions.filter((x) => x.userId === userId).sort((a, b) => a.createdMs - b.createdMs))
          expected.set(i.sessionId, [...(expected.get(i.sessionId) ?? []), i.id]);
        const sessions = await loadCopilotSessions(container, userId, range.from, range.to);
        expect(new Map(sessions.map((s) => [s.sessionId, s.interactions.map((i) => i.id)])), userId).toEqual(expected);
      }
      const deps = { container, links: serverLinks('/'), names: async () => NO_NAMES, audit: async () => undefined };
      const transcripts = h.emulator.meetingArtifacts().filter((a) => a.kind === 'transcript');
      expect(transcripts.length).toBeGreaterThan(0);
      for (const t of transcripts) {
        const day = utcDay(t.createdMs);
        const speakers = [...new Set(parseWebVtt(t.bytes!.toString('utf8')).cues.map((c) => c.speaker!))];
        for (const path of [
          `u/${encodeIdSegment(t.organizerId)}/meetings/${day}`,
          `u/${encodeIdSegment(t.organizerId)}/c/${encodeIdSegment(t.chatId)}/${day}`,
        ]) {
          const res = await viewerRequest(deps, path, new URLSearchParams());
          expect(res.status, path).toBe(200);
          const page = (await bodyText(res)).toString();
          for (const s of speakers) expect(page, path).toContain(`<span class="speaker">${escapeHtml(s)}</span>`);
        }
      }
    } finally {
      await h.close();
    }
  });
});
