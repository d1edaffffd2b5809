// The content stage (issue 22 item 1, docs/design.md §17): the export writes its batches and hands
// their content over without waiting for a single download; the stage settles each batch's content
// map once, when every reference is final; references that fail in a way worth retrying wait for a
// later attempt (with backoff) and are recorded as failed only after the last one. Real export path:
// the emulator over HTTPS and Azurite.
import { afterEach, describe, expect, it } from 'vitest';
import { readBlobBytes } from '../../src/archive/batch-reader';
import { contentMapName } from '../../src/archive/blob-layout';
import { ContentPool } from '../../src/export/content-pool';
import { exportEntity } from '../../src/export/export-entity';
import type { Entity } from '../../src/model/entity';
import { HOUR } from '../../src/time';
import { collectingHandoff, contentStageDeps } from '../support/content-stage';
import { startHarness, type Harness } from '../support/harness';

interface MapEntry {
  kind: string;
  status: string;
  reason?: string;
}

async function mapOf(h: Harness, batch: string): Promise<MapEntry[] | undefined> {
  const bytes = await readBlobBytes(h.deps.container, contentMapName(batch));
  return bytes ? (JSON.parse(bytes.toString('utf8')) as { entries: MapEntry[] }).entries : undefined;
}

const now = Date.now();
const mode = { kind: 'backfill' as const, window: { fromMs: now - 10 * 24 * HOUR, toMs: now } };

/** A user whose chats hold inline images, and the harness. */
async function harness(label: string, env: Record<string, string> = {}): Promise<{ h: Harness; user: Entity }> {
  const h = await startHarness({
    label,
    tenant: { seed: 12, users: 3, teams: 0, historyDays: 4, endMs: now - 2 * HOUR, hostedContentFraction: 0.4 },
    env: { EXPORT_TEAMS: 'none', ...env },
  });
  const withImages = new Set(h.emulator.hostedContents().map((c) => c.conversationId));
  const chat = h.emulator.tenant.chats.find((c) => withImages.has(c.id));
  if (!chat) throw new Error('the tenant has no chat with inline images');
  return { h, user: { kind: 'user', id: chat.memberIds[0]! } };
}

describe('the content stage', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('the export writes its batches and hands their content over without a single download; the stage then settles every map once', async () => {
    const t = await harness('content-stage-handoff');
    h = t.h;
    const backlog = h.deps.contentBacklog!;
    const handed = collectingHandoff(backlog);
    const before = h.emulator.counters.hostedContentRequests;
    const result = await exportEntity({ runId: 'run-handoff', entity: t.user, mode }, { ...h.deps, contentStage: handed });
    expect(result.status).toBe('done');
    // Not one hosted-content request while the job ran: the batches did not wait for their images.
    expect(h.emulator.counters.hostedContentRequests - before).toBe(0);
    expect(handed.batches.length).toBeGreaterThan(0);
    for (const batch of handed.batches) {
      // Recorded before the write, still pending, and no map yet.
      expect(await backlog.get(batch)).toMatchObject({ runId: 'run-handoff', attempts: 0 });
      expect(await mapOf(h, batch)).toBeUndefined();
    }
    const pending = await backlog.tally('run-handoff');
    expect(pending.pendingBatches).toBe(handed.batches.length);

    const pool = new ContentPool(contentStageDeps(h.deps));
    for (const batch of handed.batches) await pool.dispatch(batch);
    await pool.drain();
    expect(pool.stats()).toMatchObject({ pending: 0, settled: handed.batches.length, deferred: 0 });
    let stored = 0;
    for (const batch of handed.batches) {
      const entries = await mapOf(h, batch);
      expect(entries, batch).toBeDefined();
      for (const e of entries!.filter((x) => x.kind === 'hostedContent')) expect(e.status).toBe('stored');
      stored += entries!.filter((e) => e.status === 'stored').length;
      expect(await backlog.get(batch)).toBeUndefined();
    }
    expect(h.emulator.counters.hostedContentRequests - before).toBeGreaterThan(0);
    const tally = await backlog.tally('run-handoff');
    expect(tally).toEqual({ statuses: { stored }, pendingBatches: 0, pendingVersions: 0 });
    // Settling again (a repeated message) changes nothing and counts nothing twice.
    const again = new ContentPool(contentStageDeps(h.deps));
    for (const batch of handed.batches) await again.dispatch(batch);
    await again.drain();
    expect(await backlog.tally('run-handoff')).toEqual(tally);
  });

  it('a 5xx leaves the batch pending for a later attempt, with backoff; the attempt after the fault is gone stores everything', async () => {
    const t = await harness('content-stage-retry', { GRAPH_MAX_RETRIES: '0' });
    h = t.h;
    const backlog = h.deps.contentBacklog!;
    const handed = collectingHandoff(backlog);
    expect((await exportEntity({ runId: 'run-retry', entity: t.user, mode }, { ...h.deps, contentStage: handed })).status).toBe('done');
    const t0 = Date.now();
    h.emulator.setFaults({ errorRate: 1 });
    const first = new ContentPool(contentStageDeps(h.deps, { now: () => t0, retryMs: 10 * 60_000 }));
    for (const batch of handed.batches) await first.dispatch(batch);
    await first.drain();
    expect(first.stats().deferred).toBe(handed.batches.length);
    for (const batch of handed.batches) {
      expect(await mapOf(h, batch)).toBeUndefined();
      const row = await backlog.get(batch);
      expect(row).toMatchObject({ attempts: 1, dueMs: t0 + 10 * 60_000 });
      expect(row?.lastReason).toMatch(/reference\(s\) to retry: 5\d\d/);
    }
    // Not due yet: a later run leaves them alone (their run is still open).
    const early = new ContentPool(contentStageDeps(h.deps, { now: () => t0 + 60_000 }));
    expect(await early.takeLeftovers(() => Promise.resolve(true))).toBe(0);

    h.emulator.setFaults({ errorRate: 0 });
    const later = new ContentPool(contentStageDeps(h.deps, { now: () => t0 + 10 * 60_000 }));
    expect(await later.takeLeftovers(() => Promise.resolve(true))).toBe(handed.batches.length);
    await later.drain();
    for (const batch of handed.batches) {
      for (const e of (await mapOf(h, batch))!.filter((x) => x.kind === 'hostedContent')) expect(e.status).toBe('stored');
      expect(await backlog.get(batch)).toBeUndefined();
    }
    expect((await backlog.tally('run-retry')).statuses).not.toHaveProperty('failed');
  });

  it('after the last attempt, references that kept failing are final: the map records them failed, saying so', async () => {
    const t = await harness('content-stage-give-up', { GRAPH_MAX_RETRIES: '0' });
    h = t.h;
    const backlog = h.deps.contentBacklog!;
    const handed = collectingHandoff(backlog);
    expect((await exportEntity({ runId: 'run-give-up', entity: t.user, mode }, { ...h.deps, contentStage: handed })).status).toBe('done');
    h.emulator.setFaults({ errorRate: 1 });
    let clock = Date.now();
    for (let attempt = 1; attempt <= 2; attempt++) {
      const pool = new ContentPool(contentStageDeps(h.deps, { now: () => clock, maxAttempts: 2, retryMs: 60_000 }));
      expect(await pool.takeLeftovers(() => Promise.resolve(false))).toBe(handed.batches.length);
      await pool.drain();
      clock += 10 * 60_000;
    }
    let failed = 0;
    for (const batch of handed.batches) {
      const entries = (await mapOf(h, batch))!;
      for (const e of entries.filter((x) => x.kind === 'hostedContent')) {
        expect(e.status).toBe('failed');
        expect(e.reason).toMatch(/^gave up after 2 attempt\(s\): 5\d\d/);
        failed++;
      }
      expect(await backlog.get(batch)).toBeUndefined();
    }
    expect(failed).toBeGreaterThan(0);
    expect((await backlog.tally('run-give-up')).statuses.failed).toBe(failed);
  });
});
