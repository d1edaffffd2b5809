// Copilot interactions and meeting transcripts/recordings (issue 23, docs/design.md §18) exported by whole
// runs against the emulator: every interaction, transcript and recording archived exactly once across reruns
// and a backfill, watermarks forward only, bodies stored byte-identical through the content maps (a recording
// larger than the in-memory limit included), unlicensed users skipped with a reason, and a refusal of one
// kind failing the run loudly while the other kinds export.
import { describe, expect, it } from 'vitest';
import { listBatches, readBatchLines, readBlobBytes } from '../../src/archive/batch-reader';
import { contentBlobName, contentMapName, entityPrefix } from '../../src/archive/blob-layout';
import type { ContentMapEntry } from '../../src/archive/content-store';
import { itemKeyFromLine } from '../../src/graph/artifact-schema';
import type { Entity } from '../../src/model/entity';
import { HOUR } from '../../src/time';
import { duplicatesIn, startHarness, type Harness } from '../support/harness';
import { createHash } from 'node:crypto';

// One deleted user (two days ago, a licensed Copilot user first): still served, so still exported.
const TENANT = { users: 5, teams: 1, historyDays: 8, meetingChats: 3, meetingOccurrences: 2, copilotSessionsPerUser: 2, deletedUsers: 1 };
const ON = { EXPORT_COPILOT: 'true', EXPORT_MEETINGS: 'true', GRAPH_COPILOT_RPS: '1000', GRAPH_MEETING_RPS: '1000' };

async function archived(h: Harness, entity: Entity): Promise<{ keys: string[]; maps: ContentMapEntry[] }> {
  const keys: string[] = [];
  const maps: ContentMapEntry[] = [];
  for await (const b of listBatches(h.deps.container, entityPrefix(entity))) {
    for await (const line of readBatchLines(h.deps.container, b.name))
      keys.push(itemKeyFromLine(entity.kind, line) ?? `unparseable:${line}`);
    const map = await readBlobBytes(h.deps.container, contentMapName(b.name));
    if (map) maps.push(...(JSON.parse(map.toString('utf8')) as { entries: ContentMapEntry[] }).entries);
  }
  return { keys, maps };
}

function copilotKeys(h: Harness, userId: string): string[] {
  return h.emulator
    .copilotInteractions()
    .filter((i) => i.userId === userId)
    .map((i) => `${i.sessionId}|${i.id}|${i.createdMs}|${i.etag}`);
}

function meetingKeys(h: Harness, organizerId: string): string[] {
  return h.emulator
    .meetingArtifacts()
    .filter((a) => a.organizerId === organizerId)
    .map((a) => `${a.meetingId}|${a.id}|${a.createdMs}|${a.kind}`);
}

async function blobSha(h: Harness, sha256: string): Promise<string | undefined> {
  const bytes = await readBlobBytes(h.deps.container, contentBlobName(sha256));
  return bytes && createHash('sha256').update(bytes).digest('hex');
}

/** Every kind archived exactly what the emulator serves, each once; every body stored byte-identical. */
async function expectComplete(h: Harness): Promise<{ interactions: number; artifacts: number }> {
  let interactions = 0;
  let artifacts = 0;
  const licensed = new Set(
    h.emulator
      .copilotInteractions()
      .filter((i) => i.licensed)
      .map((i) => i.userId),
  );
  for (const u of h.emulator.tenant.users) {
    const copilot = await archived(h, { kind: 'copilot', id: u.id });
    expect(duplicatesIn(copilot.keys), `copilot duplicates of ${u.id}`).toEqual([]);
    expect([...copilot.keys].sort()).toEqual(licensed.has(u.id) ? copilotKeys(h, u.id).sort() : []);
    interactions += copilot.keys.length;
    const meetings = await archived(h, { kind: 'meetings', id: u.id });
    expect(duplicatesIn(meetings.keys), `meeting duplicates of ${u.id}`).toEqual([]);
    expect([...meetings.keys].sort()).toEqual(meetingKeys(h, u.id).sort());
    artifacts += meetings.keys.length;
    for (const a of h.emulator.meetingArtifacts().filter((x) => x.organizerId === u.id)) {
      const content = meetings.maps.filter((e) => e.messageId === a.id && (e.kind === 'transcript' || e.kind === 'recording'));
      expect(content, `content entry of ${a.kind} ${a.id}`).toHaveLength(1);
      expect(content[0]).toMatchObject({ status: 'stored', sha256: a.sha256, bytes: a.size });
      expect(await blobSha(h, a.sha256)).toBe(a.sha256);
      if (a.kind === 'transcript') {
        const meta = meetings.maps.find((e) => e.messageId === a.id && e.kind === 'transcriptMetadata');
        expect(meta?.status).toBe('stored');
      }
    }
  }
  return { interactions, artifacts };
}

describe('Copilot interactions and meeting artifacts in daily runs and backfills', () => {
  it('archives every interaction, transcript and recording exactly once across reruns and a backfill, bodies byte-identical', async () => {
    const now = Date.now();
    const h = await startHarness({
      label: 'copilot-meetings',
      tenant: { seed: 23, ...TENANT, endMs: now - 2 * HOUR },
      // A recording larger than the spool's 1 MiB in memory: uploaded in blocks from a spool file.
      faults: { copilotRps: null, largeRecordingBytes: 3 * 1024 * 1024 + 17 },
      env: ON,
    });
    try {
      const first = await h.daily(now);
      expect(first.status, first.error).toBe('succeeded');
      const firstCounts = await expectComplete(h);
      // The deleted user (a licensed Copilot user) is exported like the others while Graph serves them.
      const deleted = h.emulator.tenant.users.filter((u) => u.deletedMs !== undefined);
      expect(deleted).toHaveLength(1);
      expect((await archived(h, { kind: 'copilot', id: deleted[0]!.id })).keys.length).toBeGreaterThan(0);
      expect(firstCounts.interactions).toBeGreaterThan(0);
      expect(firstCounts.artifacts).toBeGreaterThan(0);
      const large = h.emulator.meetingArtifacts().find((a) => a.kind === 'recording' && a.bytes === null);
      expect(large?.size).toBe(3 * 1024 * 1024 + 17);
      // Unlicensed users are skipped with the reason, not failed.
      const unlicensed = new Set(
        h.emulator
          .copilotInteractions()
          .filter((i) => !i.licensed)
          .map((i) => i.userId),
      );
      const skipped = first.results.filter((r) => r.entity.kind === 'copilot' && r.status === 'skipped');
      expect(skipped.length).toBeGreaterThan(0);
      for (const r of skipped) expect(r.error?.reason).toBe('no-copilot-licence');
      for (const id of unlicensed) expect(skipped.map((r) => r.entity.id)).toContain(id);
      const report = (await h.deps.runs.getRun(first.runId))!;
      expect(report.status).toBe('succeeded');

      const marks = new Map<string, number | undefined>();
      for (const u of h.emulator.tenant.users)
        for (const kind of ['copilot', 'meetings'] as const)
          marks.set(`${kind}:${u.id}`, (await h.deps.checkpoints.get({ kind, id: u.id }))?.freshWatermarkMs);
      expect([...marks.values()].filter((m) => m !== undefined).length).toBeGreaterThan(0);

      // A later day and a backfill over everything: nothing twice, watermarks never back.
      const second = await h.daily(now + HOUR);
      expect(second.status, second.error).toBe('succeeded');
      const back = await h.backfill({ fromMs: now - 30 * 24 * HOUR, toMs: now });
      expect(back.status, back.error).toBe('succeeded');
      expect(await expectComplete(h)).toEqual(firstCounts);
      for (const [label, before] of marks) {
        const [kind, id] = label.split(':') as ['copilot' | 'meetings', string];
        const after = (await h.deps.checkpoints.get({ kind, id }))?.freshWatermarkMs;
        if (before !== undefined) expect(after!).toBeGreaterThanOrEqual(before);
      }
    } finally {
      await h.close();
    }
  });

  it("each kind's requests keep to its own budget: Graph's Copilot and meeting limits are never hit", async () => {
    const now = Date.now();
    const h = await startHarness({
      label: 'artifact-budgets',
      tenant: { seed: 41, ...TENANT, users: 12, endMs: now - 2 * HOUR },
      // Graph's own limits, tighter than the process's 500/s: only the kinds' budgets keep under them.
      faults: { copilotRps: 10, copilotBurst: 10, meetingRps: 20, meetingBurst: 20 },
      env: { ...ON, GRAPH_COPILOT_RPS: '8', GRAPH_MEETING_RPS: '16', EXPORT_CONCURRENCY: '12' },
    });
    try {
      const run = await h.daily(now);
      expect(run.status, run.error).toBe('succeeded');
      expect(h.emulator.counters.copilotRequests).toBeGreaterThan(10);
      expect(h.emulator.counters.meetingRequests).toBeGreaterThan(20);
      expect({ copilot: h.emulator.counters.copilotThrottled, meetings: h.emulator.counters.meetingThrottled }).toEqual({
        copilot: 0,
        meetings: 0,
      });
      await expectComplete(h);
    } finally {
      await h.close();
    }
  });

  it('a recording over EXPORT_RECORDING_MAX_BYTES is recorded too-large, the rest of its meeting stored', async () => {
    const now = Date.now();
    const h = await startHarness({
      label: 'recording-cap',
      tenant: { seed: 37, ...TENANT, endMs: now - 2 * HOUR },
      faults: { copilotRps: null, largeRecordingBytes: 3 * 1024 * 1024 },
      env: { ...ON, EXPORT_COPILOT: 'false', EXPORT_RECORDING_MAX_BYTES: String(2 * 1024 * 1024) },
    });
    try {
      const run = await h.daily(now);
      expect(run.status, run.error).toBe('succeeded');
      const large = h.emulator.meetingArtifacts().find((a) => a.kind === 'recording' && a.bytes === null)!;
      const { maps } = await archived(h, { kind: 'meetings', id: large.organizerId });
      const entry = maps.find((e) => e.messageId === large.id && e.kind === 'recording');
      expect(entry).toMatchObject({ status: 'too-large' });
      expect(await readBlobBytes(h.deps.container, contentBlobName(large.sha256))).toBeUndefined();
      const others = maps.filter((e) => e.messageId !== large.id);
      expect(others.length).toBeGreaterThan(0);
      for (const e of others) expect(e.status).toBe('stored');
      const report = (await h.deps.runs.getRun(run.runId))!;
      expect(report.status).toBe('succeeded');
    } finally {
      await h.close();
    }
  });

  it('a refused kind fails the run naming what to grant; the other kinds still export', async () => {
    const now = Date.now();
    const h = await startHarness({
      label: 'meetings-refused',
      tenant: { seed: 29, ...TENANT, endMs: now - 2 * HOUR },
      faults: { copilotRps: null, transcriptApiAccess: false },
      env: ON,
    });
    try {
      const run = await h.daily(now);
      expect(run.status).toBe('failed');
      expect(run.error).toMatch(/^Graph refused meeting transcripts and recordings: .*GraphAccessToTranscriptsDisabled/);
      const meetings = run.results.filter((r) => r.entity.kind === 'meetings');
      expect(meetings.length).toBeGreaterThan(0);
      for (const r of meetings) expect(r.status).not.toBe('done');
      // Copilot interactions and messages exported all the same.
      const licensed = new Set(
        h.emulator
          .copilotInteractions()
          .filter((i) => i.licensed)
          .map((i) => i.userId),
      );
      for (const id of licensed) {
        expect(run.results.find((r) => r.entity.kind === 'copilot' && r.entity.id === id)?.status).toBe('done');
        expect((await archived(h, { kind: 'copilot', id })).keys.sort()).toEqual(copilotKeys(h, id).sort());
      }
      expect(run.results.filter((r) => r.entity.kind === 'user' && r.status === 'failed')).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it('a missing Copilot role is refused by name; meetings and messages export', async () => {
    const now = Date.now();
    const h = await startHarness({
      label: 'copilot-refused',
      tenant: { seed: 31, ...TENANT, endMs: now - 2 * HOUR },
      faults: { copilotRps: null, missingRoles: ['AiEnterpriseInteraction.Read.All'] },
      env: ON,
    });
    try {
      const run = await h.daily(now);
      expect(run.status).toBe('failed');
      expect(run.error).toMatch(
        /^Graph refused users' Copilot interactions: the app lacks the Graph application permission AiEnterpriseInteraction\.Read\.All/,
      );
      for (const r of run.results.filter((x) => x.entity.kind === 'meetings')) expect(r.status).toBe('done');
      for (const u of h.emulator.tenant.users) {
        expect((await archived(h, { kind: 'meetings', id: u.id })).keys.sort()).toEqual(meetingKeys(h, u.id).sort());
      }
    } finally {
      await h.close();
    }
  });
});
