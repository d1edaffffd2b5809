// The control API's bulk activity (emulator/activity.ts) and per-entity request counters, which the
// benchmark's daily and first-run profiles rely on to tell idle entities from busy ones and to say
// what one entity cost.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatorToken, startTestEmulator } from '../../test/support/emulator';
import type { Emulator } from '../index';

const NOW = Date.parse('2026-06-15T12:00:00.000Z');
const DAY = 86_400_000;
let emu: Emulator;
let token: string;

async function control(path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(`${emu.origin}/_emulator/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  return { status: r.status, body: await r.json() };
}

const versionsOf = (s: ReturnType<Emulator['tenant']['stats']>) => ({ ...s.versionsByEntity.users, ...s.versionsByEntity.teams });

beforeAll(async () => {
  emu = await startTestEmulator({
    clock: () => NOW,
    tenant: { seed: 3, users: 20, teams: 4, oneOnOneChats: 10, groupChats: 2, historyDays: 5 },
  });
  token = await emulatorToken(emu);
});

afterAll(async () => {
  await emu?.close();
});

describe('POST /_emulator/activity', () => {
  it('posts the asked number of messages into an evenly spread subset of chats and teams, inside the range', async () => {
    const before = versionsOf(emu.tenant.stats());
    const messagesBefore = emu.tenant.stats().messages;
    const r = await control('activity', {
      chats: 3,
      messagesPerChat: 2,
      teams: 2,
      postsPerTeam: 5,
      fromMs: NOW - DAY,
      toMs: NOW - 3_600_000,
    });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ posted: 3 * 2 + 2 * 5, chats: 3, teams: 2 });
    const after = versionsOf(emu.tenant.stats());
    expect(emu.tenant.stats().messages).toBe(messagesBefore + 16);
    const changedTeams = emu.tenant.teams.filter((t) => after[t.id] !== before[t.id]).map((t) => t.id);
    // every 2nd of 4 teams: the first and the third
    expect(changedTeams).toEqual([emu.tenant.teams[0]?.id, emu.tenant.teams[2]?.id]);
    for (const id of changedTeams) expect((after[id] ?? 0) - (before[id] ?? 0)).toBe(5);
    // the new messages lie inside [fromMs, toMs)
    const team = emu.tenant.teams[0];
    const newest = Math.max(...(team?.channels.flatMap((c) => c.conversation.messages.map((m) => m.v.ms)) ?? []));
    expect(newest).toBeGreaterThanOrEqual(NOW - DAY);
    expect(newest).toBeLessThan(NOW - 3_600_000);
  });

  it('refuses a bad request with 400 naming the field', async () => {
    const r = await control('activity', { chats: -1, messagesPerChat: 1, teams: 0, postsPerTeam: 0, fromMs: 0, toMs: 1 });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/chats/);
  });
});

describe('GET /_emulator/counters?byEntity=1', () => {
  it('counts message export requests per entity id, only when asked for', async () => {
    await control('reset-counters', {});
    const teamId = emu.tenant.teams[1]?.id as string;
    const filter = `lastModifiedDateTime gt ${new Date(NOW - 2 * DAY).toISOString()} and lastModifiedDateTime lt ${new Date(NOW).toISOString()}`;
    for (let i = 0; i < 2; i++) {
      const r = await fetch(`${emu.graphBaseUrl}/teams/${teamId}/channels/getAllMessages?$filter=${encodeURIComponent(filter)}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(r.status).toBe(200);
      await r.text();
    }
    const plain = await control('counters');
    expect(plain.body.exportRequestsByEntity).toBeUndefined();
    const r = await control('counters?byEntity=1');
    expect(r.body.exportRequestsByEntity).toEqual({ [teamId]: 2 });
  });
});
