// Issue 20, defect 0 and "per-message isolation": nothing about one message (its links, cards,
// attachments) may fail its entity's job. The message is archived exactly as Graph returned it, what
// could not be understood is recorded in the batch's content map, and the entity's later messages are
// archived and its checkpoint moves. Real export path: the emulator over HTTPS and Azurite.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Entity } from '../../src/model/entity';
import { HOUR, MINUTE } from '../../src/time';
import { duplicatesIn, startHarness, type Harness } from '../support/harness';

const LAG = 5 * MINUTE;

interface MapEntry {
  key: string;
  messageId: string;
  kind: string;
  ref: string;
  status: string;
  reason?: string;
}

async function contentMaps(h: Harness): Promise<MapEntry[]> {
  const entries: MapEntry[] = [];
  for await (const b of h.deps.container.listBlobsFlat({ prefix: 'messages/' })) {
    if (!b.name.endsWith('.content.json')) continue;
    const map = JSON.parse((await h.deps.container.getBlobClient(b.name).downloadToBuffer()).toString('utf8')) as { entries: MapEntry[] };
    entries.push(...map.entries);
  }
  return entries;
}

describe('one message cannot stop its entity', () => {
  let h: Harness;
  const now = Date.now();
  beforeAll(async () => {
    h = await startHarness({
      label: 'msg-isolation',
      tenant: { seed: 7, users: 3, teams: 1, historyDays: 3, endMs: now - 6 * HOUR, hostedContentFraction: 0.3 },
      env: { EXPORT_USERS: 'all', EXPORT_TEAMS: 'none' },
    });
  });
  afterAll(() => h?.close());

  it('a body link ending in hostedContents/%FF/$value: the job succeeds, the message is archived as served, later ones too, and the checkpoint moves', async () => {
    const chat = h.emulator.tenant.chats.find((c) => c.memberIds.length >= 2)!;
    const [sender, reader] = chat.memberIds as [string, string];
    const base = h.emulator.graphBaseUrl;
    const hostile =
      `<p>look</p><img src="${base}/chats/${chat.id}/messages/1/hostedContents/%FF/$value">` +
      `<img src="${base}/chats/${chat.id}/messages/1/hostedContents/%ED%A0%80/$value">` +
      `<a href="${base}/chats/x/messages/%E0%A4%A/hostedContents/a%2/$value">x</a>`;
    const hostileId = h.emulator.tenant.postMessage(
      { chatId: chat.id },
      { fromUserId: sender, text: hostile, html: true, atMs: now - 3 * HOUR },
    );
    const laterId = h.emulator.tenant.postMessage(
      { chatId: chat.id },
      { fromUserId: sender, text: 'after the hostile one', atMs: now - 2 * HOUR },
    );

    const outcome = await h.daily(now);
    expect(outcome.status, outcome.error).toBe('succeeded');
    for (const id of [sender, reader]) {
      const entity: Entity = { kind: 'user', id };
      const archived = await h.archivedKeys(entity);
      expect(duplicatesIn(archived)).toEqual([]);
      const served = h.emulator.tenant.currentVersions(entity, { fromMs: 0, toMs: now - LAG });
      expect([...archived].sort()).toEqual(served.map((v) => v.key).sort());
      // Exactly as Graph returned it: every property, the hostile body untouched.
      const messages = await h.archivedMessages(entity);
      const line = messages.find((m) => m.id === hostileId);
      expect(line).toEqual(served.find((v) => (v.message as { id: string }).id === hostileId)!.message);
      expect(messages.some((m) => m.id === laterId)).toBe(true);
      expect((await h.deps.checkpoints.get(entity))?.freshWatermarkMs).toBe(now - LAG);
    }
    // What could not be understood is recorded with a reason, and nothing was fetched for it.
    const all = await contentMaps(h);
    const entries = all.filter((e) => e.messageId === hostileId);
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) {
      expect(e.status).toMatch(/^(unreadable|foreign)$/);
      expect(e.reason).toBeTruthy();
    }
    // ... and counted in the run's report, like every content status.
    const counted: Record<string, number> = {};
    for (const e of all) if (e.status !== 'stored') counted[e.status] = (counted[e.status] ?? 0) + 1;
    expect(counted.unreadable).toBeGreaterThan(0);
    const stored = all.filter((e) => e.status === 'stored').length;
    expect(outcome.report?.content).toEqual({ fetched: true, stored, unfetched: counted, pending: { batches: 0, messages: 0 } });
  });

  it("a body link to another chat's hosted content is recorded as foreign: no request names that chat (issue 22, item 2)", async () => {
    // The first test's run archived the seeded tenant; this run reads only what is posted now.
    const reader = h.emulator.tenant.chats.find((c) => c.memberIds.length >= 2)!;
    const other = h.emulator.hostedContents().find((c) => c.conversationId !== reader.id && c.kind === 'image')!;
    expect(other).toBeDefined();
    const own = `${h.emulator.graphBaseUrl}/chats/${reader.id}/messages/1/hostedContents/bm9uZQ/$value`;
    const at = now + 20 * MINUTE;
    const id = h.emulator.tenant.postMessage(
      { chatId: reader.id },
      { fromUserId: reader.memberIds[0]!, text: `<img src="${other.url}"><img src="${own}">`, html: true, atMs: at },
    );
    h.emulator.resetCounters();
    const outcome = await h.daily(now + HOUR);
    expect(outcome.status, outcome.error).toBe('succeeded');
    expect(h.emulator.counters.hostedContentRequestsByConversation[other.conversationId]).toBeUndefined();
    const entries = (await contentMaps(h)).filter((e) => e.messageId === id);
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries.filter((x) => x.ref === other.id))
      expect(e).toMatchObject({ status: 'foreign', reason: 'body link names another conversation; not fetched' });
    // A link naming the message's own chat but another message is foreign too; nothing was fetched.
    for (const e of entries.filter((x) => x.ref === 'bm9uZQ')) expect(e).toMatchObject({ status: 'foreign' });
    expect(h.emulator.counters.hostedContentRequests).toBe(0);
  });
});
