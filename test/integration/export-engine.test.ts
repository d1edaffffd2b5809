// The export engine end to end: real HTTPS Graph emulator, real @azure/identity, real Azurite.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunOutcome } from '../../src/export/run-in-process';
import type { Entity } from '../../src/model/entity';
import { DAY, HOUR, MINUTE } from '../../src/time';
import { duplicatesIn, expectedKeys, servedNotArchivedOnce, startHarness, type Harness } from '../support/harness';

const LAG = 5 * MINUTE;
const tenant = { seed: 11, users: 8, teams: 2, historyDays: 40 };

/** Every entity's archive holds exactly the union of what Graph served it, with no duplicates. */
async function expectArchiveComplete(h: Harness, expected: Map<string, Set<string>>) {
  for (const entity of h.entities()) {
    const archived = await h.archivedKeys(entity);
    expect(duplicatesIn(archived), `duplicates for ${entity.kind}:${entity.id}`).toEqual([]);
    const want = [...(expected.get(`${entity.kind}:${entity.id}`) ?? [])].sort();
    expect([...archived].sort(), `archive of ${entity.kind}:${entity.id}`).toEqual(want);
  }
}

/** Adds what Graph serves now for [start, now − lag) to the running expectation. */
function snapshot(h: Harness, nowMs: number, into = new Map<string, Set<string>>()) {
  for (const entity of h.entities()) {
    const user = h.emulator.tenant.users.find((u) => u.id === entity.id);
    if (user && !user.hasTeamsData) continue;
    const key = `${entity.kind}:${entity.id}`;
    const set = into.get(key) ?? new Set<string>();
    for (const k of expectedKeys(h.emulator, entity, { fromMs: 0, toMs: nowMs - LAG })) set.add(k);
    into.set(key, set);
  }
  return into;
}

/** Every version Graph serves each exportable entity is archived, and none twice. */
async function expectEveryServedVersionOnce(h: Harness, now: number) {
  expect(await servedNotArchivedOnce(h, now - LAG)).toEqual([]);
}

describe('daily export', () => {
  // The tests below share one first run (made by whichever test runs first, so any order works); a
  // test that changes the tenant or moves the watermarks further uses a harness of its own.
  let h: Harness;
  let first: Promise<RunOutcome> | undefined;
  const now = Date.now();
  const firstRun = () => (first ??= h.daily(now));
  beforeAll(async () => {
    h = await startHarness({ label: 'engine-daily', tenant: { ...tenant, endMs: now - 2 * HOUR } });
  });
  afterAll(() => h?.close());

  it('a first run archives every version of every entity exactly once and records skipped entities', async () => {
    const outcome = await firstRun();
    expect(outcome.status).toBe('succeeded');
    await expectArchiveComplete(h, snapshot(h, now));
    const noData = h.emulator.tenant.users.filter((u) => !u.hasTeamsData);
    expect(noData.length).toBeGreaterThan(0);
    const skipped = outcome.results.filter((r) => r.status === 'skipped');
    expect(skipped.map((r) => r.entity.id).sort()).toEqual(noData.map((u) => u.id).sort());
    for (const r of skipped) {
      expect(r.error?.status).toBe(404);
      expect(r.error?.code).toBeTruthy();
      expect(r.error?.requestId).toBeTruthy();
    }
    const summary = await h.deps.runs.summarize(outcome.runId);
    expect(summary?.run.status).toBe('succeeded');
    expect(summary?.counts.skipped).toBe(noData.length);
    expect(summary?.counts.done).toBe(h.entities().length - noData.length);
    expect(summary?.counts.messages).toBe(outcome.progress.messages);
  });

  it('advances both watermarks after a first run and leaves skipped entities without watermarks', async () => {
    await firstRun();
    for (const entity of h.entities()) {
      const cp = await h.deps.checkpoints.get(entity);
      const user = h.emulator.tenant.users.find((u) => u.id === entity.id);
      if (user && !user.hasTeamsData) {
        expect(cp?.freshWatermarkMs).toBeUndefined();
        expect(cp?.lastStatus).toBe('skipped');
      } else {
        expect(cp?.freshWatermarkMs).toBe(now - LAG);
        expect(cp?.settledWatermarkMs).toBe(now - DAY);
      }
    }
  });

  it('re-running at the same instant adds nothing', async () => {
    await firstRun();
    const before = await blobCount(h);
    const again = await h.daily(now);
    expect(again.status).toBe('succeeded');
    expect(again.progress.messages).toBe(0);
    expect(await blobCount(h)).toBe(before);
  });

  it('edits, deletions and reactions between runs become new versions, with no duplicates', async () => {
    const h = await startHarness({ label: 'engine-edits', tenant: { ...tenant, endMs: now - 2 * HOUR } });
    try {
      expect((await h.daily(now)).status).toBe('succeeded');
      const expected = snapshot(h, now);
      const user = h.emulator.tenant.users.find((u) => u.hasTeamsData)!;
      const entity: Entity = { kind: 'user', id: user.id };
      const versions = h.emulator.tenant.currentVersions(entity, { fromMs: 0, toMs: now });
      const live = versions
        .map((v) => v.message as { id: string; chatId: string; deletedDateTime?: string | null })
        .filter((m) => !m.deletedDateTime);
      const [a, b, c] = live;
      const t = now + MINUTE;
      h.emulator.tenant.editMessage(a!.chatId, a!.id, 'edited ✏️ نص عربي', t);
      h.emulator.tenant.deleteMessage(b!.chatId, b!.id, t + 1);
      h.emulator.tenant.addReaction(c!.chatId, c!.id, user.id, '💯', t + 2);
      const later = now + HOUR;
      const outcome = await h.daily(later);
      expect(outcome.status).toBe('succeeded');
      // Each change reaches the user's archive as one new version (and every other member's too).
      expect(outcome.progress.messages).toBeGreaterThanOrEqual(3);
      snapshot(h, later, expected);
      await expectArchiveComplete(h, expected);
      const mine = await h.archivedMessages(entity);
      const deleted = mine.filter((m) => m.id === b!.id && m.deletedDateTime);
      expect(deleted).toHaveLength(1);
      expect((deleted[0]!.body as { content: unknown }).content).toBeNull();
      const original = mine.filter((m) => m.id === a!.id);
      expect(original.length).toBe(2); // the original version and the edit, both kept
    } finally {
      await h.close();
    }
  });

  it('keeps every property exactly as Graph returned it, unknown ones included', async () => {
    await firstRun();
    const user = h.emulator.tenant.users.find((u) => u.hasTeamsData)!;
    const entity: Entity = { kind: 'user', id: user.id };
    const archived = await h.archivedMessages(entity);
    // The product asks for real enum members (Prefer: include-unknown-enum-members), so compare with that rendering.
    const byKey = new Map(
      h.emulator.tenant.currentVersions(entity, undefined, { includeUnknownEnumMembers: true }).map((v) => [v.key, v.message]),
    );
    let compared = 0;
    for (const m of archived) {
      const key = `${m.chatId}|${m.id}|${Date.parse(String(m.lastModifiedDateTime))}|${m.etag ?? ''}`;
      const served = byKey.get(key);
      if (served) {
        expect(m).toEqual(JSON.parse(JSON.stringify(served)));
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(5);
  });
});

async function blobCount(h: Harness): Promise<number> {
  let n = 0;
  for await (const b of h.deps.container.listBlobsFlat({ prefix: 'messages/' })) if (b.name) n++;
  return n;
}

describe('parallel sub-window reads (EXPORT_READS_PER_ENTITY)', () => {
  it('read a chunk as several windows at once and still archive every version exactly once', async () => {
    const now = Date.now();
    const h = await startHarness({
      label: 'engine-parallel',
      tenant: { ...tenant, users: 4, teams: 2, historyDays: 60, endMs: now - 2 * HOUR },
      env: { EXPORT_READS_PER_ENTITY: '6', GRAPH_PAGE_SIZE: '4', EXPORT_CHUNK: 'P30D' },
      faults: { emptyPageRate: 0.1, outOfWindowRate: 0.1 },
    });
    try {
      const outcome = await h.daily(now);
      expect(outcome.status).toBe('succeeded');
      await expectEveryServedVersionOnce(h, now);
    } finally {
      await h.close();
    }
  });
});

describe('window boundaries', () => {
  // A harness per test: the first test adds messages to the tenant.
  let h: Harness;
  const now = Date.now();
  beforeEach(async () => {
    h = await startHarness({ label: 'engine-bounds', tenant: { ...tenant, users: 4, teams: 1, historyDays: 10, endMs: now - 2 * HOUR } });
  });
  afterEach(() => h?.close());

  it('a version stamped exactly at the watermark, and several in one millisecond, are exported exactly once', async () => {
    const user = h.emulator.tenant.users.find((u) => u.hasTeamsData)!;
    const chat = h.emulator.tenant.chats.find((c) => c.memberIds.includes(user.id))!;
    const boundary = now - LAG; // the first run's fresh window ends here (exclusive)
    const atBoundary = h.emulator.tenant.postMessage({ chatId: chat.id }, { fromUserId: user.id, text: 'at the bound', atMs: boundary });
    const justBefore = h.emulator.tenant.postMessage({ chatId: chat.id }, { fromUserId: user.id, text: 'just before', atMs: boundary - 1 });
    const sameMs = [1, 2, 3].map((i) =>
      h.emulator.tenant.postMessage({ chatId: chat.id }, { fromUserId: user.id, text: `same ms ${i}`, atMs: boundary - 1000 }),
    );

    const first = await h.daily(now);
    expect(first.status).toBe('succeeded');
    const entity: Entity = { kind: 'user', id: user.id };
    let ids = (await h.archivedMessages(entity)).map((m) => m.id);
    expect(ids).toContain(justBefore);
    for (const id of sameMs) expect(ids).toContain(id);
    expect(ids).not.toContain(atBoundary);

    const second = await h.daily(now + 10 * MINUTE);
    expect(second.status).toBe('succeeded');
    ids = (await h.archivedMessages(entity)).map((m) => m.id);
    expect(ids.filter((id) => id === atBoundary)).toHaveLength(1);
    expect(ids.filter((id) => id === justBefore)).toHaveLength(1);
    expect(duplicatesIn(await h.archivedKeys(entity))).toEqual([]);
  });

  it('a backfill over archived days adds nothing and never moves the daily watermarks', async () => {
    expect((await h.daily(now)).status).toBe('succeeded');
    const before = new Map<string, number | undefined>();
    for (const e of h.entities()) before.set(e.id, (await h.deps.checkpoints.get(e))?.freshWatermarkMs);
    const outcome = await h.backfill({ fromMs: now - 20 * DAY, toMs: now - LAG });
    expect(outcome.status).toBe('succeeded');
    expect(outcome.progress.messages).toBe(0);
    expect(outcome.progress.duplicates).toBeGreaterThan(0);
    for (const e of h.entities()) expect((await h.deps.checkpoints.get(e))?.freshWatermarkMs).toBe(before.get(e.id));
  });
});

describe('late visibility', () => {
  it('versions that appear in Graph late are caught by the settle pass', async () => {
    let dataNow = Date.now();
    const h = await startHarness({
      label: 'engine-late',
      tenant: { ...tenant, users: 4, teams: 1, historyDays: 5, endMs: dataNow - 3 * HOUR },
      clock: () => dataNow,
    });
    try {
      const user = h.emulator.tenant.users.find((u) => u.hasTeamsData)!;
      const chat = h.emulator.tenant.chats.find((c) => c.memberIds.includes(user.id))!;
      h.emulator.setFaults({ lateVisibility: { fraction: 1, maxDelayMs: 6 * HOUR } });
      const t0 = dataNow;
      // Six messages just inside the first run's fresh window, each indexed up to 6 h late (a
      // deterministic delay per version): all but a vanishing fraction are still hidden at t0.
      const lateIds = Array.from({ length: 6 }, (_, i) =>
        h.emulator.tenant.postMessage({ chatId: chat.id }, { fromUserId: user.id, text: `indexed late ${i}`, atMs: t0 - 10 * MINUTE + i }),
      );
      await h.daily(t0);
      const entity: Entity = { kind: 'user', id: user.id };
      // Twelve hours later they are all visible, but the fresh pass has moved on and does not read them again.
      dataNow = t0 + 12 * HOUR;
      await h.daily(dataNow);
      const afterFresh = new Set((await h.archivedMessages(entity)).map((m) => m.id));
      expect(
        lateIds.some((id) => !afterFresh.has(id)),
        'some late version was missed by the fresh pass',
      ).toBe(true);
      // The settle pass reads the range again once it is older than EXPORT_SETTLE, and catches them all.
      dataNow = t0 + 25 * HOUR;
      await h.daily(dataNow);
      const afterSettle = (await h.archivedMessages(entity)).map((m) => m.id);
      for (const id of lateIds)
        expect(
          afterSettle.filter((x) => x === id),
          id,
        ).toHaveLength(1);
      expect(duplicatesIn(await h.archivedKeys(entity))).toEqual([]);
    } finally {
      await h.close();
    }
  });
});

describe('faults', () => {
  it('throttling, 5xx, resets, empty and short pages: the run completes with nothing lost or duplicated', async () => {
    const now = Date.now();
    const h = await startHarness({
      label: 'engine-faults',
      tenant: { ...tenant, users: 6, teams: 2, historyDays: 20, endMs: now - 2 * HOUR },
      env: { GRAPH_PAGE_SIZE: '7', GRAPH_MAX_RETRIES: '12' },
      faults: { errorRate: 0.08, resetRate: 0.04, emptyPageRate: 0.15, rateLimitRps: 60, retryAfterSec: 0.2, outOfWindowRate: 0.1 },
    });
    try {
      const outcome = await h.daily(now);
      expect(outcome.status, JSON.stringify(outcome.results.filter((r) => r.error).map((r) => r.error))).toBe('succeeded');
      // The faults really happened (how many 429s depends on the machine's speed, so not asserted here;
      // the client's 429 handling has its own tests).
      const f = h.emulator.counters.faults;
      expect(f.error + f.reset).toBeGreaterThan(0);
      expect(f.emptyPage).toBeGreaterThan(0);
      expect(h.deps.http.stats().retries).toBeGreaterThanOrEqual(f.error + f.reset);
      // Out-of-window items are archived too (bucketed by their own day), so compare with a superset check.
      await expectEveryServedVersionOnce(h, now);
    } finally {
      await h.close();
    }
  });

  it('a malformed page fails the entity with a clear error and no checkpoint advance; the next run completes', async () => {
    const now = Date.now();
    const h = await startHarness({
      label: 'engine-malformed',
      tenant: { ...tenant, users: 3, teams: 1, historyDays: 5, endMs: now - 2 * HOUR },
      env: { GRAPH_MAX_RETRIES: '1', EXPORT_USERS: 'none' },
    });
    try {
      // Planning must succeed; then every export page comes back garbled.
      const bad = await h.daily(now, { onProgress: (p) => p.planned > 0 && h.emulator.setFaults({ malformedRate: 1 }) });
      expect(bad.status).toBe('failed');
      const team: Entity = { kind: 'team', id: h.emulator.tenant.teams[0]!.id };
      const failed = bad.results.find((r) => r.entity.id === team.id)!;
      expect(failed.status).toBe('failed');
      expect(failed.error?.message).toBeTruthy();
      expect((await h.deps.checkpoints.get(team))?.freshWatermarkMs).toBeUndefined();
      h.emulator.setFaults({ malformedRate: 0 });
      const good = await h.daily(now);
      expect(good.status).toBe('succeeded');
      const archived = await h.archivedKeys(team);
      expect(duplicatesIn(archived)).toEqual([]);
      expect(archived.sort()).toEqual(expectedKeys(h.emulator, team, { fromMs: 0, toMs: now - LAG }).sort());
    } finally {
      await h.close();
    }
  });

  it('an abort mid-run leaves no checkpoint beyond committed chunks and the rerun loses nothing', async () => {
    const now = Date.now();
    const h = await startHarness({
      label: 'engine-abort',
      tenant: { ...tenant, users: 6, teams: 2, historyDays: 200, endMs: now - 2 * HOUR },
      env: { GRAPH_PAGE_SIZE: '5', EXPORT_CHUNK: 'P20D' },
      faults: { latencyMs: 5 },
    });
    try {
      const controller = new AbortController();
      let pages = 0;
      const aborted = await h.daily(now, {
        signal: controller.signal,
        onProgress: (p) => {
          pages = p.pages;
          if (pages >= 25) controller.abort();
        },
      });
      expect(aborted.status).toBe('failed');
      for (const e of h.entities()) {
        const cp = await h.deps.checkpoints.get(e);
        // Whatever moved, moved only to a chunk end (never past the run's windows).
        if (cp?.freshWatermarkMs !== undefined) expect(cp.freshWatermarkMs).toBeLessThanOrEqual(now - LAG);
      }
      const rerun = await h.daily(now);
      expect(rerun.status).toBe('succeeded');
      await expectArchiveComplete(h, snapshot(h, now));
    } finally {
      await h.close();
    }
  });

  it('tokens that expire during the run are renewed and the run completes', async () => {
    const now = Date.now();
    const h = await startHarness({
      label: 'engine-token',
      tenant: { ...tenant, users: 4, teams: 1, historyDays: 30, endMs: now - 2 * HOUR },
      tokenLifetimeSec: 2,
      env: { GRAPH_PAGE_SIZE: '5', EXPORT_CONCURRENCY: '2' },
      faults: { latencyMs: 20 },
    });
    try {
      const outcome = await h.daily(now);
      expect(outcome.status).toBe('succeeded');
      expect(h.emulator.counters.tokensIssued).toBeGreaterThan(1);
      await expectArchiveComplete(h, snapshot(h, now));
    } finally {
      await h.close();
    }
  });

  it('a nextLink to a foreign origin fails the entity and the token never leaves the Graph origin', async () => {
    const now = Date.now();
    const { startHttpsTestServer } = await import('../support/https-test-server');
    const foreign = await startHttpsTestServer();
    const h = await startHarness({
      label: 'engine-foreign',
      tenant: { ...tenant, users: 2, teams: 1, historyDays: 10, endMs: now - 2 * HOUR },
      env: { GRAPH_PAGE_SIZE: '2', EXPORT_USERS: 'none' },
    });
    try {
      h.emulator.setFaults({ nextLinkOrigin: foreign.origin });
      const outcome = await h.daily(now);
      expect(outcome.status).toBe('failed');
      expect(foreign.requests).toHaveLength(0);
      const team: Entity = { kind: 'team', id: h.emulator.tenant.teams[0]!.id };
      const result = outcome.results.find((r) => r.entity.id === team.id)!;
      expect(result.status).toBe('failed');
      expect(result.error?.message).toMatch(/refusing to send the Graph token/);
      // Chunks that fit in one page may have completed; the chunk with the foreign link did not.
      expect((await h.deps.checkpoints.get(team))?.freshWatermarkMs ?? 0).toBeLessThan(now - LAG);
    } finally {
      await h.close();
      await foreign.close();
    }
  });
});
