// Issue 20, defect 2's second trigger: the members of a chat export the same message, and the content
// fetcher shares one download of each reference between the batches that want it. One content worker
// stopping (its signal fires) must stop only its own wait: the other member's batch still gets the
// content. Real emulator (slow file downloads) and Azurite.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContentPool } from '../../src/export/content-pool';
import { exportEntity } from '../../src/export/export-entity';
import type { Entity } from '../../src/model/entity';
import { HOUR } from '../../src/time';
import { collectingHandoff, contentStageDeps } from '../support/content-stage';
import { startHarness, type Harness } from '../support/harness';

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('a download shared by two jobs', () => {
  let h: Harness;
  const now = Date.now();
  beforeAll(async () => {
    h = await startHarness({
      label: 'shared-download',
      tenant: {
        seed: 5,
        users: 2,
        teams: 0,
        oneOnOneChats: 1,
        groupChats: 0,
        meetingChats: 0,
        messagesPerChat: 6,
        historyDays: 2,
        endMs: now - 2 * HOUR,
        fileFraction: 1,
      },
      // Each present file takes about 2 s to download: 32 chunks of 64 KiB, 60 ms apart.
      faults: { fileBytes: 2 * 1024 * 1024, fileChunkDelayMs: 60 },
      env: { EXPORT_ATTACHMENTS: 'true', EXPORT_HOSTED_CONTENTS: 'false' },
    });
  });
  afterAll(() => h?.close());

  it("one batch's stop does not fail the other's: the other batch stores the content", async () => {
    const chat = h.emulator.tenant.chats[0]!;
    const present = h.emulator.files().filter((f) => f.conversationId === chat.id && f.state === 'present');
    expect(present.length).toBeGreaterThan(0);
    const [a, b] = chat.memberIds.map((id): Entity => ({ kind: 'user', id })) as [Entity, Entity];
    const mode = { kind: 'backfill' as const, window: { fromMs: now - 10 * 24 * HOUR, toMs: now } };
    const lostA = new AbortController();
    const backlog = h.deps.contentBacklog!;
    // Each member's job archives the chat and hands its batches to a content pool of its own (docs/design.md §17).
    const poolA = new ContentPool(contentStageDeps(h.deps), lostA.signal);
    const poolB = new ContentPool(contentStageDeps(h.deps));
    const handedA = collectingHandoff(backlog);
    const handedB = collectingHandoff(backlog);
    const [resultA, resultB] = await Promise.all([
      exportEntity({ runId: 'run-shared', entity: a, mode }, { ...h.deps, contentStage: handedA }),
      exportEntity({ runId: 'run-shared', entity: b, mode }, { ...h.deps, contentStage: handedB }),
    ]);
    expect(resultA.status).toBe('done');
    expect(resultB.status).toBe('done');

    // A starts the downloads; B, the other member's batch, meets the same references while they run.
    expect(handedA.batches.length).toBeGreaterThan(0);
    for (const batch of handedA.batches) await poolA.dispatch(batch);
    await until('pool A to start downloading', () => h.emulator.counters.filesInFlight > 0);
    for (const batch of handedB.batches) await poolB.dispatch(batch);
    await new Promise((r) => setTimeout(r, 400));
    expect(h.emulator.counters.filesDownloaded).toBe(0); // still in flight: B has joined A's downloads
    lostA.abort(new Error('pool A stopped'));
    await Promise.all([poolA.drain(), poolB.drain()]);

    // B's batch maps every present file as stored, none as failed or unreadable.
    const entries: Array<{ ref: string; status: string; reason?: string }> = [];
    for await (const blob of h.deps.container.listBlobsFlat({ prefix: `messages/users/${b.id}/` })) {
      if (!blob.name.endsWith('.content.json')) continue;
      const map = JSON.parse((await h.deps.container.getBlobClient(blob.name).downloadToBuffer()).toString('utf8')) as {
        entries: typeof entries;
      };
      entries.push(...map.entries);
    }
    const presentUrls = new Set(present.map((f) => f.contentUrl));
    const presentEntries = entries.filter((e) => presentUrls.has(e.ref));
    expect(presentEntries.length).toBeGreaterThan(0);
    for (const e of presentEntries) expect(e).toMatchObject({ status: 'stored' });
    expect(entries.filter((e) => e.status === 'failed' || e.status === 'unreadable')).toEqual([]);
    // A's stop lost nothing: each of its batches is settled (those it finished before the stop) or still
    // pending for a later run, never neither.
    for (const batch of handedA.batches) {
      const settled = await h.deps.container.getBlobClient(batch.replace(/\.jsonl\.gz$/, '.content.json')).exists();
      expect(settled || (await backlog.get(batch)) !== undefined, batch).toBe(true);
    }
  });
});
