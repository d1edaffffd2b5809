// The emulator's Copilot interactions and meeting transcripts/recordings (issue 23), through real HTTPS
// and a real ClientSecretCredential token: paging, filters, the licence, deleted users, every error
// shape, the transcript switch, speaker attribution, the access policy, delta rounds, late visibility,
// throttling, the large streamed recording, the expected ledgers and determinism from the seed.

import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatorToken, startTestEmulator } from '../../test/support/emulator';
import { ARTIFACT_ERROR_SHAPES, COPILOT_APPS, DEFAULT_FAULTS, type Emulator } from '../index';
import { Tenant } from '../tenant';
import { seedTenant } from '../seed';
import { expectedCopilotInteractions, parseCopilotFilter } from '../copilot';
import { expectedMeetingArtifacts } from '../meetings';
import { mergeFaults } from '../faults';
import { parseMainArgs } from '../main';

interface Res {
  status: number;
  headers: Headers;
  body: any;
  bytes: Buffer;
}

const DAY = 86_400_000;
const NOW = Date.parse('2026-06-15T12:00:00.000Z');
let now = NOW;
let emu: Emulator;
let token: string;
const TENANT = {
  seed: 7,
  users: 12,
  teams: 1,
  historyDays: 10,
  meetingChats: 4,
  meetingOccurrences: 3,
  copilotSessionsPerUser: 3,
  deletedUsers: 1,
};

async function get(url: string, headers: Record<string, string> = {}): Promise<Res> {
  const r = await fetch(url, { headers: { authorization: `Bearer ${token}`, ...headers } });
  const bytes = Buffer.from(await r.arrayBuffer());
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch {
    body = undefined;
  }
  return { status: r.status, headers: r.headers, body, bytes };
}

async function walk(url: string): Promise<{ items: any[]; pages: Res[] }> {
  const items: any[] = [];
  const pages: Res[] = [];
  for (let next: string | undefined = url; next;) {
    const r = await get(next);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    pages.push(r);
    items.push(...r.body.value);
    next = r.body['@odata.nextLink'];
    if (pages.length > 1000) throw new Error('endless paging');
  }
  return { items, pages };
}

async function control(path: string, body: unknown): Promise<any> {
  const r = await fetch(`${emu.origin}/_emulator/${path}`, { method: 'POST', body: JSON.stringify(body) });
  expect(r.status).toBe(200);
  return r.json();
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const copilotUrl = (userId: string, q = '') =>
  `${emu.graphBaseUrl}/copilot/users/${userId}/interactionHistory/getAllEnterpriseInteractions${q}`;
const fnUrl = (kind: 'Transcripts' | 'Recordings', organizer: string, args = '', tail = '') =>
  `${emu.graphBaseUrl}/users/${organizer}/onlineMeetings/getAll${kind}(meetingOrganizerUserId='${organizer}'${args})${tail}`;

function expectShape(r: Res, name: keyof typeof ARTIFACT_ERROR_SHAPES): void {
  const s = ARTIFACT_ERROR_SHAPES[name];
  expect(r.status, JSON.stringify(r.body)).toBe(s.status);
  expect(r.body.error.code).toBe(s.code);
  if ('innerCode' in s) expect(r.body.error.innerError.code).toBe(s.innerCode);
  expect(r.body.error.innerError['request-id']).toBeTruthy();
}

/** The licensed user with the most interactions, and one without a licence. */
function copilotUsers(): { busy: string; unlicensed: string } {
  const counts = new Map<string, number>();
  for (const e of emu.copilotInteractions()) if (e.licensed) counts.set(e.userId, (counts.get(e.userId) ?? 0) + 1);
  const live = [...counts].filter(([id]) => emu.tenant.user(id)?.deletedMs === undefined).sort((a, b) => b[1] - a[1]);
  const unlicensed = emu.tenant.users.find((u) => u.userType === 'Member' && u.hasTeamsData && !emu.tenant.copilot.isLicensed(u.id));
  if (!live[0] || !unlicensed) throw new Error('seed lacks Copilot users');
  return { busy: live[0][0], unlicensed: unlicensed.id };
}

function organizerWithTranscripts(): string {
  const live = emu.meetingArtifacts().filter((a) => a.kind === 'transcript' && emu.tenant.user(a.organizerId)?.deletedMs === undefined);
  if (!live[0]) throw new Error('seed lacks transcripts');
  return live[0].organizerId;
}

beforeAll(async () => {
  emu = await startTestEmulator({ clock: () => now, tenant: TENANT, faults: { copilotRps: null } });
  token = await emulatorToken(emu);
});

afterAll(async () => {
  await emu?.close();
});

describe('seeded data', () => {
  it('is deterministic from the seed, and never changes the messages, users or chats a seed serves', () => {
    const seeded = (extra: object) => {
      const t = new Tenant(emu.tenantId, () => NOW);
      seedTenant(t, { ...TENANT, deletedUsers: 0, endMs: NOW - 3_600_000, ...extra }, NOW);
      return t;
    };
    const faults = mergeFaults(DEFAULT_FAULTS, {});
    const a = seeded({});
    const b = seeded({});
    expect(expectedCopilotInteractions(a).map((e) => e.sha256)).toEqual(expectedCopilotInteractions(b).map((e) => e.sha256));
    expect(expectedMeetingArtifacts(a, faults).map((e) => [e.key, e.sha256])).toEqual(
      expectedMeetingArtifacts(b, faults).map((e) => [e.key, e.sha256]),
    );
    const other = seeded({ seed: 8 });
    expect(expectedCopilotInteractions(other).map((e) => e.sha256)).not.toEqual(expectedCopilotInteractions(a).map((e) => e.sha256));
    // with no Copilot or meeting data at all, the rest of the tenant is the same
    const bare = seeded({ copilotLicenseFraction: 0, meetingOccurrences: 0 });
    const rich = seeded({ copilotLicenseFraction: 1, copilotSessionsPerUser: 6, meetingOccurrences: 5 });
    const messagesOf = (t: Tenant) =>
      JSON.stringify([t.users, t.chats.map((c) => [c.id, c.memberIds]), t.exportableEntities().map((e) => t.currentVersions(e))]);
    expect(messagesOf(rich)).toBe(messagesOf(bare));
    expect(messagesOf(a)).toBe(messagesOf(bare));
  });

  it('licenses some members, spreads sessions over every Copilot app, and organises meetings from meeting chats', () => {
    const all = emu.copilotInteractions();
    expect(new Set(all.map((e) => e.appClass))).toEqual(new Set(COPILOT_APPS.map((a) => a.appClass)));
    expect(new Set(all.map((e) => e.interactionType))).toEqual(new Set(['userPrompt', 'aiResponse']));
    const members = emu.tenant.users.filter((u) => u.userType === 'Member' && u.hasTeamsData);
    const licensed = members.filter((u) => emu.tenant.copilot.isLicensed(u.id));
    expect(licensed.length).toBeGreaterThan(0);
    expect(licensed.length).toBeLessThan(members.length);
    // every prompt has its answer, with the same requestId and sessionId
    const byRequest = new Map<string, string[]>();
    for (const e of all) byRequest.set(e.requestId, [...(byRequest.get(e.requestId) ?? []), e.interactionType]);
    for (const types of byRequest.values()) expect(types.sort()).toEqual(['aiResponse', 'userPrompt']);
    const arts = emu.meetingArtifacts();
    expect(arts.some((a) => a.kind === 'transcript') && arts.some((a) => a.kind === 'recording')).toBe(true);
    for (const a of arts) {
      const chat = emu.tenant.chat(a.chatId)!;
      expect(chat.kind).toBe('meeting');
      expect(chat.memberIds).toContain(a.organizerId);
      expect(Buffer.from(a.meetingId, 'base64').toString()).toBe(`1*${a.organizerId}*0**${a.chatId}`);
    }
    // a deleted user (seed option deletedUsers) keeps their interactions
    const deleted = emu.tenant.users.find((u) => u.deletedMs !== undefined)!;
    expect(all.some((e) => e.userId === deleted.id)).toBe(true);
  });
});

describe('getAllEnterpriseInteractions', () => {
  it('pages newest first by $top (10 by default) with Graph-shaped skiptokens, serving exactly the expected interactions', async () => {
    const { busy } = copilotUsers();
    const expected = emu.copilotInteractions().filter((e) => e.userId === busy);
    const { items, pages } = await walk(copilotUrl(busy, '?$top=4'));
    expect(pages.length).toBe(Math.ceil(expected.length / 4));
    expect(pages.every((p) => p.body.value.length <= 4 && p.body['@odata.count'] === p.body.value.length)).toBe(true);
    expect(items.map((i) => i.id)).toEqual(expected.map((e) => e.id).reverse());
    expect(items).toEqual(expected.map((e) => e.item).reverse());
    const next = new URL(pages[0]!.body['@odata.nextLink']);
    expect(next.searchParams.get('$top')).toBe('4');
    expect(Buffer.from(next.searchParams.get('$skiptoken')!, 'base64').toString()).toBe(
      'SkipValue=4#MailboxFolder=MailFolders/TeamsMessagesData',
    );
    expect(pages[0]!.body['@odata.context']).toBe(`${emu.origin}/v1.0/$metadata#Collection(microsoft.graph.aiInteraction)`);
    const first = await get(copilotUrl(busy));
    expect(first.body.value.length).toBe(Math.min(10, expected.length));
    const item = items.find((i) => i.interactionType === 'aiResponse');
    expect(Object.keys(item)).toEqual([
      'id',
      'sessionId',
      'requestId',
      'appClass',
      'interactionType',
      'conversationType',
      'etag',
      'createdDateTime',
      'locale',
      'contexts',
      'from',
      'body',
      'attachments',
      'links',
      'mentions',
    ]);
    expect(item.from.application.applicationIdentityType).toBe('bot');
    expect(emu.counters.copilotLedger.has(`${busy}|${item.id}|${item.etag}`)).toBe(true);
  });

  it('filters on createdDateTime (gt, ge, lt, le: both bounds needed) and appClass (eq, or), keeping $filter in nextLinks', async () => {
    const { busy } = copilotUsers();
    const expected = emu.copilotInteractions().filter((e) => e.userId === busy);
    const mid = expected[Math.floor(expected.length / 2)]!;
    const iso = (ms: number) => new Date(ms).toISOString();
    const q = (f: string, top = 2) => `?$filter=${encodeURIComponent(f)}&$top=${top}`;
    const ge = await walk(copilotUrl(busy, q(`createdDateTime ge ${iso(mid.createdMs)} and createdDateTime le ${iso(NOW)}`)));
    expect(ge.items.map((i) => i.id).sort()).toEqual(
      expected
        .filter((e) => e.createdMs >= mid.createdMs)
        .map((e) => e.id)
        .sort(),
    );
    expect(new URL(ge.pages[0]!.body['@odata.nextLink']).searchParams.get('$filter')).toContain('createdDateTime ge');
    const gt = await walk(copilotUrl(busy, q(`createdDateTime gt ${iso(mid.createdMs)} and createdDateTime lt ${iso(NOW)}`)));
    expect(gt.items.length).toBe(ge.items.length - 1);
    const two = [...new Set(expected.map((e) => e.appClass))].slice(0, 2);
    const byApp = await walk(
      copilotUrl(
        busy,
        q(
          `(appClass eq '${two[0]}' or appClass eq '${two[1] ?? two[0]}') and createdDateTime gt ${iso(NOW - 30 * DAY)} and createdDateTime lt ${iso(NOW)}`,
          50,
        ),
      ),
    );
    expect(byApp.items.map((i) => i.id).sort()).toEqual(
      expected
        .filter((e) => two.includes(e.appClass))
        .map((e) => e.id)
        .sort(),
    );
    for (const bad of [
      `createdDateTime gt ${iso(NOW - DAY)}`,
      `createdDateTime eq ${iso(NOW)}`,
      `createdDateTime gt 2026-06-01 and createdDateTime lt ${iso(NOW)}`,
      `interactionType eq 'aiResponse'`,
      `appClass eq IPM.SkypeTeams.Message.Copilot.Word`,
      `(appClass eq 'x'`,
    ]) {
      const r = await get(copilotUrl(busy, `?$filter=${encodeURIComponent(bad)}`));
      expect(r.status, bad).toBe(400);
      expect(r.body.error.code).toBe('BadRequest');
    }
    expect((await get(copilotUrl(busy, '?$select=id'))).status).toBe(400);
    expect((await get(copilotUrl(busy, '?$top=0'))).status).toBe(400);
    expect((await get(copilotUrl(busy, '?$skiptoken=bm9wZQ'))).status).toBe(400);
  });

  it('answers a user without a licence 403 (or an empty page, faults copilotUnlicensed), and serves them once licensed', async () => {
    const { unlicensed } = copilotUsers();
    expectShape(await get(copilotUrl(unlicensed)), 'noCopilotLicence');
    emu.setFaults({ copilotUnlicensed: 'empty' });
    try {
      const r = await get(copilotUrl(unlicensed));
      expect(r.status).toBe(200);
      expect(r.body.value).toEqual([]);
    } finally {
      emu.setFaults({ copilotUnlicensed: 'forbidden' });
    }
    await control('mutations', [
      { op: 'copilotLicence', userId: unlicensed, licensed: true },
      { op: 'copilot', userId: unlicensed, prompt: 'Hello Copilot 👋', response: 'Hi! How can I help?', atMs: NOW - 60_000 },
    ]);
    const served = await walk(copilotUrl(unlicensed));
    expect(served.items.map((i) => i.interactionType)).toEqual(['aiResponse', 'userPrompt']);
    expect(served.items[1].body.content).toBe('Hello Copilot 👋');
    expect(
      emu
        .copilotInteractions()
        .filter((e) => e.userId === unlicensed)
        .map((e) => e.sha256),
    ).toEqual(served.items.map((i) => sha256(Buffer.from(JSON.stringify(i)))).reverse());
    emu.tenant.copilot.setLicensed(unlicensed, false);
  });

  it('refuses without AiEnterpriseInteraction.Read.All, naming the role; unknown users are 404', async () => {
    const { busy } = copilotUsers();
    emu.setFaults({ missingRoles: ['AiEnterpriseInteraction.Read.All'] });
    try {
      const r = await get(copilotUrl(busy));
      expectShape(r, 'missingCopilotRole');
      expect(r.body.error.message).toContain("requires one of 'AiEnterpriseInteraction.Read.All'");
      expect(r.body.error.message).not.toMatch(/Roles on the request '[^']*AiEnterpriseInteraction/);
    } finally {
      emu.setFaults({ missingRoles: [] });
    }
    const unknown = await get(copilotUrl('00000000-0000-4000-8000-000000000000'));
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('Request_ResourceNotFound');
  });

  it("serves a deleted user's interactions for 30 days of the data clock, then 404", async () => {
    const deleted = emu.tenant.users.find((u) => u.deletedMs !== undefined)!;
    const expected = emu.copilotInteractions().filter((e) => e.userId === deleted.id);
    expect((await walk(copilotUrl(deleted.id, '?$top=100'))).items.length).toBe(expected.length);
    now = deleted.deletedMs! + 31 * DAY;
    try {
      expect((await get(copilotUrl(deleted.id))).status).toBe(404);
    } finally {
      now = NOW;
    }
  });

  it('holds back late interactions until their delay has passed (faults artifactLateVisibility)', async () => {
    const { busy } = copilotUsers();
    const posted = await control('mutations', {
      op: 'copilot',
      userId: busy,
      prompt: 'late one',
      response: 'late answer',
      atMs: NOW - 5_000,
    });
    emu.setFaults({ artifactLateVisibility: { fraction: 1, maxDelayMs: 3_600_000 } });
    try {
      const ids = async () => (await walk(copilotUrl(busy, '?$top=100'))).items.map((i) => i.id);
      expect(await ids()).not.toContain(posted.results[0].promptId);
      now = NOW + 3_600_001;
      expect(await ids()).toContain(posted.results[0].promptId);
    } finally {
      now = NOW;
      emu.setFaults({ artifactLateVisibility: null });
    }
  });

  it("throttles on Copilot's own bucket with Retry-After, leaving the other routes alone; shared faults apply too", async () => {
    const { busy } = copilotUsers();
    const organizer = organizerWithTranscripts();
    emu.setFaults({ copilotRps: 1, copilotBurst: 2 });
    const before = emu.counters.copilotThrottled;
    try {
      const rs = await Promise.all(Array.from({ length: 6 }, () => get(copilotUrl(busy))));
      const limited = rs.filter((r) => r.status === 429);
      expect(limited.length).toBeGreaterThanOrEqual(3);
      expect(limited[0]!.body.error.code).toBe('TooManyRequests');
      expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(emu.counters.copilotThrottled - before).toBe(limited.length);
      expect((await get(fnUrl('Transcripts', organizer))).status).toBe(200);
    } finally {
      emu.setFaults({ copilotRps: null });
    }
    emu.setFaults({ errorRate: 1 });
    try {
      expect((await get(copilotUrl(busy))).status).toBeGreaterThanOrEqual(500);
    } finally {
      emu.setFaults({ errorRate: 0 });
    }
  });

  it('walks past empty pages (faults emptyPageRate) to exactly the same interactions and transcripts', async () => {
    const { busy } = copilotUsers();
    const organizer = organizerWithTranscripts();
    const before = emu.counters.faults.emptyPage;
    const plainCopilot = (await walk(copilotUrl(busy, '?$top=3'))).items;
    const plainTranscripts = (await walk(`${fnUrl('Transcripts', organizer)}?$top=1`)).items;
    emu.setFaults({ emptyPageRate: 0.5 });
    try {
      expect((await walk(copilotUrl(busy, '?$top=3'))).items).toEqual(plainCopilot);
      expect((await walk(`${fnUrl('Transcripts', organizer)}?$top=1`)).items).toEqual(plainTranscripts);
    } finally {
      emu.setFaults({ emptyPageRate: 0 });
    }
    expect(emu.counters.faults.emptyPage).toBeGreaterThan(before);
  });

  it('parses filters strictly', () => {
    expect(typeof parseCopilotFilter("appClass eq 'a' or appClass eq 'b'")).toBe('object');
    expect(
      typeof parseCopilotFilter(
        "(appClass eq 'it''s') and (createdDateTime gt 2026-01-01T00:00:00.1234567Z and createdDateTime le 2026-02-01T00:00:00Z)",
      ),
    ).toBe('object');
    expect(parseCopilotFilter('createdDateTime lt 2026-01-01T00:00:00Z')).toMatch(/both a lower/);
    expect(parseCopilotFilter("appClass ne 'a'")).toMatch(/not supported on appClass/);
  });
});

describe('getAllTranscripts and getAllRecordings', () => {
  it('list an organiser’s transcripts and recordings with function parameters, paging by $top with skipToken links', async () => {
    const organizer = organizerWithTranscripts();
    const chatId = emu.meetingArtifacts().find((a) => a.organizerId === organizer)!.chatId;
    // two more occurrences, so paging by 1 has something to walk
    await control('mutations', [
      { op: 'meetingArtifacts', chatId, atMs: NOW - 2 * DAY, recording: true },
      { op: 'meetingArtifacts', chatId, atMs: NOW - DAY },
    ]);
    for (const kind of ['transcript', 'recording'] as const) {
      const expected = emu.meetingArtifacts().filter((a) => a.kind === kind && a.organizerId === organizer);
      const { items, pages } = await walk(`${fnUrl(kind === 'transcript' ? 'Transcripts' : 'Recordings', organizer)}?$top=1`);
      expect(items).toEqual(expected.map((e) => e.item));
      expect(pages.length).toBe(expected.length);
      if (pages.length > 1) {
        const link = pages[0]!.body['@odata.nextLink'] as string;
        expect(link).toContain(
          `/users('${organizer}')/onlineMeetings/getAll${kind === 'transcript' ? 'Transcripts' : 'Recordings'}(meetingOrganizerUserId='${organizer}')?$top=1&skipToken=`,
        );
      }
      expect(pages[0]!.body['@odata.context']).toBe(
        `${emu.origin}/v1.0/$metadata#Collection(${kind === 'transcript' ? 'callTranscript' : 'callRecording'})`,
      );
    }
    const all = emu.meetingArtifacts().filter((a) => a.kind === 'transcript' && a.organizerId === organizer);
    const pivot = all[1]!;
    // startDateTime / endDateTime: created after / before (exclusive), spaces allowed after commas
    const later = await walk(
      fnUrl(
        'Transcripts',
        organizer,
        `, startDateTime=${new Date(pivot.createdMs).toISOString()}, endDateTime=${new Date(NOW).toISOString()}`,
      ),
    );
    expect(later.items.map((i) => i.id)).toEqual(all.filter((a) => a.createdMs > pivot.createdMs).map((a) => a.id));
    const viaFilter = await walk(
      `${emu.graphBaseUrl}/users/${organizer}/onlineMeetings/getAllTranscripts?$filter=${encodeURIComponent(`MeetingOrganizer/User/Id eq '${organizer}'`)}`,
    );
    expect(viaFilter.items.length).toBe(all.length);
    expectShape(await get(`${emu.graphBaseUrl}/users/${organizer}/onlineMeetings/getAllTranscripts`), 'organizerRequired');
    const other = emu.tenant.users.find((u) => u.id !== organizer && u.hasTeamsData)!;
    expect((await get(fnUrl('Transcripts', other.id).replace(`users/${other.id}`, `users/${organizer}`))).status).toBe(400);
    expect((await get(fnUrl('Transcripts', organizer, ',startDateTime=yesterday'))).status).toBe(400);
  });

  it('serve content (text/vtt with speakers), metadataContent and recordings (video/mp4) byte-identical to the ledger', async () => {
    const arts = emu.meetingArtifacts();
    const t = arts.find((a) => a.kind === 'transcript' && emu.tenant.user(a.organizerId)?.deletedMs === undefined)!;
    const r = await get(t.contentUrl);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/vtt');
    expect(sha256(r.bytes)).toBe(t.sha256);
    const text = r.bytes.toString('utf8');
    expect(text.startsWith('WEBVTT\n')).toBe(true);
    expect(text).toMatch(/\n\d{2}:\d{2}:\d{2}\.\d{3} --> \d{2}:\d{2}:\d{2}\.\d{3}\n<v [^>]+>.+<\/v>\n/);
    expect((await get(`${t.contentUrl}?$format=text/vtt`)).bytes.equals(r.bytes)).toBe(true);
    expect((await get(`${t.contentUrl}?$format=docx`)).status).toBe(400);
    const unattributed = await get(t.contentUrl, { accept: 'application/vnd.microsoft.graph.transcript+text' });
    expect(unattributed.headers.get('content-type')).toBe('application/vnd.microsoft.graph.transcript+text');
    expect(sha256(unattributed.bytes)).toBe(t.unattributedSha256);
    expect(unattributed.bytes.toString()).not.toContain('<v ');
    const meta = await get(t.metadataContentUrl!);
    expect(meta.headers.get('content-type')).toBe('text/vtt');
    expect(sha256(meta.bytes)).toBe(t.metadataSha256);
    const cue = JSON.parse(meta.bytes.toString().split('\n')[3]!);
    expect(Object.keys(cue)).toEqual(['startDateTime', 'endDateTime', 'speakerName', 'spokenText', 'spokenLanguage']);
    const rec = arts.find((a) => a.kind === 'recording' && emu.tenant.user(a.organizerId)?.deletedMs === undefined)!;
    const video = await get(rec.contentUrl);
    expect(video.headers.get('content-type')).toBe('video/mp4');
    expect(Number(video.headers.get('content-length'))).toBe(rec.size);
    expect(video.bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
    expect(sha256(video.bytes)).toBe(rec.sha256);
    // a meeting's own lists, a single item, and the meeting itself
    const base = t.contentUrl.replace(/\/transcripts\/.*$/, '');
    const list = await get(`${base}/transcripts`);
    expect(list.body.value.map((v: any) => v.id)).toContain(t.id);
    const one = await get(t.contentUrl.replace(/\/content$/, ''));
    expect(one.body.contentCorrelationId).toBe(t.contentCorrelationId);
    const byCorrelation = await get(
      `${base}/transcripts?$filter=${encodeURIComponent(`contentCorrelationId eq '${t.contentCorrelationId}'`)}`,
    );
    expect(byCorrelation.body.value.map((v: any) => v.id)).toEqual([t.id]);
    const meeting = await get(base);
    expect(meeting.body.chatInfo.threadId).toBe(t.chatId);
    expect(meeting.body.joinWebUrl).toBe(t.joinWebUrl);
    expectShape(await get(`${base}/transcripts/bm90LWFuLWlk/content`), 'artifactNotFound');
    expect(emu.counters.byRoute.meetingContent).toBeGreaterThanOrEqual(4);
    expect(emu.counters.transcriptBytesServed).toBeGreaterThanOrEqual(r.bytes.length + meta.bytes.length);
    expect(emu.counters.recordingBytesServed).toBeGreaterThanOrEqual(rec.size);
  });

  it('refuse transcripts (never recordings) with GraphAccessToTranscriptsDisabled when the tenant switch is off', async () => {
    const organizer = organizerWithTranscripts();
    const t = emu.meetingArtifacts().find((a) => a.kind === 'transcript' && a.organizerId === organizer)!;
    emu.setFaults({ transcriptApiAccess: false });
    try {
      expectShape(await get(fnUrl('Transcripts', organizer)), 'transcriptsDisabled');
      expectShape(await get(fnUrl('Transcripts', organizer, '', '/delta')), 'transcriptsDisabled');
      expectShape(await get(t.contentUrl), 'transcriptsDisabled');
      expect((await get(fnUrl('Recordings', organizer))).status).toBe(200);
    } finally {
      emu.setFaults({ transcriptApiAccess: true });
    }
  });

  it('without speaker attribution: no format serves the unattributed form, text/vtt and metadataContent are refused', async () => {
    const t = emu.meetingArtifacts().find((a) => a.kind === 'transcript' && emu.tenant.user(a.organizerId)?.deletedMs === undefined)!;
    emu.setFaults({ transcriptSpeakerAttribution: false });
    try {
      const plain = await get(t.contentUrl);
      expect(plain.headers.get('content-type')).toBe('application/vnd.microsoft.graph.transcript+text');
      expect(sha256(plain.bytes)).toBe(t.unattributedSha256);
      expectShape(await get(`${t.contentUrl}?$format=text/vtt`), 'speakerAttributionNotAllowed');
      expectShape(await get(t.contentUrl, { accept: 'text/vtt' }), 'speakerAttributionNotAllowed');
      expectShape(await get(t.metadataContentUrl!), 'speakerAttributionNotAllowed');
    } finally {
      emu.setFaults({ transcriptSpeakerAttribution: true });
    }
  });

  it('refuse organisers the application access policy is not granted to, naming the user', async () => {
    const organizer = organizerWithTranscripts();
    const t = emu.meetingArtifacts().find((a) => a.kind === 'transcript' && a.organizerId === organizer)!;
    emu.setFaults({ meetingAccessPolicyUsers: [] });
    try {
      const r = await get(fnUrl('Transcripts', organizer));
      expectShape(r, 'noAccessPolicy');
      expect(r.body.error.message).toContain(`'${organizer}'`);
      expectShape(await get(fnUrl('Recordings', organizer)), 'noAccessPolicy');
      expectShape(await get(t.contentUrl), 'noAccessPolicy');
      emu.setFaults({ meetingAccessPolicyUsers: [organizer] });
      expect((await get(fnUrl('Transcripts', organizer))).status).toBe(200);
      const other = emu
        .meetingArtifacts()
        .find((a) => a.organizerId !== organizer && emu.tenant.user(a.organizerId)?.deletedMs === undefined);
      if (other) expectShape(await get(fnUrl('Transcripts', other.organizerId)), 'noAccessPolicy');
    } finally {
      emu.setFaults({ meetingAccessPolicyUsers: null });
    }
  });

  it('refuse each route without its role: transcripts, recordings, the meeting itself', async () => {
    const organizer = organizerWithTranscripts();
    const t = emu.meetingArtifacts().find((a) => a.kind === 'transcript' && a.organizerId === organizer)!;
    const cases = [
      ['OnlineMeetingTranscript.Read.All', fnUrl('Transcripts', organizer), 'missingTranscriptRole', fnUrl('Recordings', organizer)],
      ['OnlineMeetingRecording.Read.All', fnUrl('Recordings', organizer), 'missingRecordingRole', t.contentUrl],
      ['OnlineMeetings.Read.All', t.contentUrl.replace(/\/transcripts\/.*$/, ''), 'missingMeetingRole', fnUrl('Transcripts', organizer)],
    ] as const;
    for (const [role, refused, shape, allowed] of cases) {
      emu.setFaults({ missingRoles: [role] });
      try {
        const r = await get(refused);
        expectShape(r, shape);
        expect(r.body.error.message).toContain(`'${role}`);
        expect((await get(allowed)).status).toBe(200);
      } finally {
        emu.setFaults({ missingRoles: [] });
      }
    }
  });

  it('delta rounds serve everything once, then only what was added (or became visible) since the deltaLink', async () => {
    const organizer = organizerWithTranscripts();
    const chatId = emu.meetingArtifacts().find((a) => a.organizerId === organizer)!.chatId;
    const round = async (url: string) => {
      const items: any[] = [];
      let next: string | undefined = url;
      let res: Res | undefined;
      while (next) {
        res = await get(next);
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        items.push(...res.body.value);
        next = res.body['@odata.nextLink'];
      }
      expect(next).toBeUndefined();
      return { items, deltaLink: res!.body['@odata.deltaLink'] as string };
    };
    const first = await round(`${fnUrl('Transcripts', organizer, '', '/delta')}?$top=2`);
    expect(first.items.map((i) => i.id).sort()).toEqual(
      emu
        .meetingArtifacts()
        .filter((a) => a.kind === 'transcript' && a.organizerId === organizer)
        .map((a) => a.id)
        .sort(),
    );
    expect(first.deltaLink).toMatch(/getAllTranscripts\(meetingOrganizerUserId='[^']+'\)\/delta\?skipToken=/);
    expect((await round(first.deltaLink)).items).toEqual([]);
    // one added on time, one added late (visible an hour after it was created)
    const added = await control('mutations', { op: 'meetingArtifacts', chatId, atMs: NOW - 3 * DAY });
    const second = await round(first.deltaLink);
    expect(second.items.map((i) => i.id)).toEqual([added.results[0].transcriptId]);
    emu.setFaults({ artifactLateVisibility: { fraction: 1, maxDelayMs: 3_600_000 } });
    try {
      const late = await control('mutations', { op: 'meetingArtifacts', chatId, atMs: NOW - 60_000 });
      const third = await round(second.deltaLink);
      expect(third.items).toEqual([]);
      now = NOW + 2 * 3_600_000;
      const fourth = await round(third.deltaLink);
      expect(fourth.items.map((i) => i.id)).toEqual([late.results[0].transcriptId]);
    } finally {
      now = NOW;
      emu.setFaults({ artifactLateVisibility: null });
    }
  });

  it("serve a deleted organiser's artifacts for 30 days, then 404", async () => {
    const deleted = emu.tenant.users.find((u) => u.deletedMs !== undefined)!;
    const own = emu.meetingArtifacts().filter((a) => a.organizerId === deleted.id);
    if (own.length === 0) {
      // the deleted user organises nothing in this seed: delete an organiser the way a test would
      const organizer = emu.meetingArtifacts().find((a) => emu.tenant.user(a.organizerId)?.deletedMs === undefined)!.organizerId;
      await control('mutations', { op: 'deleteUser', userId: organizer, atMs: NOW - DAY });
      return void (await expectServedThenGone(organizer, NOW - DAY));
    }
    await expectServedThenGone(deleted.id, deleted.deletedMs!);
  });

  it('throttle on the meeting bucket (faults meetingRps) with Retry-After', async () => {
    const organizer = organizerWithTranscripts();
    emu.setFaults({ meetingRps: 1, meetingBurst: 1 });
    try {
      const rs = await Promise.all(Array.from({ length: 4 }, () => get(fnUrl('Recordings', organizer))));
      const limited = rs.filter((r) => r.status === 429);
      expect(limited.length).toBeGreaterThanOrEqual(2);
      expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(emu.counters.meetingThrottled).toBeGreaterThanOrEqual(limited.length);
    } finally {
      emu.setFaults({ meetingRps: null });
    }
  });
});

async function expectServedThenGone(organizer: string, deletedMs: number): Promise<void> {
  expect((await get(fnUrl('Transcripts', organizer))).status).toBe(200);
  now = deletedMs + 31 * DAY;
  try {
    const r = await get(fnUrl('Transcripts', organizer));
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('Request_ResourceNotFound');
  } finally {
    now = NOW;
  }
}

describe('the large recording', () => {
  it('streams a configurable size in chunks without a Content-Length, byte-identical to the ledger, one chunk at a time', async () => {
    const size = 3 * 1024 * 1024 + 17;
    emu.setFaults({ largeRecordingBytes: size, recordingChunkDelayMs: 2 });
    try {
      const large = emu.meetingArtifacts().find((a) => a.large)!;
      expect(large.kind).toBe('recording');
      expect(large.bytes).toBeNull();
      expect(large.size).toBe(size);
      const r = await fetch(large.contentUrl, { headers: { authorization: `Bearer ${token}` } });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-length')).toBeNull();
      expect(r.headers.get('content-type')).toBe('video/mp4');
      const reader = r.body!.getReader();
      const h = createHash('sha256');
      let got = 0;
      let inFlightSeen = false;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        // while the client reads, the server is still sending: the body is streamed, not buffered
        if (got === 0) inFlightSeen = emu.counters.recordingsInFlight === 1;
        h.update(value);
        got += value.length;
      }
      expect(inFlightSeen).toBe(true);
      expect(got).toBe(size);
      expect(h.digest('hex')).toBe(large.sha256);
      expect(emu.counters.recordingsInFlight).toBe(0);
      // the mdat box declares the rest of the file
      const head = Buffer.concat([...(await import('../meeting-store')).recordingChunks(large.id, size)].slice(0, 1));
      expect(head.readUInt32BE(32)).toBe(size - 32);
    } finally {
      emu.setFaults({ largeRecordingBytes: null, recordingChunkDelayMs: 0 });
    }
  });
});

describe('knobs and control plane', () => {
  it('validates the new fault knobs', () => {
    for (const bad of [
      { missingRoles: ['Mail.Read'] },
      { copilotUnlicensed: 'maybe' },
      { copilotRps: 0 },
      { meetingAccessPolicyUsers: 'everyone' },
      { transcriptApiAccess: 'no' },
      { largeRecordingBytes: -1 },
      { artifactLateVisibility: { fraction: 2, maxDelayMs: 1 } },
    ]) {
      expect(() => emu.setFaults(bad as any), JSON.stringify(bad)).toThrow();
    }
    const o = parseMainArgs([
      '--copilot-rps',
      '5',
      '--large-recording-bytes',
      '1000',
      '--transcripts-disabled',
      '--missing-roles',
      'OnlineMeetings.Read.All',
      '--access-policy-users',
      'none',
      '--deleted-users',
      '1',
    ]);
    expect(o.faults).toMatchObject({
      copilotRps: 5,
      largeRecordingBytes: 1000,
      transcriptApiAccess: false,
      missingRoles: ['OnlineMeetings.Read.All'],
      meetingAccessPolicyUsers: [],
    });
    expect(o.tenant).toMatchObject({ deletedUsers: 1 });
  });

  it('reports per-user counts over HTTP and counts requests per route and user', async () => {
    const stats = await (await fetch(`${emu.origin}/_emulator/artifact-stats`)).json();
    expect(stats.copilotLicensedUsers.length).toBeGreaterThan(0);
    expect(Object.values(stats.transcriptsByOrganizer as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(
      emu.meetingArtifacts().filter((a) => a.kind === 'transcript').length,
    );
    const counters = await (await fetch(`${emu.origin}/_emulator/counters?byEntity=1`)).json();
    expect(counters.byRoute.copilotInteractions).toBeGreaterThan(0);
    expect(counters.byRoute.meetingArtifacts).toBeGreaterThan(0);
    expect(counters.copilotLedgerSize).toBeGreaterThan(0);
    expect(Object.keys(counters.artifactRequestsByUser).length).toBeGreaterThan(0);
    // The same requests split by route (the bench's per-kind costs): every one counted once.
    const byRoute = counters.artifactRequestsByUserRoute as Record<string, number>;
    const routes = new Set(Object.keys(byRoute).map((k) => k.split('|')[0]));
    expect([...routes].every((r) => ['copilot', 'meetingList', 'meetingContent'].includes(r as string))).toBe(true);
    expect(routes.has('copilot') && routes.has('meetingList') && routes.has('meetingContent')).toBe(true);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    expect(sum(Object.values(byRoute))).toBe(sum(Object.values(counters.artifactRequestsByUser as Record<string, number>)));
    expect(
      sum(
        Object.entries(byRoute)
          .filter(([k]) => k.startsWith('copilot|'))
          .map(([, v]) => v),
      ),
    ).toBe(counters.copilotRequests);
    expect(
      sum(
        Object.entries(byRoute)
          .filter(([k]) => k.startsWith('meetingContent|'))
          .map(([, v]) => v),
      ),
    ).toBe(counters.transcriptContentRequests + counters.recordingContentRequests);
  });
});
