// Issue 20, defect 2's second trigger: the members of a chat export the same message, and the content
// fetcher shares one download of each reference between their jobs. One job losing its lease (its
// signal fires) must stop only that job's wait: the other job's batch still gets the content, and its
// job succeeds. Real emulator (slow file downloads) and Azurite.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportEntity } from '../../src/export/export-entity';
import type { Entity } from '../../src/model/entity';
import { HOUR } from '../../src/time';
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

  it("one job's abort does not fail the other job's flush: the other job stores the content and succeeds", async () => {
    const chat = h.emulator.tenant.chats[0]!;
    const present = h.emulator.files().filter((f) => f.conversationId === chat.id && f.state === 'present');
    expect(present.length).toBeGreaterThan(0);
    const [a, b] = chat.memberIds.map((id): Entity => ({ kind: 'user', id })) as [Entity, Entity];
    const mode = { kind: 'backfill' as const, window: { fromMs: now - 10 * 24 * HOUR, toMs: now } };
    const lostA = new AbortController();
    const lostB = new AbortController();

    // Job A starts the downloads; job B, the other member, meets the same references while they run.
    const jobA = exportEntity({ runId: 'run-shared', entity: a, mode }, h.deps, lostA.signal);
    await until('job A to start downloading', () => h.emulator.counters.filesInFlight > 0);
    const jobB = exportEntity({ runId: 'run-shared', entity: b, mode }, h.deps, lostB.signal);
    await new Promise((r) => setTimeout(r, 400));
    expect(h.emulator.counters.filesDownloaded).toBe(0); // still in flight: B has joined A's downloads
    lostA.abort(new Error('job A lost its lease'));

    const [resultA, resultB] = await Promise.all([jobA, jobB]);
    expect(resultA.status).toBe('failed');
    expect(resultB.status, resultB.error?.message).toBe('done');
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
  });
});
