// Issue 4 end to end: the archive is complete and self-contained — images, snippets and files stored
// once by hash and mapped from their messages, deleted and retained versions, deleted teams, and the
// sender chat mode holding the same messages as the custodian mode.
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { contentBlobName } from '../../src/archive/blob-layout';
import { verifyArchive } from '../../src/archive/verify-archive';
import type { RunOutcome } from '../../src/export/run-in-process';
import type { Entity } from '../../src/model/entity';
import { scanHostedContents } from '../../src/graph/hosted-content-refs';
import { DAY, HOUR, MINUTE } from '../../src/time';
import { allArchivedKeys, duplicatesIn, startHarness, type Harness } from '../support/harness';

const LAG = 5 * MINUTE;

interface MapEntry {
  key: string;
  kind: 'hostedContent' | 'file';
  ref: string;
  status: string;
  sha256?: string;
  reason?: string;
}

async function contentMaps(h: Harness): Promise<MapEntry[]> {
  const entries: MapEntry[] = [];
  for await (const b of h.deps.container.listBlobsFlat({ prefix: 'messages/' })) {
    if (!b.name.endsWith('.content.json')) continue;
    const map = JSON.parse((await h.deps.container.getBlobClient(b.name).downloadToBuffer()).toString('utf8')) as {
      batch: string;
      entries: MapEntry[];
    };
    expect(await h.deps.container.getBlobClient(map.batch).exists(), `${b.name} points at its batch`).toBe(true);
    entries.push(...map.entries);
  }
  return entries;
}

describe('content: hosted contents and file attachments', () => {
  let h: Harness;
  const now = Date.now();
  beforeAll(async () => {
    h = await startHarness({
      label: 'content-e2e',
      tenant: { seed: 21, users: 6, teams: 2, historyDays: 20, endMs: now - 2 * HOUR, hostedContentFraction: 0.3, fileFraction: 0.3 },
      // One job at a time: two members of a chat meeting the same new image at the same moment would
      // both download it (stored once all the same), which would blur the reuse count checked below.
      env: { EXPORT_ATTACHMENTS: 'true', EXPORT_USERS: 'all', EXPORT_CONCURRENCY: '1' },
    });
  });
  afterAll(() => h?.close());
  // The first run, made by whichever test runs first (the tests pass in any order).
  let first: Promise<RunOutcome> | undefined;
  const firstRun = () => (first ??= h.daily(now));

  /** Every hostedContents reference in every archived message line (what the archive must hold). */
  async function referencedHostedContents(): Promise<Map<string, string>> {
    const refs = new Map<string, string>(); // hostedContent id → URL
    for (const entity of h.entities()) {
      for (const m of await h.archivedMessages(entity)) {
        for (const r of scanHostedContents(m, new URL(h.emulator.graphBaseUrl).origin).refs) refs.set(r.hostedContentId, r.url);
      }
    }
    return refs;
  }

  it('stores every referenced hosted content and present file once by SHA-256, maps it from its message, and records why the rest is missing', async () => {
    const outcome = await firstRun();
    expect(outcome.status, outcome.error).toBe('succeeded');
    const stored = new Set<string>();
    for await (const b of h.deps.container.listBlobsFlat({ prefix: 'content/sha256/' })) stored.add(b.name);
    const entries = await contentMaps(h);

    const referenced = await referencedHostedContents();
    expect(referenced.size).toBeGreaterThan(5);
    const expected = new Map(h.emulator.hostedContents().map((c) => [c.id, c]));
    for (const id of referenced.keys()) {
      const c = expected.get(id)!;
      expect(c, `emulator knows hosted content ${id}`).toBeDefined();
      const name = contentBlobName(c.sha256);
      expect(stored.has(name), `hosted content ${c.kind} of message ${c.messageId}`).toBe(true);
      const bytes = await h.deps.container.getBlobClient(name).downloadToBuffer();
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(c.sha256);
      expect(
        entries.some((e) => e.kind === 'hostedContent' && e.ref === id && e.status === 'stored' && e.sha256 === c.sha256),
        `map entry for ${id}`,
      ).toBe(true);
    }
    // Same bytes (e.g. one emoji in many messages) are stored once.
    const distinct = new Set([
      ...[...referenced.keys()].map((id) => expected.get(id)!.sha256),
      ...h.emulator.files().flatMap((f) => (f.sha256 ? [f.sha256] : [])),
    ]);
    expect(stored.size).toBeLessThanOrEqual(distinct.size);

    const archivedFiles = new Set(entries.filter((e) => e.kind === 'file').map((e) => e.ref));
    const files = h.emulator.files().filter((f) => archivedFiles.has(f.contentUrl));
    expect(
      files.some((f) => f.state === 'present') && files.some((f) => f.state === 'missing') && files.some((f) => f.state === 'forbidden'),
    ).toBe(true);
    for (const f of files) {
      const e = entries.find((x) => x.kind === 'file' && x.ref === f.contentUrl)!;
      if (f.state === 'present') {
        expect(e.status).toBe('stored');
        expect(e.sha256).toBe(f.sha256);
        expect(stored.has(contentBlobName(f.sha256!))).toBe(true);
      } else {
        expect(e.status).toBe(f.state);
        expect(e.reason).toMatch(/40[34] \w+ request-id/);
      }
    }
    // The SharePoint stand-in never saw the Graph token.
    expect(h.emulator.counters.filesAuthorizationHeadersSeen).toBe(0);
  });

  it('a later run downloads only what is new: stored content is reused, and the archive verifies', async () => {
    expect((await firstRun()).status).toBe('succeeded');
    const knownBefore = new Set((await referencedHostedContents()).keys());
    const before = h.emulator.counters.hostedContentRequests;
    const user = h.emulator.tenant.users.find((u) => u.hasTeamsData)!;
    const entity: Entity = { kind: 'user', id: user.id };
    // React to every message that has an image: each gets a new version referring to the same image;
    // the first reaction is an org custom emoji, a hosted content of its own.
    const withImages = new Set(h.emulator.hostedContents().map((c) => `${c.conversationId}|${c.messageId}`));
    let reacted = 0;
    for (const v of h.emulator.tenant.currentVersions(entity)) {
      const m = v.message as { id: string; chatId: string; deletedDateTime?: string | null };
      if (withImages.has(`${m.chatId}|${m.id}`) && !m.deletedDateTime) {
        h.emulator.tenant.addReaction(m.chatId, m.id, user.id, reacted === 0 ? 'custom' : '👀', now + MINUTE + reacted);
        reacted++;
      }
    }
    expect(reacted).toBeGreaterThan(0);
    const outcome = await h.daily(now + HOUR);
    expect(outcome.status).toBe('succeeded');
    expect(outcome.progress.messages).toBeGreaterThanOrEqual(reacted);
    // Only the custom emoji is new content: it alone is fetched.
    const added = [...(await referencedHostedContents()).keys()].filter((id) => !knownBefore.has(id));
    expect(added).toHaveLength(1);
    expect(h.emulator.counters.hostedContentRequests - before).toBe(added.length);
    const report = await verifyArchive(h.deps.container);
    expect(report.problems.filter((p) => p.kind !== 'no-checksum')).toEqual([]);
  });
});

describe('deleted and retained content, deleted teams', () => {
  // A harness per test: the second one moves the data clock weeks ahead.
  let dataNow = Date.now();
  let h: Harness;
  beforeEach(async () => {
    dataNow = Date.now();
    h = await startHarness({
      label: 'retained-e2e',
      clock: () => dataNow,
      tenant: {
        seed: 31,
        users: 5,
        teams: 2,
        historyDays: 60,
        endMs: dataNow - 2 * HOUR,
        retentionPolicy: true,
        deletedTeams: 1,
        editFraction: 0.2,
        deleteFraction: 0.1,
      },
      env: { EXPORT_RETAINED: 'true' },
    });
  });
  afterEach(() => h?.close());

  it('exports retained versions into retained/ exactly once, and a deleted team into its team folder', async () => {
    const outcome = await h.daily(dataNow);
    expect(outcome.status, outcome.error).toBe('succeeded');
    let retainedTotal = 0;
    for (const u of h.emulator.tenant.users.filter((x) => x.hasTeamsData)) {
      const entity: Entity = { kind: 'userRetained', id: u.id };
      const archived = await h.archivedKeys(entity);
      const expected = h.emulator.tenant.retainedVersions({ kind: 'user', id: u.id }, { fromMs: 0, toMs: dataNow - LAG }).map((v) => v.key);
      expect(duplicatesIn(archived)).toEqual([]);
      expect([...archived].sort()).toEqual([...expected].sort());
      retainedTotal += archived.length;
    }
    expect(retainedTotal).toBeGreaterThan(0);

    const deleted = h.emulator.tenant.deletedTeams[0]!;
    const team: Entity = { kind: 'deletedTeam', id: deleted.id };
    const archived = await h.archivedKeys(team);
    expect(archived.length).toBeGreaterThan(0);
    expect([...archived].sort()).toEqual(
      h.emulator.tenant
        .currentVersions(team, { fromMs: 0, toMs: dataNow - LAG })
        .map((v) => v.key)
        .sort(),
    );
    expect((await h.deps.checkpoints.get(team))?.freshWatermarkMs).toBe(dataNow - LAG);
  });

  it('keeps a deleted message as its own version after Graph stops serving it (21 days)', async () => {
    const user = h.emulator.tenant.users.find((u) => u.hasTeamsData)!;
    const entity: Entity = { kind: 'user', id: user.id };
    const live = h.emulator.tenant.currentVersions(entity).find((v) => !(v.message as { deletedDateTime?: unknown }).deletedDateTime)!;
    const m = live.message as { id: string; chatId: string };
    h.emulator.tenant.deleteMessage(m.chatId, m.id, dataNow + MINUTE);
    dataNow += HOUR;
    await h.daily(dataNow);
    const deletedVersion = (await h.archivedMessages(entity)).filter((x) => x.id === m.id && x.deletedDateTime);
    expect(deletedVersion).toHaveLength(1);
    // Three weeks later Graph no longer serves the deletion; the archive still holds it, once.
    dataNow += 22 * DAY;
    await h.daily(dataNow);
    expect((await h.archivedMessages(entity)).filter((x) => x.id === m.id && x.deletedDateTime)).toHaveLength(1);
  });
});

describe('sender chat mode', () => {
  it('stores the same messages as the custodian mode, each once, with fewer bytes', async () => {
    const now = Date.now();
    const tenant = { seed: 41, users: 8, teams: 0, historyDays: 15, endMs: now - 2 * HOUR, externalSenderFraction: 0.3 };
    const custodian = await startHarness({
      label: 'mode-custodian',
      tenant,
      env: { EXPORT_TEAMS: 'none', EXPORT_HOSTED_CONTENTS: 'false' },
    });
    const sender = await startHarness({
      label: 'mode-sender',
      tenant,
      env: { EXPORT_TEAMS: 'none', EXPORT_HOSTED_CONTENTS: 'false', EXPORT_CHAT_MODE: 'sender' },
    });
    try {
      const a = await custodian.daily(now);
      const b = await sender.daily(now);
      expect(a.status).toBe('succeeded');
      expect(b.status).toBe('succeeded');
      const custodianKeys = await allArchivedKeys(custodian.deps);
      const senderKeys = await allArchivedKeys(sender.deps);
      // Sender mode: each version exactly once in the whole archive.
      expect(duplicatesIn(senderKeys)).toEqual([]);
      expect(new Set(senderKeys)).toEqual(new Set(custodianKeys));
      expect(senderKeys.length).toBeLessThan(custodianKeys.length);
      expect(b.progress.bytes).toBeLessThan(a.progress.bytes);
      // System events keep their real type (the product asks Graph for unknown enum members).
      const types = new Set<unknown>();
      for (const u of custodian.emulator.tenant.users)
        for (const m of await custodian.archivedMessages({ kind: 'user', id: u.id })) types.add(m.messageType);
      expect(types.has('systemEventMessage')).toBe(true);
      expect(types.has('unknownFutureValue')).toBe(false);
      // Outside senders and system events went to the per-chat store.
      let chatBlobs = 0;
      for await (const x of sender.deps.container.listBlobsFlat({ prefix: 'messages/chats/' })) if (x.name) chatBlobs++;
      expect(chatBlobs).toBeGreaterThan(0);
      console.log(
        `sender vs custodian (8 users, 15 days): requests ${sender.deps.http.stats().requests} vs ${custodian.deps.http.stats().requests}, ` +
          `stored versions ${senderKeys.length} vs ${custodianKeys.length}, gzipped bytes ${b.progress.bytes} vs ${a.progress.bytes}`,
      );
    } finally {
      await custodian.close();
      await sender.close();
    }
  });
});
