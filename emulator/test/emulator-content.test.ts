// The emulator's issue-4 content, through real HTTPS and a real ClientSecretCredential token: hosted
// contents (bytes, per-chat 429), files through the shares API (302 to the files origin, no token there),
// retained versions, the 21-day rule for deleted messages, deleted teams, and sender filters.

import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientSecretCredential } from '@azure/identity';
import { startTestEmulator } from '../../test/support/emulator';
import { shareIdOf, versionKeyOf, type Emulator } from '../index';
import { F_RICH, F_SYSTEM } from '../message-flags';

interface Res {
  status: number;
  headers: Headers;
  body: any;
  bytes: Buffer;
}

const DAY = 86_400_000;
const NOW = Date.parse('2026-06-15T12:00:00.000Z');
const WIDE = { gt: NOW - 400 * DAY, lt: NOW + DAY };
let emu: Emulator;
let token: string;

async function get(
  url: string,
  opts: { token?: string | null; headers?: Record<string, string>; redirect?: RequestRedirect } = {},
): Promise<Res> {
  const headers: Record<string, string> = { ...opts.headers };
  const t = opts.token === undefined ? token : opts.token;
  if (t) headers.authorization = `Bearer ${t}`;
  const r = await fetch(url, { headers, redirect: opts.redirect ?? 'follow' });
  const bytes = Buffer.from(await r.arrayBuffer());
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch {
    body = undefined;
  }
  return { status: r.status, headers: r.headers, body, bytes };
}

async function getAll(url: string): Promise<any[]> {
  const items: any[] = [];
  let next: string | undefined = url;
  for (let pages = 0; next; pages++) {
    const r = await get(next);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    items.push(...r.body.value);
    next = r.body['@odata.nextLink'];
    if (pages > 10_000) throw new Error('endless paging');
  }
  return items;
}

const iso = (ms: number) => new Date(ms).toISOString();
const range = (gt = WIDE.gt, lt = WIDE.lt) => `lastModifiedDateTime gt ${iso(gt)} and lastModifiedDateTime lt ${iso(lt)}`;
const chatUrl = (userId: string, filter = range(), top = 50, fn = 'getAllMessages') =>
  `${emu.graphBaseUrl}/users/${userId}/chats/${fn}?$top=${top}&$filter=${encodeURIComponent(filter)}`;
const teamUrl = (teamId: string, fn = 'getAllMessages', top = 50) =>
  `${emu.graphBaseUrl}/teams/${teamId}/channels/${fn}?$top=${top}&$filter=${encodeURIComponent(range())}`;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const keysOf = (items: any[]) => new Set(items.map(versionKeyOf));

async function everyServedMessage(): Promise<any[]> {
  const out: any[] = [];
  for (const e of emu.tenant.exportableEntities())
    out.push(...(await getAll(e.kind === 'user' ? chatUrl(e.id, range(), 999) : teamUrl(e.id, 'getAllMessages', 999))));
  return out;
}

beforeAll(async () => {
  emu = await startTestEmulator({
    clock: () => NOW,
    tenant: { seed: 7, users: 12, teams: 2, historyDays: 10, retentionPolicy: true, deletedTeams: 2 },
    faults: { hostedContentRps: null },
  });
  const cred = new ClientSecretCredential(emu.tenantId, emu.clientId, emu.clientSecret, {
    authorityHost: emu.authorityHost,
    disableInstanceDiscovery: true,
  });
  token = (await cred.getToken(`${emu.origin}/.default`)).token;
});

afterAll(async () => {
  await emu?.close();
});

describe('hosted contents', () => {
  it('messages reference images, custom emoji, code snippets and custom reactions that download with the expected bytes and content type', async () => {
    const all = await everyServedMessage();
    const urls = new Map<string, string>();
    for (const m of all) {
      for (const x of (m.body.content ?? '').matchAll(/<img src="([^"]+)"/g)) urls.set(x[1], 'image');
      for (const x of (m.body.content ?? '').matchAll(/<customemoji [^>]*source="([^"]+)"/g)) urls.set(x[1], 'emoji');
      for (const a of m.attachments)
        if (a.contentType === 'application/vnd.microsoft.card.codesnippet') urls.set(JSON.parse(a.content).codeSnippetUrl, 'snippet');
      for (const r of m.reactions) if (r.reactionType === 'custom') urls.set(r.reactionContentUrl, 'reaction');
    }
    expect(new Set(urls.values())).toEqual(new Set(['image', 'emoji', 'snippet', 'reaction']));
    const expected = new Map(emu.hostedContents().map((h) => [h.url, h]));
    const forms = new Set<string>();
    for (const [url, kind] of urls) {
      const exp = expected.get(url);
      expect(exp?.kind, url).toBe(kind);
      expect(url.startsWith(`${emu.graphBaseUrl}/`)).toBe(true);
      forms.add(url.includes('/replies/') ? 'reply' : url.includes('/channels/') ? 'channel' : 'chat');
    }
    expect(forms).toEqual(new Set(['chat', 'channel', 'reply']));
    // download one of each kind and each URL form
    const sample = new Map<string, string>();
    for (const [url, kind] of urls) {
      const form = url.includes('/replies/') ? 'reply' : url.includes('/channels/') ? 'channel' : 'chat';
      if (!sample.has(kind)) sample.set(kind, url);
      if (!sample.has(form)) sample.set(form, url);
    }
    for (const url of sample.values()) {
      const exp = expected.get(url)!;
      const r = await get(url);
      expect(r.status, url).toBe(200);
      expect(r.headers.get('content-type')).toBe(exp.contentType);
      expect(sha256(r.bytes)).toBe(exp.sha256);
      if (exp.kind === 'snippet') expect(r.bytes.toString('utf8')).toContain('code snippet');
      else expect(r.bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    }
    expect(emu.counters.hostedContentRequests).toBeGreaterThanOrEqual(sample.size);
  });

  it('lists hosted contents without bytes, and answers 404 for unknown ids and 401 without a token', async () => {
    const hc = emu.hostedContents().find((h) => h.kind === 'image')!;
    const list = await get(hc.url.replace(/\/hostedContents\/.*$/, '/hostedContents'));
    expect(list.status).toBe(200);
    expect(list.body.value.map((v: any) => v.id)).toContain(hc.id);
    expect(list.body.value.every((v: any) => v.contentBytes === null)).toBe(true);
    const unknown = await get(hc.url.replace(hc.id, 'bm90LWEtcmVhbC1pZA'));
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('NotFound');
    expect(unknown.body.error.innerError['request-id']).toBeTruthy();
    const wrongMessage = await get(hc.url.replace(`/messages/${hc.messageId}/`, '/messages/1/'));
    expect(wrongMessage.status).toBe(404);
    const anonymous = await get(hc.url, { token: null });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe('InvalidAuthenticationToken');
  });

  it('limits hosted contents per chat: beyond the burst it answers 429 with Retry-After, other chats unaffected', async () => {
    const all = emu.hostedContents();
    const a = all.find((h) => h.url.includes('/chats/'))!;
    const b = all.find((h) => h.url.includes('/chats/') && h.conversationId !== a.conversationId)!;
    emu.setFaults({ hostedContentRps: 1, hostedContentBurst: 2 });
    try {
      const before = emu.counters.hostedContentThrottledByConversation[a.conversationId] ?? 0;
      const rs = await Promise.all(Array.from({ length: 6 }, () => get(a.url)));
      const other = await get(b.url);
      const throttled = rs.filter((r) => r.status === 429);
      expect(rs.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(1);
      expect(throttled.length).toBeGreaterThanOrEqual(3);
      expect(throttled[0]?.body.error.code).toBe('TooManyRequests');
      const wait = Number(throttled[0]?.headers.get('retry-after'));
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(1);
      expect(other.status).toBe(200);
      expect(emu.counters.hostedContentThrottledByConversation[a.conversationId]).toBe(before + throttled.length);
      expect(emu.counters.hostedContentThrottledByConversation[b.conversationId] ?? 0).toBe(0);
      await new Promise((r) => setTimeout(r, wait * 1000 + 50));
      expect((await get(a.url)).status).toBe(200);
    } finally {
      emu.setFaults({ hostedContentRps: null });
    }
  });
});

describe('files (shares API)', () => {
  it('redirects a present file to a pre-authenticated URL on the files origin whose bytes match, without the token being sent there', async () => {
    emu.resetCounters();
    const served = await everyServedMessage();
    const refs = served.flatMap((m) => m.attachments.filter((a: any) => a.contentType === 'reference'));
    const files = emu.files();
    expect(refs.some((a: any) => a.contentUrl.startsWith(`${emu.filesOrigin}/`))).toBe(true);
    const present = files.find((f) => f.state === 'present' && f.contentUrl.startsWith(emu.filesOrigin))!;
    expect(refs.find((a: any) => a.contentUrl === present.contentUrl)?.name).toBe(present.name);

    const redirect = await get(`${emu.graphBaseUrl}/shares/${shareIdOf(present.contentUrl)}/driveItem/content`, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    const location = redirect.headers.get('location')!;
    expect(location.startsWith(`${emu.filesOrigin}/download/`)).toBe(true);
    expect(location).toContain('tempauth=');
    const download = await get(location, { token: null });
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe(present.contentType);
    expect(sha256(download.bytes)).toBe(present.sha256);
    expect(download.bytes.equals(present.bytes!)).toBe(true);
    expect(emu.counters.filesAuthorizationHeadersSeen).toBe(0);
    expect(emu.counters.filesDownloaded).toBe(1);

    const meta = await get(`${emu.graphBaseUrl}/shares/${shareIdOf(present.contentUrl)}/driveItem`);
    expect(meta.status).toBe(200);
    expect(meta.body).toMatchObject({ name: present.name, size: present.bytes!.length, webUrl: present.contentUrl });
    expect(meta.body['@microsoft.graph.downloadUrl'].startsWith(`${emu.filesOrigin}/download/`)).toBe(true);

    // the historic contoso.sharepoint.com attachments resolve through the shares API as well
    const legacy = files.find((f) => f.contentUrl.startsWith('https://contoso.sharepoint.com/'))!;
    const legacyRedirect = await get(`${emu.graphBaseUrl}/shares/${shareIdOf(legacy.contentUrl)}/driveItem/content`, {
      redirect: 'manual',
    });
    expect(legacyRedirect.status).toBe(302);
  });

  it('counts a client that sends its token to the files origin, and refuses it', async () => {
    emu.resetCounters();
    const present = emu.files().find((f) => f.state === 'present' && f.contentUrl.startsWith(emu.filesOrigin))!;
    const direct = await get(present.contentUrl);
    expect(direct.status).toBe(401);
    const redirect = await get(`${emu.graphBaseUrl}/shares/${shareIdOf(present.contentUrl)}/driveItem/content`, { redirect: 'manual' });
    const withToken = await get(redirect.headers.get('location')!);
    expect(withToken.status).toBe(401);
    const forged = await get(redirect.headers.get('location')!.replace(/tempauth=.*$/, 'tempauth=1.abc'), { token: null });
    expect(forged.status).toBe(401);
    expect(emu.counters.filesAuthorizationHeadersSeen).toBe(2);
    expect(emu.counters.filesDownloaded).toBe(0);
  });

  it('answers 404 itemNotFound for files that are gone and 403 accessDenied for forbidden ones', async () => {
    const files = emu.files();
    const missing = files.find((f) => f.state === 'missing')!;
    const forbidden = files.find((f) => f.state === 'forbidden')!;
    expect(missing.bytes).toBeNull();
    for (const suffix of ['', '/content']) {
      const gone = await get(`${emu.graphBaseUrl}/shares/${shareIdOf(missing.contentUrl)}/driveItem${suffix}`, { redirect: 'manual' });
      expect(gone.status).toBe(404);
      expect(gone.body.error.code).toBe('itemNotFound');
      const denied = await get(`${emu.graphBaseUrl}/shares/${shareIdOf(forbidden.contentUrl)}/driveItem${suffix}`, { redirect: 'manual' });
      expect(denied.status).toBe(403);
      expect(denied.body.error.code).toBe('accessDenied');
    }
    const unknown = await get(`${emu.graphBaseUrl}/shares/${shareIdOf(`${emu.filesOrigin}/sites/x/nothing.docx`)}/driveItem/content`, {
      redirect: 'manual',
    });
    expect(unknown.status).toBe(404);
    expect((await get(`${emu.graphBaseUrl}/shares/not-a-share-id/driveItem`)).status).toBe(400);
  });
});

describe('retained messages and deletions', () => {
  it('serves previous edit versions and deletions through getAllRetainedMessages with a retention policy', async () => {
    const chat = emu.tenant.chats.find((c) => c.kind === 'group')!;
    const user = chat.memberIds.find((id) => emu.tenant.user(id)?.hasTeamsData)!;
    const edited = emu.tenant.postMessage({ chatId: chat.id }, { fromUserId: user, text: 'first', atMs: NOW - 3 * DAY });
    emu.tenant.editMessage(chat.id, edited, 'second', NOW - 2 * DAY);
    emu.tenant.editMessage(chat.id, edited, 'third', NOW - DAY);
    const deleted = emu.tenant.postMessage({ chatId: chat.id }, { fromUserId: user, text: 'regret', atMs: NOW - 3 * DAY });
    emu.tenant.deleteMessage(chat.id, deleted, NOW - 2 * DAY);

    const retained = await getAll(chatUrl(user, range(), 7, 'getAllRetainedMessages'));
    expect(keysOf(retained)).toEqual(new Set(emu.tenant.retainedVersions({ kind: 'user', id: user }).map((e) => e.key)));
    expect(retained.length).toBe(keysOf(retained).size);
    expect(
      retained
        .filter((m) => m.id === edited)
        .map((m) => m.body.content)
        .sort(),
    ).toEqual(['first', 'second']);
    const ofDeleted = retained.filter((m) => m.id === deleted);
    expect(ofDeleted.map((m) => m.body.content ?? 'deleted').sort()).toEqual(['deleted', 'regret']);
    // current versions are not retained ones
    const current = await getAll(chatUrl(user));
    expect(current.find((m) => m.id === edited)?.body.content).toBe('third');
    const currentKeys = keysOf(current);
    expect(retained.filter((m) => m.id === edited).every((m) => !currentKeys.has(versionKeyOf(m)))).toBe(true);

    const team = emu.tenant.teams[0]!;
    const teamRetained = await getAll(teamUrl(team.id, 'getAllRetainedMessages', 5));
    expect(keysOf(teamRetained)).toEqual(new Set(emu.tenant.retainedVersions({ kind: 'team', id: team.id }).map((e) => e.key)));
    expect(teamRetained.length).toBeGreaterThan(0);
  });

  it('answers 403 Forbidden on getAllRetainedMessages without a retention policy', async () => {
    const user = emu.tenant.exportableEntities().find((e) => e.kind === 'user')!;
    emu.tenant.retentionPolicy = false;
    try {
      for (const url of [
        chatUrl(user.id, range(), 50, 'getAllRetainedMessages'),
        teamUrl(emu.tenant.teams[0]!.id, 'getAllRetainedMessages'),
      ]) {
        const r = await get(url);
        expect(r.status).toBe(403);
        expect(r.body.error.code).toBe('Forbidden');
      }
    } finally {
      emu.tenant.retentionPolicy = true;
    }
  });

  it('stops serving a deleted message through getAllMessages 21 days after its deletion; retained still has it', async () => {
    const team = emu.tenant.teams[1]!;
    const channel = team.channels[0]!;
    const old = emu.tenant.postMessage({ teamId: team.id, channelId: channel.id }, { text: 'long gone', atMs: NOW - 40 * DAY });
    emu.tenant.deleteMessage(channel.id, old, NOW - 21 * DAY - 1);
    const recent = emu.tenant.postMessage({ teamId: team.id, channelId: channel.id }, { text: 'recently gone', atMs: NOW - 40 * DAY });
    emu.tenant.deleteMessage(channel.id, recent, NOW - 21 * DAY + 1000);
    const current = await getAll(teamUrl(team.id));
    expect(current.map((m) => m.id)).not.toContain(old);
    expect(current.find((m) => m.id === recent)?.deletedDateTime).toBe(iso(NOW - 21 * DAY + 1000));
    expect(emu.tenant.currentVersions({ kind: 'team', id: team.id }).map((e) => (e.message as any).id)).not.toContain(old);
    const retained = await getAll(teamUrl(team.id, 'getAllRetainedMessages'));
    expect(
      retained
        .filter((m) => m.id === old)
        .map((m) => m.body.content ?? 'deleted')
        .sort(),
    ).toEqual(['deleted', 'long gone']);
  });
});

describe('deleted teams', () => {
  it('are listed by /teamwork/deletedTeams (paged), not by /teams, and exported through their own route', async () => {
    const deletedIds = emu.tenant.deletedTeams.map((t) => t.id);
    expect(deletedIds.length).toBe(2);
    const listed = await getAll(`${emu.graphBaseUrl}/teamwork/deletedTeams?$top=1`);
    expect(listed.map((t) => t.id).sort()).toEqual([...deletedIds].sort());
    const live = await getAll(`${emu.graphBaseUrl}/teams`);
    expect(live.some((t) => deletedIds.includes(t.id))).toBe(false);

    const id = deletedIds[0]!;
    const items = await getAll(
      `${emu.graphBaseUrl}/teamwork/deletedTeams/${id}/channels/getAllMessages?$top=4&$filter=${encodeURIComponent(range())}`,
    );
    const expected = emu.tenant.currentVersions({ kind: 'deletedTeam', id });
    expect(expected.length).toBeGreaterThan(4);
    expect(keysOf(items)).toEqual(new Set(expected.map((e) => e.key)));
    expect(items.every((m) => m.channelIdentity.teamId === id)).toBe(true);
    expect((await get(teamUrl(id))).status).toBe(404);
    const noFilter = await get(`${emu.graphBaseUrl}/teamwork/deletedTeams/${id}/channels/getAllMessages`);
    expect(noFilter.status).toBe(400);
  });
});

describe('sender filters', () => {
  const EXTERNAL =
    "from/user/userIdentityType eq 'federatedUser' or from/user/userIdentityType eq 'anonymousGuest' or from/application/applicationIdentityType eq 'bot' or messageType eq 'systemEventMessage'";
  const withSenders = (senders: string) => `(${senders}) and (${range()})`;

  /** The member of a group or meeting chat whose export holds the most non-tenant messages. */
  async function userWithExternals(): Promise<{ user: string; all: any[] }> {
    let best: { user: string; all: any[]; n: number } | undefined;
    for (const e of emu.tenant.exportableEntities()) {
      if (e.kind !== 'user') continue;
      const all = await getAll(chatUrl(e.id, range(), 999));
      const n = new Set(
        all.map((m) => m.from?.user?.userIdentityType ?? (m.from?.application ? 'app' : null)).filter((t) => t && t !== 'aadUser'),
      ).size;
      if (!best || n > best.n) best = { user: e.id, all, n };
    }
    return best!;
  }

  it('seeds federated users, anonymous guests, bots, system events and guests as senders; guests have no export of their own', async () => {
    const served = (await everyServedMessage()).filter((m) => m.chatId);
    expect(served.some((m) => m.from?.user?.userIdentityType === 'federatedUser')).toBe(true);
    expect(served.some((m) => m.from?.user?.userIdentityType === 'anonymousGuest')).toBe(true);
    expect(served.some((m) => m.from?.application?.applicationIdentityType === 'bot' && m.from.user === null)).toBe(true);
    expect(served.some((m) => m.body.content === '<systemEventMessage/>')).toBe(true);
    const guests = emu.tenant.users.filter((u) => u.userType === 'Guest');
    expect(served.some((m) => guests.some((g) => g.id === m.from?.user?.id && m.from.user.userIdentityType === 'aadUser'))).toBe(true);
    for (const g of guests) {
      const r = await get(chatUrl(g.id));
      expect(r.status).toBe(404);
    }
  });

  it('the union of "from/user/id eq self" and the non-tenant/system clauses is the unfiltered export minus messages other tenant users sent', async () => {
    const { user, all } = await userWithExternals();
    const mine = await getAll(chatUrl(user, withSenders(`from/user/id eq '${user}'`), 3));
    const external = await getAll(chatUrl(user, withSenders(EXTERNAL), 3));
    const both = await getAll(chatUrl(user, withSenders(`from/user/id eq '${user}' or ${EXTERNAL}`), 5));
    expect(mine.length).toBeGreaterThan(0);
    expect(external.length).toBeGreaterThan(0);
    expect(mine.every((m) => m.from === null || m.from.user?.id === user)).toBe(true);
    const sender = (m: any) => emu.tenant.senderOf(m.chatId, m.id);
    const byOtherTenantUser = (m: any) => {
      const s = sender(m);
      return s.kind === 'user' && s.id !== user;
    };
    const expected = new Set(all.filter((m) => !byOtherTenantUser(m)).map(versionKeyOf));
    const union = new Set([...keysOf(mine), ...keysOf(external)]);
    expect(union).toEqual(expected);
    expect(keysOf(both)).toEqual(expected);
    expect(both.length).toBe(expected.size);
    // and the complement really was sent by other tenant users
    expect(all.filter(byOtherTenantUser).length).toBeGreaterThan(0);
  });

  it('a deleted message still matches its original sender (from is null once deleted)', async () => {
    const chat = emu.tenant.chats.find((c) => c.kind === 'oneOnOne')!;
    const [a, b] = chat.memberIds as [string, string];
    const exporter = emu.tenant.user(a)?.hasTeamsData ? a : b;
    const author = exporter === a ? b : a;
    const id = emu.tenant.postMessage({ chatId: chat.id }, { fromUserId: author, text: 'oops', atMs: NOW - 5000 });
    emu.tenant.deleteMessage(chat.id, id, NOW - 1000);
    const byAuthor = await getAll(chatUrl(exporter, withSenders(`from/user/id eq '${author}'`)));
    const hit = byAuthor.find((m) => m.id === id);
    expect(hit?.from).toBeNull();
    expect(hit?.deletedDateTime).toBe(iso(NOW - 1000));
    const byExporter = await getAll(chatUrl(exporter, withSenders(`from/user/id eq '${exporter}'`)));
    expect(byExporter.some((m) => m.id === id)).toBe(author === exporter);
  });

  it('rejects unknown sender clauses, sender clauses on channel export, and a sender filter without a date range', async () => {
    const user = emu.tenant.exportableEntities().find((e) => e.kind === 'user')!.id;
    const bad = [
      chatUrl(user, withSenders("from/user/displayName eq 'Ada'")),
      chatUrl(user, withSenders("from/user/userIdentityType eq 'martian'")),
      chatUrl(user, `from/user/id eq '${user}'`),
      chatUrl(user, withSenders(`from/user/id eq '${user}'`), 50, 'getAllRetainedMessages'),
      `${emu.graphBaseUrl}/teams/${emu.tenant.teams[0]!.id}/channels/getAllMessages?$filter=${encodeURIComponent(withSenders(`from/user/id eq '${user}'`))}`,
    ];
    for (const url of bad) {
      const r = await get(url);
      expect(r.status, url).toBe(400);
      expect(r.body.error.code).toBe('BadRequest');
    }
    // date range first is accepted as well
    expect((await get(chatUrl(user, `(${range()}) and (messageType eq 'systemEventMessage')`))).status).toBe(200);
  });
});

describe('reactions added through the tenant', () => {
  it('keep the type they were given at any instant; only "custom" adds an org custom emoji with its hosted content', async () => {
    // A seeded, rich chat message (the kind whose seeded reactions may be custom emoji), last changed
    // before the instants below, in a chat of a user whose export serves it.
    const chat = emu.tenant.chats.find((c) => c.memberIds.some((id) => emu.tenant.user(id)?.hasTeamsData))!;
    const reactor = chat.memberIds.find((id) => emu.tenant.user(id)?.hasTeamsData)!;
    const chatId = chat.id;
    const target = emu.tenant
      .conversation(chatId)!
      .messages.find((m) => (m.flags & F_RICH) !== 0 && (m.flags & F_SYSTEM) === 0 && m.v.deletedMs === 0 && m.v.ms < NOW - 120_000)!;
    expect(target).toBeDefined();
    // The reactions the exporting member's export serves on the target, by instant.
    const served = async (): Promise<
      Map<number, { reactionType: string; displayName: string | null; reactionContentUrl: string | null }>
    > => {
      const items = (await getAll(chatUrl(reactor, range(NOW - 120_000, NOW + 1)))) as Array<{
        id: string;
        reactions: Array<{ createdDateTime: string; reactionType: string; displayName: string | null; reactionContentUrl: string | null }>;
      }>;
      const m = items.find((x) => x.id === target.id);
      return new Map((m?.reactions ?? []).map((r) => [Date.parse(r.createdDateTime), r]));
    };
    // Thirty instants: were the seeded custom-emoji pick (about 30 %) applied, some 👍 would come back as 'custom'.
    const added = Array.from({ length: 30 }, (_, i) => NOW - 60_000 + i * 997);
    for (const at of added) emu.tenant.addReaction(chatId, target.id, reactor, '👍', at);
    const ours = await served();
    expect(added.map((at) => ours.get(at)).map((r) => [r?.reactionType, r?.displayName, r?.reactionContentUrl])).toEqual(
      added.map(() => ['👍', 'Thumbs up', null]),
    );

    emu.tenant.addReaction(chatId, target.id, reactor, 'custom', NOW - 1000);
    const custom = (await served()).get(NOW - 1000);
    expect(custom?.reactionType).toBe('custom');
    const bytes = await get(custom?.reactionContentUrl ?? '');
    expect(bytes.status).toBe(200);
    expect(bytes.headers.get('content-type')).toBe('image/png');
  });
});
