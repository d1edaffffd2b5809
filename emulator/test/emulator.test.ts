// The Graph + identity emulator behaves like Graph's export APIs and the identity platform, so the
// product's real client code can be tested against it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientSecretCredential } from '@azure/identity';
import { startTestEmulator } from '../../test/support/emulator';
import { trustCertificateInProcess, versionKeyOf, type Emulator } from '../index';
import { parseMainArgs, runEmulatorProcess } from '../main';

interface Res {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

let emu: Emulator;
let token: string;

async function get(url: string, opts: { token?: string | null; headers?: Record<string, string> } = {}): Promise<Res> {
  const headers: Record<string, string> = { ...opts.headers };
  const t = opts.token === undefined ? token : opts.token;
  if (t) headers.authorization = `Bearer ${t}`;
  const r = await fetch(url, { headers });
  const text = await r.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: r.status, headers: r.headers, body, text };
}

/** Follows nextLinks to the end; returns every item and every page size. */
async function getAll(url: string, headers?: Record<string, string>): Promise<{ items: any[]; pages: Res[] }> {
  const items: any[] = [];
  const pages: Res[] = [];
  let next: string | undefined = url;
  while (next) {
    const r = await get(next, { headers: headers ?? {} });
    expect(r.status, r.text).toBe(200);
    pages.push(r);
    items.push(...r.body.value);
    next = r.body['@odata.nextLink'];
    if (pages.length > 10_000) throw new Error('endless paging');
  }
  return { items, pages };
}

const iso = (ms: number) => new Date(ms).toISOString();
const filterOf = (gt: number, lt: number) => `lastModifiedDateTime gt ${iso(gt)} and lastModifiedDateTime lt ${iso(lt)}`;
const chatExportUrl = (userId: string, gt: number, lt: number, top = 50) =>
  `${emu.graphBaseUrl}/users/${userId}/chats/getAllMessages?$top=${top}&$filter=${encodeURIComponent(filterOf(gt, lt))}`;
const channelExportUrl = (teamId: string, gt: number, lt: number, top = 50) =>
  `${emu.graphBaseUrl}/teams/${teamId}/channels/getAllMessages?$top=${top}&$filter=${filterOf(gt, lt).replace(/ /g, '+')}`;

const NOW = Date.parse('2026-06-15T12:00:00.000Z');
let now = NOW;
const WIDE = { gt: NOW - 400 * 86_400_000, lt: NOW + 86_400_000 };

beforeAll(async () => {
  emu = await startTestEmulator({ clock: () => now, tenant: { seed: 7, users: 12, teams: 2, historyDays: 10 } });
  const cred = new ClientSecretCredential(emu.tenantId, emu.clientId, emu.clientSecret, {
    authorityHost: emu.authorityHost,
    disableInstanceDiscovery: true,
  });
  const t = await cred.getToken(`${emu.origin}/.default`);
  token = t.token;
});

afterAll(async () => {
  await emu?.close();
});

function firstUserWithChats(): string {
  const s = emu.tenant.stats();
  const id = Object.entries(s.versionsByEntity.users).sort((a, b) => b[1] - a[1])[0]?.[0];
  if (!id) throw new Error('no user with chats');
  return id;
}

describe('identity', () => {
  it('issues a token to the real ClientSecretCredential that Graph accepts', async () => {
    // A credential of its own: another test resets the counters, so the one from beforeAll may not count.
    const issuedBefore = emu.counters.tokensIssued;
    const cred = new ClientSecretCredential(emu.tenantId, emu.clientId, emu.clientSecret, {
      authorityHost: emu.authorityHost,
      disableInstanceDiscovery: true,
    });
    const t = await cred.getToken(`${emu.origin}/.default`);
    expect(emu.counters.tokensIssued).toBe(issuedBefore + 1);
    expect((await get(`${emu.graphBaseUrl}/users`, { token: t.token })).status).toBe(200);
  });

  it('rejects a wrong client secret with an AAD-shaped error', async () => {
    const cred = new ClientSecretCredential(emu.tenantId, emu.clientId, 'wrong', {
      authorityHost: emu.authorityHost,
      disableInstanceDiscovery: true,
    });
    await expect(cred.getToken(`${emu.origin}/.default`)).rejects.toThrow(/7000215|invalid_client/);
    const r = await fetch(`${emu.authorityHost}/${emu.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        client_id: emu.clientId,
        client_secret: 'wrong',
        grant_type: 'client_credentials',
        scope: `${emu.origin}/.default`,
      }),
    });
    expect(r.status).toBe(401);
    const body = (await r.json()) as any;
    expect(body.error).toBe('invalid_client');
    expect(body.error_codes).toEqual([7000215]);
  });

  it('rejects a scope other than the Graph origin /.default', async () => {
    const r = await fetch(`${emu.authorityHost}/${emu.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        client_id: emu.clientId,
        client_secret: emu.clientSecret,
        grant_type: 'client_credentials',
        scope: 'https://graph.microsoft.com/.default',
      }),
    });
    expect(r.status).toBe(400);
    expect(((await r.json()) as any).error).toBe('invalid_scope');
  });

  it('answers 401 InvalidAuthenticationToken without a token or with an unknown one', async () => {
    for (const t of [null, 'not-a-token']) {
      const r = await get(`${emu.graphBaseUrl}/users`, { token: t });
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('InvalidAuthenticationToken');
      expect(r.body.error.innerError['request-id']).toBe(r.headers.get('request-id'));
      expect(r.headers.get('client-request-id')).toBeTruthy();
    }
  });
});

describe('directory', () => {
  it('pages /users with $top and nextLinks over every user, $select adding accountEnabled and userType', async () => {
    const { items, pages } = await getAll(`${emu.graphBaseUrl}/users?$select=id,displayName,accountEnabled,userType&$top=5`);
    expect(pages.length).toBe(Math.ceil(emu.tenant.users.length / 5));
    expect(pages.every((p) => p.body.value.length <= 5)).toBe(true);
    expect(new Set(items.map((u) => u.id))).toEqual(new Set(emu.tenant.users.map((u) => u.id)));
    expect(items.some((u) => u.accountEnabled === false)).toBe(true);
    expect(items.some((u) => u.userType === 'Guest')).toBe(true);
    const plain = await get(`${emu.graphBaseUrl}/users?$top=1`);
    expect(plain.body.value[0]).not.toHaveProperty('accountEnabled');
    expect(plain.body.value[0]).toHaveProperty('userPrincipalName');
  });

  it('pages /teams', async () => {
    const { items } = await getAll(`${emu.graphBaseUrl}/teams?$top=1`);
    expect(items.map((t) => t.id).sort()).toEqual(emu.tenant.teams.map((t) => t.id).sort());
  });

  it('lists a deleted user in deletedItems (not /users) and serves their chats for 30 days, then 404s', async () => {
    const u = emu.tenant.users.find((x) => x.hasTeamsData && x.userType === 'Member' && x.id !== firstUserWithChats())!;
    try {
      emu.tenant.deleteUser(u.id, now - 86_400_000);
      expect((await getAll(`${emu.graphBaseUrl}/users?$top=999`)).items.map((x) => x.id)).not.toContain(u.id);
      const { items } = await getAll(`${emu.graphBaseUrl}/directory/deletedItems/microsoft.graph.user?$select=id,userPrincipalName&$top=1`);
      expect(items).toEqual([{ id: u.id, userPrincipalName: u.userPrincipalName, deletedDateTime: iso(now - 86_400_000) }]);
      expect((await get(chatExportUrl(u.id, WIDE.gt, WIDE.lt))).status).toBe(200);
      now += 30 * 86_400_000;
      expect((await getAll(`${emu.graphBaseUrl}/directory/deletedItems/microsoft.graph.user`)).items).toEqual([]);
      const gone = await get(chatExportUrl(u.id, WIDE.gt, WIDE.lt));
      expect(gone.status).toBe(404);
      expect(gone.body.error.code).toBe('Request_ResourceNotFound');
    } finally {
      now = NOW;
      u.deletedMs = undefined;
    }
  });

  it('refuses a chats export filter with more or-ed sender clauses than the limit, with the real shape', async () => {
    const senders = (n: number) => Array.from({ length: n }, (_, i) => `from/user/id eq 'u${i}'`).join(' or ');
    const url = (n: number) =>
      `${emu.graphBaseUrl}/users/${firstUserWithChats()}/chats/getAllMessages?$filter=${encodeURIComponent(`(${senders(n)}) and (${filterOf(WIDE.gt, WIDE.lt)})`)}`;
    expect((await get(url(20))).status).toBe(200);
    const refused = await get(url(21));
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(/node count limit of '100' has been exceeded/);
  });
});

describe('getAllMessages', () => {
  it('follows nextLinks to the end with pages ≤ $top and returns exactly tenant.currentVersions', async () => {
    const userId = firstUserWithChats();
    const { items, pages } = await getAll(chatExportUrl(userId, WIDE.gt, WIDE.lt, 7));
    expect(pages.length).toBeGreaterThan(1);
    for (const p of pages) {
      expect(p.body.value.length).toBeLessThanOrEqual(7);
      expect(p.body['@odata.count']).toBe(p.body.value.length);
      expect(p.body['@odata.context']).toContain('$metadata#Collection(chatMessage)');
    }
    expect(pages[0]?.body['@odata.nextLink']).toMatch(/\/v1\.0\/users\('[^']+'\)\/chats\/getallMessages\?\$top=7&\$skiptoken=/);
    expect(pages[pages.length - 1]?.body).not.toHaveProperty('@odata.nextLink');
    const expected = emu.tenant.currentVersions({ kind: 'user', id: userId }, { fromMs: WIDE.gt + 1, toMs: WIDE.lt });
    const keys = items.map(versionKeyOf);
    expect(keys.length).toBe(new Set(keys).size);
    expect(new Set(keys)).toEqual(new Set(expected.map((e) => e.key)));
    for (const k of keys) expect(emu.counters.ledger.has(k)).toBe(true);

    const team = emu.tenant.teams[0]!;
    const channel = await getAll(channelExportUrl(team.id, WIDE.gt, WIDE.lt, 10));
    expect(channel.items.every((m) => m.channelIdentity.teamId === team.id && m.chatId === null)).toBe(true);
    expect(new Set(channel.items.map(versionKeyOf))).toEqual(
      new Set(emu.tenant.currentVersions({ kind: 'team', id: team.id }).map((e) => e.key)),
    );
    expect(channel.items.some((m) => m.replyToId !== null)).toBe(true);
    expect(channel.pages[0]?.body['@odata.nextLink']).toMatch(
      /\/v1\.0\/teams\('[^']+'\)\/channels\/getallMessages\?\$skiptoken=[^&]+&\$filter=lastModifiedDateTime\+gt\+/,
    );
  });

  it('returns results unsorted', async () => {
    const { items } = await getAll(chatExportUrl(firstUserWithChats(), WIDE.gt, WIDE.lt, 999));
    const times = items.map((m) => Date.parse(m.lastModifiedDateTime));
    expect(times).not.toEqual([...times].sort((a, b) => a - b));
  });

  it('excludes versions exactly at either bound (strict gt/lt)', async () => {
    const team = emu.tenant.teams[1]!;
    const channel = team.channels[0]!;
    const from = NOW - 3_600_000;
    const to = NOW - 1_800_000;
    const atFrom = emu.tenant.postMessage({ teamId: team.id, channelId: channel.id }, { text: 'at from', atMs: from });
    const inside = emu.tenant.postMessage({ teamId: team.id, channelId: channel.id }, { text: 'inside', atMs: from + 1 });
    const atTo = emu.tenant.postMessage({ teamId: team.id, channelId: channel.id }, { text: 'at to', atMs: to });
    const { items } = await getAll(channelExportUrl(team.id, from, to));
    const ids = items.map((m) => m.id);
    expect(ids).toContain(inside);
    expect(ids).not.toContain(atFrom);
    expect(ids).not.toContain(atTo);
    const next = await getAll(channelExportUrl(team.id, to - 1, to + 1));
    expect(next.items.map((m) => m.id)).toContain(atTo);
  });

  it('answers 400 BadRequest (Graph-shaped) to any other filter or OData option', async () => {
    const userId = firstUserWithChats();
    const base = `${emu.graphBaseUrl}/users/${userId}/chats/getAllMessages`;
    const f = encodeURIComponent(filterOf(WIDE.gt, WIDE.lt));
    const bad = [
      `${base}?$filter=${encodeURIComponent(`lastModifiedDateTime ge ${iso(WIDE.gt)} and lastModifiedDateTime lt ${iso(WIDE.lt)}`)}`,
      `${base}?$filter=${encodeURIComponent(`lastModifiedDateTime gt ${iso(WIDE.gt)} and lastModifiedDateTime le ${iso(WIDE.lt)}`)}`,
      `${base}?$filter=${encodeURIComponent(`lastModifiedDateTime gt ${iso(WIDE.gt)}`)}`,
      `${base}?$filter=${encodeURIComponent(`lastModifiedDateTime gt ${iso(WIDE.gt)} and lastModifiedDateTime lt ${iso(WIDE.lt)} and messageType eq 'message'`)}`,
      `${base}?$filter=${encodeURIComponent(`lastModifiedDateTime gt 2026-01-01 and lastModifiedDateTime lt ${iso(WIDE.lt)}`)}`,
      `${base}`,
      `${base}?$filter=${f}&$select=id`,
      `${base}?$filter=${f}&$orderby=lastModifiedDateTime`,
      `${base}?$filter=${f}&$expand=replies`,
      `${base}?$filter=${f}&$count=true`,
      `${base}?$filter=${f}&model=B`,
      `${base}?$filter=${f}&$top=1000`,
    ];
    for (const url of bad) {
      const r = await get(url);
      expect(r.status, url).toBe(400);
      expect(r.body.error.code).toBe('BadRequest');
      expect(typeof r.body.error.message).toBe('string');
      expect(r.body.error.innerError['request-id']).toBeTruthy();
      expect(r.body.error.innerError['client-request-id']).toBeTruthy();
    }
    // reversed clause order and '+' for spaces are fine
    const ok = await get(
      `${base}?$filter=${`lastModifiedDateTime lt ${iso(WIDE.lt)} and lastModifiedDateTime gt ${iso(WIDE.gt)}`.replace(/ /g, '+')}`,
    );
    expect(ok.status).toBe(200);
  });

  it('answers 404 for users without Teams data and unknown users, 403 for forbidden entities', async () => {
    const noData = emu.tenant.users.find((u) => !u.hasTeamsData)!;
    const r = await get(chatExportUrl(noData.id, WIDE.gt, WIDE.lt));
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('ResourceNotFound');
    expect((await get(chatExportUrl('00000000-0000-4000-8000-000000000000', WIDE.gt, WIDE.lt))).status).toBe(404);
    const userId = firstUserWithChats();
    emu.setFaults({ forbiddenEntities: [userId] });
    try {
      const f = await get(chatExportUrl(userId, WIDE.gt, WIDE.lt));
      expect(f.status).toBe(403);
      expect(f.body.error.code).toBe('Forbidden');
    } finally {
      emu.setFaults({ forbiddenEntities: [] });
    }
  });

  it('serves system events as unknownFutureValue unless Prefer: include-unknown-enum-members', async () => {
    const chat = emu.tenant.chats.find((c) => c.kind === 'group')!;
    const member = chat.memberIds[0]!;
    const isSystem = (m: any) => m.body.content === '<systemEventMessage/>' && m.chatId === chat.id;
    const without = (await getAll(chatExportUrl(member, WIDE.gt, WIDE.lt, 999))).items.filter(isSystem);
    const withPrefer = (
      await getAll(chatExportUrl(member, WIDE.gt, WIDE.lt, 999), { prefer: 'include-unknown-enum-members' })
    ).items.filter(isSystem);
    expect(without.length).toBe(1);
    expect(without[0].messageType).toBe('unknownFutureValue');
    expect(withPrefer[0].messageType).toBe('systemEventMessage');
    expect(withPrefer[0].eventDetail['@odata.type']).toBe('#microsoft.graph.membersAddedEventMessageDetail');
  });

  it('seeds the message shapes the exporter must keep: edits, deletions, reactions, mentions, attachments, unicode, unknown properties', async () => {
    const all = emu.tenant
      .exportableEntities()
      .flatMap((e) => emu.tenant.currentVersions(e))
      .map((e) => e.message as any);
    expect(all.some((m) => m.lastEditedDateTime && m.etag !== m.id)).toBe(true);
    expect(all.some((m) => m.deletedDateTime && m.body.content === null && m.from === null)).toBe(true);
    expect(all.some((m) => m.reactions.length > 0 && m.messageHistory.length > 0)).toBe(true);
    expect(all.some((m) => m.mentions.length > 0 && m.body.content.includes('<at id="0">'))).toBe(true);
    expect(
      all.some((m) =>
        m.attachments.some((a: any) => a.contentType === 'reference' && a.contentUrl.startsWith('https://contoso.sharepoint.com/')),
      ),
    ).toBe(true);
    expect(all.some((m) => /[\u0590-\u05FF]/.test(m.body.content ?? '') || /[\u0600-\u06FF]/.test(m.body.content ?? ''))).toBe(true);
    expect(all.some((m) => 'futureProperty' in m)).toBe(true);
    expect(all.every((m) => m.locale === 'en-us' && m['@odata.type'] === '#microsoft.graph.chatMessage')).toBe(true);
    // different messages sharing one lastModified millisecond
    const times = all.map((m) => `${m.chatId ?? m.channelIdentity.channelId}|${m.lastModifiedDateTime}`);
    expect(new Set(all.map((m) => m.lastModifiedDateTime)).size).toBeLessThan(all.length);
    expect(times.length).toBeGreaterThan(0);
  });
});

describe('mutations and visibility', () => {
  it('keeps paging stable while the data changes (snapshot per query)', async () => {
    const userId = firstUserWithChats();
    const before = new Set(
      emu.tenant.currentVersions({ kind: 'user', id: userId }, { fromMs: WIDE.gt + 1, toMs: WIDE.lt }).map((e) => e.key),
    );
    const first = await get(chatExportUrl(userId, WIDE.gt, WIDE.lt, 5));
    const chat = emu.tenant.chats.find((c) => c.memberIds.includes(userId))!;
    const victim = first.body.value[0];
    emu.tenant.postMessage({ chatId: chat.id }, { fromUserId: userId, text: 'posted while paging', atMs: NOW - 50_000 });
    if (!victim.deletedDateTime && victim.chatId) emu.tenant.addReaction(victim.chatId, victim.id, userId, 'like', NOW - 40_000);
    const rest = await getAll(first.body['@odata.nextLink']);
    const keys = [...first.body.value, ...rest.items].map(versionKeyOf);
    expect(new Set(keys)).toEqual(before);
    expect(keys.length).toBe(before.size);
  });

  it('an edit creates a new version with a new etag and lastEditedDateTime', async () => {
    const chat = emu.tenant.chats[0]!;
    const user = chat.memberIds[0]!;
    const id = emu.tenant.postMessage({ chatId: chat.id }, { fromUserId: user, text: 'first', atMs: NOW - 10_000 });
    emu.tenant.editMessage(chat.id, id, 'second', NOW - 5_000);
    const { items } = await getAll(chatExportUrl(user, NOW - 20_000, NOW));
    const mine = items.filter((m) => m.id === id);
    expect(mine).toHaveLength(1);
    expect(mine[0].body.content).toBe('second');
    expect(mine[0].lastEditedDateTime).toBe(iso(NOW - 5_000));
    expect(mine[0].lastModifiedDateTime).toBe(iso(NOW - 5_000));
    expect(mine[0].etag).not.toBe(id);
    // the other member of the chat sees the same version
    const other = chat.memberIds[1]!;
    const theirs = (await getAll(chatExportUrl(other, NOW - 20_000, NOW))).items.filter((m) => m.id === id);
    expect(theirs.map(versionKeyOf)).toEqual(mine.map(versionKeyOf));
    emu.tenant.deleteMessage(chat.id, id, NOW - 1_000);
    const gone = (await getAll(chatExportUrl(user, NOW - 20_000, NOW))).items.find((m) => m.id === id);
    expect(gone.deletedDateTime).toBe(iso(NOW - 1_000));
    expect(gone.body.content).toBeNull();
    expect(gone.from).toBeNull();
  });

  it('late visibility serves the previous version until the new one is due', async () => {
    const team = emu.tenant.teams[0]!;
    const channel = team.channels[1]!;
    const t0 = NOW + 60_000;
    const maxDelayMs = 1_000_000; // so that a delay of 0 (visible at once) is practically impossible
    const id = emu.tenant.postMessage({ teamId: team.id, channelId: channel.id }, { text: 'v1', atMs: t0 });
    emu.tenant.editMessage(channel.id, id, 'v2', t0 + 2 * maxDelayMs);
    const window = { gt: t0 - 1, lt: t0 + 4 * maxDelayMs };
    emu.setFaults({ lateVisibility: { fraction: 1, maxDelayMs } });
    try {
      const served = async () =>
        (await getAll(channelExportUrl(team.id, window.gt, window.lt))).items.filter((m) => m.id === id).map((m) => m.body.content);
      now = t0 - 1; // not even v1 is visible yet
      expect(await served()).toEqual([]);
      now = t0 + 2 * maxDelayMs; // the edit just happened: v1 is still served
      expect(await served()).toEqual(['v1']);
      now = t0 + 3 * maxDelayMs + 1; // every delay has passed
      expect(await served()).toEqual(['v2']);
      expect(emu.counters.faults.lateHidden).toBeGreaterThan(0);
      // expectations ignore late visibility
      expect(
        emu.tenant
          .currentVersions({ kind: 'team', id: team.id })
          .filter((e) => (e.message as any).id === id)
          .map((e) => (e.message as any).body.content),
      ).toEqual(['v2']);
    } finally {
      now = NOW;
      emu.setFaults({ lateVisibility: null });
    }
  });
});

describe('faults', () => {
  it('answers 429 with a fractional Retry-After beyond the rate limit', async () => {
    emu.setFaults({ rateLimitRps: 2, retryAfterSec: 0.25 });
    try {
      const rs = await Promise.all(Array.from({ length: 8 }, () => get(`${emu.graphBaseUrl}/teams`)));
      const throttled = rs.filter((r) => r.status === 429);
      expect(throttled.length).toBeGreaterThan(0);
      expect(throttled[0]?.headers.get('retry-after')).toBe('0.25');
      expect(throttled[0]?.body.error.code).toBe('TooManyRequests');
      expect(emu.counters.throttled).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 600));
      expect((await get(`${emu.graphBaseUrl}/teams`)).status).toBe(200);
    } finally {
      emu.setFaults({ rateLimitRps: null });
    }
  });

  it('empty pages keep a nextLink, out-of-window items are extra, and following links still yields the full set', async () => {
    const userId = firstUserWithChats();
    const from = NOW - 6 * 86_400_000;
    const to = NOW - 2 * 86_400_000;
    emu.setFaults({ emptyPageRate: 0.3, outOfWindowRate: 0.5 });
    try {
      const { items, pages } = await getAll(chatExportUrl(userId, from, to, 4));
      expect(pages.some((p) => p.body.value.length === 0 && p.body['@odata.nextLink'])).toBe(true);
      expect(pages.every((p) => p.body.value.length <= 4)).toBe(true);
      const outside = items.filter((m) => {
        const t = Date.parse(m.lastModifiedDateTime);
        return t <= from || t >= to;
      });
      expect(outside.length).toBeGreaterThan(0);
      const inside = new Set(items.filter((m) => !outside.includes(m)).map(versionKeyOf));
      expect(inside).toEqual(
        new Set(emu.tenant.currentVersions({ kind: 'user', id: userId }, { fromMs: from + 1, toMs: to }).map((e) => e.key)),
      );
    } finally {
      emu.setFaults({ emptyPageRate: 0, outOfWindowRate: 0 });
    }
  });

  it('injects 5xx, malformed bodies and connection resets, and counts them', async () => {
    emu.resetCounters();
    emu.setFaults({ errorRate: 0.3, malformedRate: 0.3, resetRate: 0.2 });
    const seen = new Set<string>();
    try {
      for (let i = 0; i < 40; i++) {
        try {
          const r = await get(`${emu.graphBaseUrl}/teams`);
          if (r.status >= 500) {
            seen.add('5xx');
            expect(r.body.error.code).toBeTruthy();
          } else if (r.status === 200 && r.body === undefined) seen.add('malformed');
          else if (r.status === 200) seen.add('ok');
        } catch {
          seen.add('reset');
        }
      }
    } finally {
      emu.setFaults({ errorRate: 0, malformedRate: 0, resetRate: 0 });
    }
    expect(seen).toEqual(new Set(['5xx', 'malformed', 'reset', 'ok']));
    expect(emu.counters.faults.error).toBeGreaterThan(0);
    expect(emu.counters.faults.malformed).toBeGreaterThan(0);
    expect(emu.counters.faults.reset).toBeGreaterThan(0);
  });

  it('points nextLinks at a foreign origin when asked', async () => {
    emu.setFaults({ nextLinkOrigin: 'https://evil.example' });
    try {
      const r = await get(chatExportUrl(firstUserWithChats(), WIDE.gt, WIDE.lt, 1));
      expect(r.body['@odata.nextLink']).toMatch(/^https:\/\/evil\.example\/v1\.0\//);
    } finally {
      emu.setFaults({ nextLinkOrigin: null });
    }
  });

  it('answers 503 from the token endpoint when it is down', async () => {
    emu.setFaults({ tokenEndpointDown: true });
    try {
      const r = await fetch(`${emu.authorityHost}/${emu.tenantId}/oauth2/v2.0/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          client_id: emu.clientId,
          client_secret: emu.clientSecret,
          grant_type: 'client_credentials',
          scope: `${emu.origin}/.default`,
        }),
      });
      expect(r.status).toBe(503);
    } finally {
      emu.setFaults({ tokenEndpointDown: false });
    }
  });

  it('answers 401 once a token has expired', async () => {
    const other = await startTestEmulator({ tenant: { users: 2, teams: 1 }, tokenLifetimeSec: 1 });
    try {
      const tokenRes = await fetch(`${other.authorityHost}/${other.tenantId}/oauth2/v2.0/token`, {
        method: 'POST',
        body: new URLSearchParams({
          client_id: other.clientId,
          client_secret: other.clientSecret,
          grant_type: 'client_credentials',
          scope: `${other.origin}/.default`,
        }),
      });
      const body = (await tokenRes.json()) as any;
      expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 1, ext_expires_in: 1 });
      const call = () => fetch(`${other.graphBaseUrl}/teams`, { headers: { authorization: `Bearer ${body.access_token}` } });
      expect((await call()).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1_100));
      const r = await call();
      expect(r.status).toBe(401);
      expect(((await r.json()) as any).error.code).toBe('InvalidAuthenticationToken');
    } finally {
      await other.close();
    }
  });

  it('a hanging request is released when the emulator closes', async () => {
    const other = await startTestEmulator({ tenant: { users: 2, teams: 1 }, faults: { hangRate: 1 } });
    const tokenRes = await fetch(`${other.authorityHost}/${other.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      body: new URLSearchParams({
        client_id: other.clientId,
        client_secret: other.clientSecret,
        grant_type: 'client_credentials',
        scope: `${other.origin}/.default`,
      }),
    });
    const t = ((await tokenRes.json()) as any).access_token as string;
    const pending = fetch(`${other.graphBaseUrl}/teams`, { headers: { authorization: `Bearer ${t}` } }).then(
      () => 'answered',
      () => 'failed',
    );
    const raced = await Promise.race([pending, new Promise((r) => setTimeout(() => r('hanging'), 300))]);
    expect(raced).toBe('hanging');
    await other.close();
    expect(await pending).toBe('failed');
    expect(other.counters.faults.hang).toBe(1);
  });
});

describe('out-of-process mode', () => {
  it('parses seed and fault flags', () => {
    const o = parseMainArgs([
      '--port',
      '0',
      '--users',
      '500',
      '--messages-per-chat',
      '30',
      '--latency-ms',
      '5',
      '--rate-limit-rps',
      '200',
      '--late-fraction',
      '0.1',
      '--forbidden',
      'a,b',
    ]);
    expect(o.tenant).toMatchObject({ users: 500, messagesPerChat: 30 });
    expect(o.faults).toMatchObject({
      latencyMs: 5,
      rateLimitRps: 200,
      forbiddenEntities: ['a', 'b'],
      lateVisibility: { fraction: 0.1, maxDelayMs: 60_000 },
    });
    expect(() => parseMainArgs(['--bogus', '1'])).toThrow(/unknown flag/);
    expect(() => parseMainArgs(['--users', 'many'])).toThrow(/number/);
  });

  it('describes itself in one JSON line and is steered through /_emulator/ control endpoints', async () => {
    const { emulator, line } = await runEmulatorProcess(['--users', '4', '--teams', '1', '--seed', '3']);
    trustCertificateInProcess(emulator.caCertPem);
    try {
      const info = JSON.parse(line);
      expect(info).toMatchObject({ origin: emulator.origin, graphBaseUrl: `${emulator.origin}/v1.0`, tenantId: emulator.tenantId });
      const { readFile, rm } = await import('node:fs/promises');
      expect(await readFile(info.caCertFile, 'utf8')).toBe(emulator.caCertPem);
      await rm(info.caCertFile.replace(/[/\\][^/\\]+$/, ''), { recursive: true });
      const post = (p: string, body: unknown) => fetch(`${emulator.origin}/_emulator/${p}`, { method: 'POST', body: JSON.stringify(body) });
      expect((await post('faults', { latencyMs: 3 })).status).toBe(200);
      expect(emulator.faults.latencyMs).toBe(3);
      expect((await post('faults', { errorRate: 2 })).status).toBe(400);
      const stats = (await (await fetch(`${emulator.origin}/_emulator/stats`)).json()) as any;
      expect(stats.users).toBe(4);
      await fetch(`${emulator.graphBaseUrl}/users`);
      const counters = (await (await fetch(`${emulator.origin}/_emulator/counters`)).json()) as any;
      expect(counters.byStatus['401']).toBe(1);
      expect((await post('reset-counters', {})).status).toBe(200);
      expect(emulator.counters.requests).toBe(0);
      const team = emulator.tenant.teams[0]!;
      const m = (await (
        await post('mutations', {
          op: 'post',
          target: { teamId: team.id, channelId: team.channels[0]!.id },
          text: 'hi',
          atMs: 1_700_000_000_000,
        })
      ).json()) as any;
      expect(m.results[0]).toBe('1700000000000');
    } finally {
      await emulator.close();
    }
  });
});
